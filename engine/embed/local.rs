//! The local sentence embedder: a BERT sentence-transformer (all-MiniLM-L6-v2, 384
//! dimensions) run on the CPU by candle, so document search understands meaning without
//! any server. It reads a model directory as `eng-intel models fetch` leaves it
//! (`config.json`, `tokenizer.json`, `model.safetensors`) and embeds as
//! sentence-transformers does: mean of the token vectors over the attention mask, scaled
//! to unit length. Texts are cut at 256 tokens (the model was trained on no longer) and
//! padded to the longest of their batch.
//!
//! Inference is CPU-bound and takes milliseconds to seconds, so it runs on tokio's
//! blocking pool, never on the async threads.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{EmbedError, Embedder, InputKind};

/// The longest input in tokens, as the model's `sentence_bert_config.json` says.
pub const MAX_TOKENS: usize = 256;
/// Texts run through the model together; sorted by length first, so a batch pads little.
const BATCH: usize = 16;

pub struct LocalEmbedder {
    bert: Arc<Bert>,
    name: String,
    dims: usize,
}

struct Bert {
    model: BertModel,
    tokenizer: Tokenizer,
}

impl LocalEmbedder {
    /// Loads the model in `dir`, to be known as `name` (the key its vectors are kept under).
    pub fn load(dir: &Path, name: &str) -> Result<LocalEmbedder, EmbedError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            EmbedError::fatal(format!(
                "cannot load the embedding model in {}: {what}: {e}",
                dir.display()
            ))
        };
        let read = |file: &str| std::fs::read(dir.join(file)).map_err(|e| fail(file, &e));
        let config: Config =
            serde_json::from_slice(&read("config.json")?).map_err(|e| fail("config.json", &e))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| fail("tokenizer.json", &e))?;
        // The file pads every text to a fixed length; the longest of a batch is enough.
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..tokenizer.get_padding().cloned().unwrap_or_default()
        };
        tokenizer.with_padding(Some(padding));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| fail("tokenizer.json", &e))?;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| fail("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| fail("model.safetensors", &e))?;
        Ok(LocalEmbedder {
            dims: config.hidden_size,
            bert: Arc::new(Bert { model, tokenizer }),
            name: name.to_string(),
        })
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> Option<usize> {
        Some(self.dims)
    }

    /// MiniLM embeds queries and passages alike.
    async fn embed(&self, texts: &[String], _kind: InputKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let bert = self.bert.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || bert.embed_all(&texts))
            .await
            .map_err(|e| EmbedError::fatal(format!("the embedding task failed: {e}")))?
    }
}

impl Bert {
    /// Every text's unit vector, in input order.
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self
                .embed_batch(&batch)
                .map_err(|e| EmbedError::fatal(format!("the embedding model failed: {e}")))?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
        let rows = |get: fn(&tokenizers::Encoding) -> &[u32]| -> candle_core::Result<Tensor> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(get(e), &Device::Cpu))
                .collect::<candle_core::Result<_>>()?;
            Tensor::stack(&rows, 0)
        };
        let ids = rows(|e| e.get_ids())?;
        let types = rows(|e| e.get_type_ids())?;
        let mask = rows(|e| e.get_attention_mask())?;
        let tokens = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens (mask 1), then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = tokens.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2()?)
    }
}
