//! Model and embedding providers over HTTP, against fakes (and, ignored by default, a real
//! model server).

mod embeddings;
mod local_embedder;
mod openai;
mod openai_engine;
mod real_minilm;
mod real_model;

use eng_intel::settings::Llm;

use crate::support::settings;

/// The model names of the primary and the fast tier.
const PRIMARY: &str = "big-model";
const FAST: &str = "small-model";

/// LLM settings for an OpenAI-compatible server at `base_url`, with the tiers above.
fn llm(base_url: &str) -> Llm {
    settings(&[
        ("OPENAI_BASE_URL", base_url),
        ("OPENAI_API_KEY", "test-key"),
        ("FEATHERLESS_MODEL_PRIMARY", PRIMARY),
        ("FEATHERLESS_MODEL_FAST", FAST),
    ])
    .llm
    .expect("LLM settings")
}
