//! One JSON endpoint of an embeddings provider: a POST with a bounded wait, retried on
//! 429, 408, 5xx, connection errors and timeouts (backoff honouring `Retry-After`),
//! behind a circuit breaker shared by every call to that endpoint.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{EmbedError, Policy};
use crate::resilience::{Breaker, backoff, chain, retry_after, transport};

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

/// One failed attempt.
struct Failure {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn transient(message: String) -> Self {
        Failure {
            message,
            retryable: true,
            retry_after: None,
        }
    }
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
        let mut retry = 0;
        loop {
            if let Err(open) = self.breaker.check() {
                return Err(EmbedError {
                    message: format!(
                        "embeddings at {}: circuit open after {} consecutive failures; next try in {:.1}s",
                        self.url,
                        open.failures,
                        open.remaining.as_secs_f64()
                    ),
                    retryable: true,
                });
            }
            let failure = match self.attempt(body).await {
                Ok(v) => {
                    self.breaker.success();
                    return Ok(v);
                }
                Err(f) => f,
            };
            if failure.retryable {
                self.breaker.failure();
            }
            let wait = backoff(self.policy.retry_base, retry, failure.retry_after);
            if !failure.retryable
                || retry >= self.policy.max_retries
                || wait > self.policy.max_retry_wait
            {
                let tries = if retry > 0 {
                    format!(" (after {} attempts)", retry + 1)
                } else {
                    String::new()
                };
                return Err(EmbedError {
                    message: format!("embeddings at {}: {}{tries}", self.url, failure.message),
                    retryable: failure.retryable,
                });
            }
            tracing::warn!(url = %self.url, error = %failure.message, wait_ms = wait.as_millis() as u64, "embedding request failed; retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: &Value) -> Result<Value, Failure> {
        let read = self.policy.read_timeout;
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(body);
        let within = |what: &str| format!("no {what} within {:.1}s", read.as_secs_f64());
        let resp = tokio::time::timeout(read, request.send())
            .await
            .map_err(|_| Failure::transient(within("response")))?
            .map_err(|e| Failure::transient(transport(&e)))?;
        let status = resp.status();
        let asked = retry_after(resp.headers());
        let text = tokio::time::timeout(read, resp.text())
            .await
            .map_err(|_| Failure::transient(within("response body")))?
            .map_err(|e| Failure::transient(transport(&e)))?;
        if !status.is_success() {
            return Err(self.http_failure(status, asked, &text));
        }
        serde_json::from_str(&text).map_err(|e| Failure {
            message: format!("the answer is not JSON ({e}): {}", preview(&text)),
            retryable: false,
            retry_after: None,
        })
    }

    fn http_failure(&self, status: StatusCode, asked: Option<Duration>, body: &str) -> Failure {
        // OpenAI: {"error": {"message"}}; Pinecone: {"error": {"code", "message"}, "status"}.
        let detail = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?;
                Some(match e.get("message").and_then(Value::as_str) {
                    Some(m) => m.to_string(),
                    None => e
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string()),
                })
            })
            .unwrap_or_else(|| preview(body.trim()));
        let hint = match status.as_u16() {
            401 | 403 => format!(" (check {})", self.key_variable),
            404 => " (check the base URL and the model name)".into(),
            _ => String::new(),
        };
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error();
        Failure {
            message: format!("HTTP {status}: {detail}{hint}"),
            retryable,
            retry_after: asked,
        }
    }
}

/// At most 300 characters, with an ellipsis when cut.
fn preview(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
