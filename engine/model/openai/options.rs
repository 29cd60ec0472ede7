//! Provider settings beyond the endpoint and the tier models: timeouts, retries, the
//! circuit breaker and request shaping. Every one has a default and an `LLM_*` variable;
//! docs/MODELS.md lists them.

use std::time::Duration;

/// How the request's `tool_choice` is set when the node offers tools.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// Leave it to the server (the field is not sent).
    #[default]
    Auto,
    /// `"none"`: never call tools.
    None,
    /// `"required"`: call some tool on the first step.
    Required,
    /// Force this function on the first step (tiny models only call tools this way).
    Function(String),
}

impl ToolChoice {
    pub fn parse(s: &str) -> ToolChoice {
        match s.trim() {
            "" | "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            name => ToolChoice::Function(name.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// TCP + TLS connect.
    pub connect_timeout: Duration,
    /// Longest wait for the response headers and between two body chunks.
    pub read_timeout: Duration,
    /// Retries after the first attempt (429, 5xx, connection errors, timeouts).
    pub max_retries: u32,
    /// First backoff; doubled on each retry.
    pub retry_base: Duration,
    /// A server asking to wait longer than this (Retry-After) fails at once instead.
    pub max_retry_wait: Duration,
    /// Consecutive failed requests that open the circuit; 0 disables the breaker.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses requests before letting one through.
    pub breaker_cooldown: Duration,
    pub tool_choice: ToolChoice,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    /// Send `stream_options: {include_usage: true}` (some old servers reject it).
    pub stream_usage: bool,
    /// The tier tried after the request's own tier fails (then primary, then fast).
    pub fallback_tier: Option<crate::core::Tier>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_retries: 2,
            retry_base: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(30),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            tool_choice: ToolChoice::Auto,
            temperature: None,
            max_tokens: None,
            stream_usage: true,
            fallback_tier: None,
        }
    }
}

impl Options {
    /// Reads the `LLM_*` variables from the process environment.
    pub fn from_env() -> Options {
        Options::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the `LLM_*` variables from any lookup; unset or unparsable values keep the default.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Options {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let secs = |k: &str, d: Duration| {
            get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(d)
        };
        let d = Options::default();
        Options {
            connect_timeout: secs("LLM_CONNECT_TIMEOUT_S", d.connect_timeout),
            read_timeout: secs("LLM_READ_TIMEOUT_S", d.read_timeout),
            max_retries: get("LLM_MAX_RETRIES")
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.max_retries),
            retry_base: get("LLM_RETRY_BASE_MS")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .unwrap_or(d.retry_base),
            max_retry_wait: secs("LLM_MAX_RETRY_WAIT_S", d.max_retry_wait),
            breaker_threshold: get("LLM_BREAKER_THRESHOLD")
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.breaker_threshold),
            breaker_cooldown: secs("LLM_BREAKER_COOLDOWN_S", d.breaker_cooldown),
            tool_choice: get("LLM_TOOL_CHOICE")
                .map(|v| ToolChoice::parse(&v))
                .unwrap_or_default(),
            temperature: get("LLM_TEMPERATURE").and_then(|v| v.parse().ok()),
            max_tokens: get("LLM_MAX_TOKENS").and_then(|v| v.parse().ok()),
            stream_usage: get("LLM_STREAM_USAGE")
                .map(|v| !matches!(v.to_lowercase().as_str(), "0" | "false" | "no" | "off"))
                .unwrap_or(d.stream_usage),
            fallback_tier: get("LLM_FALLBACK_TIER").and_then(|v| crate::core::Tier::parse(&v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_override_defaults_and_bad_values_are_ignored() {
        let o = Options::from_lookup(|k| match k {
            "LLM_READ_TIMEOUT_S" => Some("2.5".into()),
            "LLM_MAX_RETRIES" => Some("not a number".into()),
            "LLM_TOOL_CHOICE" => Some("headcount".into()),
            "LLM_STREAM_USAGE" => Some("off".into()),
            _ => None,
        });
        assert_eq!(o.read_timeout, Duration::from_millis(2500));
        assert_eq!(o.max_retries, Options::default().max_retries);
        assert_eq!(o.tool_choice, ToolChoice::Function("headcount".into()));
        assert!(!o.stream_usage);
        assert_eq!(ToolChoice::parse("required"), ToolChoice::Required);
        assert_eq!(ToolChoice::parse(" auto "), ToolChoice::Auto);
    }
}
