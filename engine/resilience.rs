//! Staying polite to a struggling server, shared by the HTTP providers (chat models,
//! embeddings): backoff that honours `Retry-After`, a circuit breaker that stops calling
//! a server after consecutive failures, and transport errors described with their causes.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::error::Failure;

/// One failed attempt of a request.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub message: String,
    pub retryable: bool,
    /// How long the server asked to wait.
    pub retry_after: Option<Duration>,
    /// The server or the network failed (counts toward the circuit breaker).
    pub server: bool,
}

impl AttemptError {
    /// A network or server trouble: worth another try.
    pub fn transient(message: String) -> Self {
        AttemptError {
            message,
            retryable: true,
            retry_after: None,
            server: true,
        }
    }
    /// An answer that another try would not change.
    pub fn fatal(message: String) -> Self {
        AttemptError {
            message,
            retryable: false,
            retry_after: None,
            server: false,
        }
    }

    /// A non-2xx answer: the server's own message (OpenAI's and Pinecone's
    /// `{"error": {"message"}}`, or the body), a hint for 401/403 naming `key_variable`
    /// and for 404; 408, 429 and 5xx are worth retrying.
    pub fn http(
        status: StatusCode,
        asked: Option<Duration>,
        body: &str,
        key_variable: &str,
    ) -> Self {
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
            .unwrap_or_else(|| preview(body.trim(), 300));
        let hint = match status.as_u16() {
            401 | 403 => format!(" (check {key_variable})"),
            404 => " (check the base URL and the model name)".into(),
            _ => String::new(),
        };
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error();
        AttemptError {
            message: format!("HTTP {status}: {detail}{hint}"),
            retryable,
            retry_after: asked,
            server: retryable,
        }
    }
}

/// How a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Retries after the first attempt.
    pub max: u32,
    /// First backoff; doubled on each retry.
    pub base: Duration,
    /// A server asking to wait longer than this fails at once instead.
    pub max_wait: Duration,
}

/// Runs `attempt` until it succeeds or fails for good (the `Failure` says `what` failed,
/// the last attempt's message and the attempts made): a failure not worth retrying, one
/// after `settled()` says a retry would be wrong (e.g. output already streamed), retries
/// used up, or a server asking to wait too long. An open `breaker` refuses at once;
/// server failures feed it. `what` names the endpoint in messages and logs.
pub async fn with_retries<T, F, Fut>(
    what: &str,
    breaker: &Breaker,
    retries: Retries,
    settled: impl Fn() -> bool,
    mut attempt: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let mut retry = 0;
    loop {
        if let Err(open) = breaker.check() {
            return Err(Failure {
                message: format!(
                    "{what}: circuit open after {} consecutive failures; next try in {:.1}s",
                    open.failures,
                    open.remaining.as_secs_f64()
                ),
                retryable: false,
            });
        }
        let failure = match attempt().await {
            Ok(v) => {
                breaker.success();
                return Ok(v);
            }
            Err(f) => f,
        };
        if failure.server {
            breaker.failure();
        }
        let wait = backoff(retries.base, retry, failure.retry_after);
        if !failure.retryable || settled() || retry >= retries.max || wait > retries.max_wait {
            let tries = if retry > 0 {
                format!(" (after {} attempts)", retry + 1)
            } else {
                String::new()
            };
            return Err(Failure {
                message: format!("{what}: {}{tries}", failure.message),
                retryable: failure.retryable,
            });
        }
        tracing::warn!(endpoint = what, error = %failure.message, wait_ms = wait.as_millis() as u64, "request failed; retrying");
        tokio::time::sleep(wait).await;
        retry += 1;
    }
}

/// At most `max` bytes of `s`, on a char boundary, with an ellipsis when cut.
pub fn preview(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_string()
    } else {
        format!("{}…", &s[..s.floor_char_boundary(max)])
    }
}

/// The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` in
/// seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let secs = |v: f64| (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v));
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return secs(ms / 1000.0);
    }
    let v = text("retry-after")?;
    if let Ok(s) = v.parse::<f64>() {
        return secs(s);
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

/// A transport error with its causes (reqwest's own text alone hides them).
pub fn transport(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    format!("{what}: {}", chain(e))
}

/// An error and its sources, joined by ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// Exponential backoff with jitter, or the server's wait if that is longer.
pub fn backoff(base: Duration, retry: u32, asked: Option<Duration>) -> Duration {
    let exp = base.mul_f64(2f64.powi(retry as i32) * jitter(0.25));
    asked.map_or(exp, |a| a.max(exp))
}

/// A factor in [1 - spread, 1 + spread) so that many clients (or runs) do not retry in
/// step.
pub fn jitter(spread: f64) -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    1.0 - spread + 2.0 * spread * (nanos % 1000) as f64 / 1000.0
}

/// Opens after `threshold` consecutive failures and refuses requests for `cooldown`;
/// then lets requests through again (half-open): one more failure reopens it, a success
/// closes it.
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

/// The circuit is open: the consecutive failures behind it and the time left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Open {
    pub failures: u32,
    pub remaining: Duration,
}

/// How a store says it did not try (health and tool errors show it).
impl std::fmt::Display for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not tried: it failed {} times in a row; next try in {:.1} s",
            self.failures,
            self.remaining.as_secs_f64()
        )
    }
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold,
            cooldown,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a request may go out now.
    pub fn check(&self) -> Result<(), Open> {
        let s = self.state.lock().expect("breaker lock");
        match s.open_until {
            Some(t) if t > Instant::now() => Err(Open {
                failures: s.failures,
                remaining: t - Instant::now(),
            }),
            _ => Ok(()),
        }
    }

    pub fn success(&self) {
        *self.state.lock().expect("breaker lock") = State::default();
    }

    pub fn failure(&self) {
        if self.threshold == 0 {
            return;
        }
        let mut s = self.state.lock().expect("breaker lock");
        s.failures += 1;
        if s.failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        let at = chrono::Utc::now() + chrono::Duration::seconds(30);
        h.insert(
            "retry-after",
            HeaderValue::from_str(&at.to_rfc2822()).unwrap(),
        );
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_never_undercuts_the_server() {
        let base = Duration::from_millis(100);
        let b2 = backoff(base, 2, None);
        assert!(
            b2 >= Duration::from_millis(300) && b2 < Duration::from_millis(500),
            "{b2:?}"
        );
        assert_eq!(
            backoff(base, 0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn breaker_opens_after_threshold_and_half_opens_after_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(50));
        b.failure();
        assert!(b.check().is_ok());
        b.failure();
        let open = b.check().unwrap_err();
        assert_eq!(open.failures, 2);
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.check().is_ok(), "half-open after the cool-down");
        b.failure();
        assert!(b.check().is_err(), "one failure reopens it");
        std::thread::sleep(Duration::from_millis(60));
        b.success();
        b.failure();
        assert!(b.check().is_ok(), "a success closed it");
    }
}
