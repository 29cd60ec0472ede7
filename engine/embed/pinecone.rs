//! Pinecone Inference: `POST {base}/embed` with `Api-Key` and `X-Pinecone-API-Version`
//! headers and `{model, parameters: {input_type, truncate}, inputs: [{text}]}`, answered by
//! `{data: [{values}]}` in input order. `llama-text-embed-v2` gives 1024 dimensions and
//! takes at most 96 inputs a request.

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::http::Endpoint;
use super::openai::floats;
use super::{EmbedError, Embedder, InputKind, Policy};
use crate::settings::Secret;

pub const DEFAULT_BASE_URL: &str = "https://api.pinecone.io";
pub const MODEL: &str = "llama-text-embed-v2";
pub const DIMENSIONS: usize = 1024;
pub const BATCH: usize = 96;
pub const API_VERSION: &str = "2025-04";

pub struct PineconeEmbedder {
    endpoint: Endpoint,
}

impl PineconeEmbedder {
    pub fn new(api_key: &Secret, base_url: &str, policy: Policy) -> Result<Self, EmbedError> {
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_str(api_key.expose())
            .map_err(|_| EmbedError::fatal("PINECONE_API_KEY is not a valid header value"))?;
        key.set_sensitive(true);
        headers.insert("Api-Key", key);
        headers.insert(
            "X-Pinecone-API-Version",
            HeaderValue::from_static(API_VERSION),
        );
        let url = format!("{}/embed", base_url.trim().trim_end_matches('/'));
        Ok(PineconeEmbedder {
            endpoint: Endpoint::new(url, headers, policy, "PINECONE_API_KEY")?,
        })
    }
}

#[async_trait]
impl Embedder for PineconeEmbedder {
    fn model(&self) -> &str {
        MODEL
    }

    fn dimensions(&self) -> Option<usize> {
        Some(DIMENSIONS)
    }

    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        let input_type = match kind {
            InputKind::Passage => "passage",
            InputKind::Query => "query",
        };
        let body = |batch: &[String]| {
            let inputs: Vec<Value> = batch.iter().map(|t| json!({"text": t})).collect();
            json!({
                "model": MODEL,
                // Inputs longer than the model's window are cut rather than refused.
                "parameters": {"input_type": input_type, "truncate": "END"},
                "inputs": inputs,
            })
        };
        self.endpoint
            .embed_batches(texts, BATCH, Some(DIMENSIONS), body, parse)
            .await
    }
}

fn parse(answer: &Value, expected: usize) -> Result<Vec<Vec<f32>>, String> {
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the answer has no `data` list")?;
    if data.len() != expected {
        return Err(format!("{} embeddings for {expected} inputs", data.len()));
    }
    data.iter()
        .enumerate()
        .map(|(i, item)| {
            floats(item.get("values")).ok_or_else(|| {
                format!("data[{i}].values is not a list of numbers (a sparse model?)")
            })
        })
        .collect()
}
