//! Text embeddings for document search: the [`Embedder`] trait, two providers over
//! HTTP — any OpenAI-compatible `/embeddings` server ([`OpenAiEmbedder`]) and Pinecone
//! Inference ([`PineconeEmbedder`]) — and a sentence-transformer run in process on the CPU
//! ([`LocalEmbedder`], its files put in place by [`fetch`]), chosen from the settings by
//! [`from_settings`].
//!
//! Providers batch (a call may carry any number of texts), time out, and retry 429, 5xx
//! and connection errors with backoff that honours `Retry-After`, behind a circuit breaker
//! (`http`, built on [`crate::resilience`], which the chat provider uses too).

pub mod fetch;
mod http;
mod local;
mod openai;
mod pinecone;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use local::{LocalEmbedder, MAX_TOKENS};
pub use openai::OpenAiEmbedder;
pub use pinecone::PineconeEmbedder;

use crate::settings::Settings;

/// What a text is, for models that embed queries and passages differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A document being indexed.
    Passage,
    /// A search query.
    Query,
}

/// Why embedding failed; retryable when the server was unreachable or overloaded rather
/// than the request wrong.
pub type EmbedError = crate::error::Failure;

/// Turns texts into vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The model's name; with [`Embedder::dimensions`] it keys cached vectors.
    fn model(&self) -> &str;
    /// The length of every vector, when known before the first request (Pinecone's model,
    /// or `EMBEDDING_DIMENSIONS`); otherwise whatever the server returns.
    fn dimensions(&self) -> Option<usize>;
    /// One vector per text, in the order of `texts`; an empty slice makes no request.
    async fn embed(&self, texts: &[String], kind: InputKind) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// A search query's vector, which must have the documents' `dims`; Err says why there
    /// is none (the search then ranks by words).
    async fn embed_query(&self, query: &str, dims: usize) -> Result<Vec<f32>, String> {
        let v = self
            .embed(&[query.to_string()], InputKind::Query)
            .await
            .map_err(|e| e.message)?
            .pop()
            .ok_or("no vector for the query")?;
        if v.len() != dims {
            return Err(format!(
                "the query vector has {} dimensions, the documents' {dims}",
                v.len()
            ));
        }
        Ok(v)
    }
}

/// Timeouts, retries and the circuit breaker of a provider.
#[derive(Debug, Clone)]
pub struct Policy {
    /// TCP + TLS connect.
    pub connect_timeout: Duration,
    /// Longest wait for a whole response (a batch of passages can take a while).
    pub read_timeout: Duration,
    /// Retries after the first attempt (429, 408, 5xx, connection errors, timeouts).
    pub max_retries: u32,
    /// First backoff; doubled on each retry.
    pub retry_base: Duration,
    /// A server asking to wait longer than this (Retry-After) fails at once instead.
    pub max_retry_wait: Duration,
    /// Consecutive failed requests that open the circuit; 0 disables the breaker.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses requests.
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_retries: 4,
            retry_base: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(60),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// The configured embedder: `EMBEDDING_BASE_URL` (OpenAI-compatible) wins, else
/// `PINECONE_API_KEY` (Pinecone Inference), else the local model when it is in the models
/// dir, else none (document search stays BM25).
pub fn from_settings(settings: &Settings) -> Result<Option<Arc<dyn Embedder>>, EmbedError> {
    let policy = Policy::default();
    if let Some(e) = &settings.embedding {
        return Ok(Some(Arc::new(OpenAiEmbedder::new(e, policy)?)));
    }
    if let Some(key) = settings.pinecone_api_key.as_ref().filter(|k| !k.is_empty()) {
        let base = settings
            .pinecone_base_url
            .as_deref()
            .unwrap_or(pinecone::DEFAULT_BASE_URL);
        return Ok(Some(Arc::new(PineconeEmbedder::new(key, base, policy)?)));
    }
    let local = local_model(settings);
    if local.is_dir() {
        return Ok(Some(Arc::new(LocalEmbedder::load(
            &local,
            fetch::MINILM.name,
        )?)));
    }
    Ok(None)
}

/// Whether [`from_settings`] finds an embedder, without loading it.
pub fn configured(settings: &Settings) -> bool {
    settings.embedding.is_some()
        || settings
            .pinecone_api_key
            .as_ref()
            .is_some_and(|k| !k.is_empty())
        || local_model(settings).is_dir()
}

/// Where the local model's files are: a directory that exists is complete (`fetch`).
fn local_model(settings: &Settings) -> std::path::PathBuf {
    fetch::model_dir(&settings.models_dir(), &fetch::MINILM)
}

/// How to turn on search by meaning when [`from_settings`] finds no embedder.
pub fn how_to_enable(settings: &Settings) -> String {
    format!(
        "document search ranks by words alone (BM25): no embedding model in {}; \
         `eng-intel models fetch` puts one there (90 MB, runs on the CPU) for search by meaning, \
         or set EMBEDDING_BASE_URL for an embeddings server",
        settings.models_dir().display()
    )
}

/// Scales `v` to unit length (a zero vector stays zero), so a dot product is the cosine.
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Every vector has `expected` (or else the first vector's) length, and it is not zero.
fn check_lengths(vectors: &[Vec<f32>], expected: Option<usize>) -> Result<(), EmbedError> {
    let Some(want) = expected.or_else(|| vectors.first().map(Vec::len)) else {
        return Ok(());
    };
    if want == 0 {
        return Err(EmbedError::fatal("the server returned empty vectors"));
    }
    match vectors.iter().position(|v| v.len() != want) {
        Some(i) => Err(EmbedError::fatal(format!(
            "vector {i} has {} dimensions, expected {want}",
            vectors[i].len()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_follows_the_settings() {
        let pick = |vars: &[(&str, &str)]| {
            // No local model: a models dir that does not exist.
            let vars: Vec<(String, String)> = [("MODELS_DIR", "/nonexistent/models")]
                .iter()
                .chain(vars)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let s = Settings::from_lookup(|k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            });
            from_settings(&s)
                .unwrap()
                .map(|e| (e.model().to_string(), e.dimensions()))
        };
        assert_eq!(pick(&[]), None);
        assert_eq!(
            pick(&[("PINECONE_API_KEY", "k")]),
            Some(("llama-text-embed-v2".into(), Some(1024)))
        );
        assert_eq!(
            pick(&[
                ("PINECONE_API_KEY", "k"),
                ("EMBEDDING_BASE_URL", "http://127.0.0.1:9/v1"),
                ("EMBEDDING_DIMENSIONS", "256"),
            ]),
            Some(("text-embedding-3-small".into(), Some(256)))
        );
    }

    #[test]
    fn lengths_are_checked_and_vectors_normalised() {
        assert!(check_lengths(&[vec![1.0, 2.0], vec![3.0, 4.0]], None).is_ok());
        let e = check_lengths(&[vec![1.0, 2.0], vec![3.0]], None).unwrap_err();
        assert_eq!(e.message, "vector 1 has 1 dimensions, expected 2");
        assert!(check_lengths(&[vec![1.0, 2.0]], Some(3)).is_err());
        let mut v = vec![3.0, 4.0];
        normalise(&mut v);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
        let mut zero = vec![0.0; 3];
        normalise(&mut zero);
        assert_eq!(zero, [0.0; 3]);
    }
}
