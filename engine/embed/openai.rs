//! Any OpenAI-compatible embeddings server: `POST {base}/embeddings` with
//! `{model, input: [...]}` (and `dimensions` when configured), answered by
//! `{data: [{index, embedding}]}`. At most 256 inputs a request.

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::http::Endpoint;
use super::{EmbedError, Embedder, InputKind, Policy};
use crate::settings::Embedding;

/// OpenAI accepts up to 2048 inputs; smaller requests keep each retry cheap.
pub const BATCH: usize = 256;

pub struct OpenAiEmbedder {
    endpoint: Endpoint,
    model: String,
    dimensions: Option<usize>,
}

impl OpenAiEmbedder {
    pub fn new(settings: &Embedding, policy: Policy) -> Result<OpenAiEmbedder, EmbedError> {
        let base = settings.base_url.trim().trim_end_matches('/');
        let url = if base.ends_with("/embeddings") {
            base.to_string()
        } else {
            format!("{base}/embeddings")
        };
        let mut headers = HeaderMap::new();
        if !settings.api_key.is_empty() {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", settings.api_key.expose()))
                .map_err(|_| EmbedError::fatal("EMBEDDING_API_KEY is not a valid header value"))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        Ok(OpenAiEmbedder {
            endpoint: Endpoint::new(url, headers, policy, "EMBEDDING_API_KEY")?,
            model: settings.model.clone(),
            dimensions: settings.dimensions,
        })
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    /// The kind is not sent: the OpenAI API embeds queries and passages alike.
    async fn embed(&self, texts: &[String], _kind: InputKind) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = |batch: &[String]| {
            let mut body = json!({"model": self.model, "input": batch});
            if let Some(n) = self.dimensions {
                body["dimensions"] = n.into();
            }
            body
        };
        self.endpoint
            .embed_batches(texts, BATCH, self.dimensions, body, parse)
            .await
    }
}

/// The vectors of `data`, put in input order by `index` (servers may reorder them).
fn parse(answer: &Value, expected: usize) -> Result<Vec<Vec<f32>>, String> {
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the answer has no `data` list")?;
    if data.len() != expected {
        return Err(format!("{} embeddings for {expected} inputs", data.len()));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (pos, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(pos, |i| i as usize);
        let vector = floats(item.get("embedding"))
            .ok_or_else(|| format!("data[{pos}].embedding is not a list of numbers"))?;
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(vector),
            Some(Some(_)) => return Err(format!("index {index} appears twice")),
            None => {
                return Err(format!(
                    "index {index} is out of range for {expected} inputs"
                ));
            }
        }
    }
    Ok(slots
        .into_iter()
        .map(|s| s.expect("every slot filled"))
        .collect())
}

/// A JSON list of numbers as f32.
pub(super) fn floats(v: Option<&Value>) -> Option<Vec<f32>> {
    v?.as_array()?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_ordered_by_index_and_checked() {
        let answer = json!({"data": [
            {"index": 1, "embedding": [0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.0]},
        ]});
        assert_eq!(parse(&answer, 2).unwrap(), [vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(parse(&answer, 3).unwrap_err(), "2 embeddings for 3 inputs");
        let twice =
            json!({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]});
        assert_eq!(parse(&twice, 2).unwrap_err(), "index 0 appears twice");
        let text = json!({"data": [{"index": 0, "embedding": "AAAA"}]});
        assert!(
            parse(&text, 1)
                .unwrap_err()
                .contains("not a list of numbers")
        );
    }
}
