//! One JSON endpoint of an embeddings provider: a POST with a bounded wait, retried on
//! 429, 408, 5xx, connection errors and timeouts (backoff honouring `Retry-After`),
//! behind a circuit breaker shared by every call to that endpoint.

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{EmbedError, Policy, check_lengths};
use crate::resilience::{
    AttemptError, Breaker, Retries, chain, preview, retry_after, transport, with_retries,
};

pub(super) struct Endpoint {
    client: reqwest::Client,
    pub url: String,
    /// Sent with every request (API keys: never printed).
    headers: HeaderMap,
    policy: Policy,
    breaker: Breaker,
    /// Names the variable holding the key, for 401 and 403.
    key_variable: &'static str,
}

impl Endpoint {
    pub fn new(
        url: String,
        headers: HeaderMap,
        policy: Policy,
        key_variable: &'static str,
    ) -> Result<Endpoint, EmbedError> {
        // reqwest is built without a default crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .build()
            .map_err(|e| {
                EmbedError::fatal(format!("cannot build the HTTP client: {}", chain(&e)))
            })?;
        Ok(Endpoint {
            client,
            url,
            headers,
            breaker: Breaker::new(policy.breaker_threshold, policy.breaker_cooldown),
            policy,
            key_variable,
        })
    }

    /// POSTs `body` and returns the JSON answer, retrying while that is worth it.
    pub async fn post(&self, body: &Value) -> Result<Value, EmbedError> {
        let retries = Retries {
            max: self.policy.max_retries,
            base: self.policy.retry_base,
            max_wait: self.policy.max_retry_wait,
        };
        let what = format!("embeddings at {}", self.url);
        with_retries(
            &what,
            &self.breaker,
            retries,
            || false,
            || self.attempt(body),
        )
        .await
    }

    /// Embeds `texts` in batches of `size`: `body` builds each request, `parse` reads each
    /// answer (vectors in input order); every vector must have `dims` numbers when given,
    /// else all the same number.
    pub async fn embed_batches(
        &self,
        texts: &[String],
        size: usize,
        dims: Option<usize>,
        body: impl Fn(&[String]) -> Value,
        parse: impl Fn(&Value, usize) -> Result<Vec<Vec<f32>>, String>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let bad = |m: String| EmbedError::fatal(format!("embeddings at {}: {m}", self.url));
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(size) {
            let answer = self.post(&body(batch)).await?;
            out.extend(parse(&answer, batch.len()).map_err(bad)?);
        }
        check_lengths(&out, dims).map_err(|e| bad(e.message))?;
        Ok(out)
    }

    async fn attempt(&self, body: &Value) -> Result<Value, AttemptError> {
        let read = self.policy.read_timeout;
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(body);
        let within = |what: &str| format!("no {what} within {:.1}s", read.as_secs_f64());
        let resp = tokio::time::timeout(read, request.send())
            .await
            .map_err(|_| AttemptError::transient(within("response")))?
            .map_err(|e| AttemptError::transient(transport(&e)))?;
        let status = resp.status();
        let asked = retry_after(resp.headers());
        let text = tokio::time::timeout(read, resp.text())
            .await
            .map_err(|_| AttemptError::transient(within("response body")))?
            .map_err(|e| AttemptError::transient(transport(&e)))?;
        if !status.is_success() {
            return Err(AttemptError::http(status, asked, &text, self.key_variable));
        }
        serde_json::from_str(&text).map_err(|e| {
            AttemptError::fatal(format!(
                "the answer is not JSON ({e}): {}",
                preview(&text, 300)
            ))
        })
    }
}
