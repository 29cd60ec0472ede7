//! A tiny BERT sentence model written by the test: random weights saved as safetensors, a
//! WordPiece `tokenizer.json` over a small vocabulary and a `config.json` — the three
//! files `eng-intel models fetch` leaves, under 1 MB, so the real loading and inference
//! code runs without a download. Its vectors mean nothing; their shape, padding,
//! truncation and pooling are what the tests check.

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use serde_json::{Value, json};

/// Special tokens first, as in BERT's vocabulary; then words and one suffix piece.
const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS: &str = "the a of to and in on is for with when how what who new hire hires \
    onboarding guide team payments ledger runbook outage incident deploy rollback service \
    alert database card money people week first people speed up getting docs about";

/// Writes the model into `dir` with vectors of `width` numbers.
pub fn write(dir: &Path, width: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut vocab: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    for w in WORDS.split_whitespace().chain(["##s", "##ing"]) {
        if !vocab.iter().any(|v| v == w) {
            vocab.push(w.to_string());
        }
    }
    let config = json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab.len(),
        "hidden_size": width,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": width * 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer(&vocab).to_string()).unwrap();
    let parsed: Config = serde_json::from_value(config).unwrap();
    // Loading through a VarMap creates every tensor BERT needs, randomly initialised.
    let weights = VarMap::new();
    BertModel::load(
        VarBuilder::from_varmap(&weights, DType::F32, &Device::Cpu),
        &parsed,
    )
    .unwrap();
    weights.save(dir.join("model.safetensors")).unwrap();
}

/// A BERT WordPiece tokenizer as Hugging Face saves it, with the fixed padding to 128 that
/// the real model's file has (the embedder must pad to the batch's longest instead).
fn tokenizer(vocab: &[String]) -> Value {
    let ids: serde_json::Map<String, Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), json!(i)))
        .collect();
    let added: Vec<Value> = SPECIAL
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": i, "content": t, "special": true, "single_word": false,
                   "lstrip": false, "rstrip": false, "normalized": false})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": {"max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    })
}
