//! Redaction of secrets in text that leaves the process (events, HTTP errors, logs,
//! health, metrics).
//!
//! The list of secrets is the one `Settings` collects while reading the environment
//! (every variable read through its `secret` helper), so a new key is covered by being
//! declared, not by remembering a second list. Credentials in URLs (`scheme://user:pw@`)
//! are cut whatever their value.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "***";

/// `scheme://userinfo@`: the userinfo is replaced, the scheme kept.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@'\x22<>]+@").expect("valid regex")
});

/// Replaces configured secrets and URL credentials in text. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// Secrets shorter than 3 characters are left out: masking every "a" would mangle
    /// text and reveal more than it hides.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<String> = Vec::new();
        for s in secrets {
            let s = s.as_ref();
            if s.chars().count() < 3 {
                continue;
            }
            // A JSON body echoes a secret with its quotes and backslashes escaped.
            let escaped = serde_json::to_string(s).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            for v in [s, escaped] {
                if !list.iter().any(|x| x == v) {
                    list.push(v.to_string());
                }
            }
        }
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor {
            secrets: Arc::new(list),
        }
    }

    /// `s` with every secret and URL credential masked.
    pub fn redact(&self, s: &str) -> String {
        let mut out = match USERINFO.replace_all(s, format!("${{1}}{MASK}@").as_str()) {
            std::borrow::Cow::Borrowed(b) => b.to_string(),
            std::borrow::Cow::Owned(o) => o,
        };
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Masks in place; returns whether anything changed.
    pub fn redact_in_place(&self, s: &mut String) -> bool {
        let r = self.redact(s);
        if r != *s {
            *s = r;
            true
        } else {
            false
        }
    }

    /// A log writer that masks every line before it reaches `inner`.
    pub fn writer<W: Write>(&self, inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            redactor: self.clone(),
            inner,
        }
    }
}

/// Masks what is written through it (one formatted log event per write).
pub struct RedactingWriter<W> {
    redactor: Redactor,
    inner: W,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.inner
            .write_all(self.redactor.redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_escaped_forms_and_url_credentials() {
        let r = Redactor::new(["sk-live-123", "pa\"ss", "x"]);
        assert_eq!(
            r.redact("Incorrect API key provided: Bearer sk-live-123."),
            "Incorrect API key provided: Bearer ***."
        );
        assert_eq!(r.redact(r#"{"k":"pa\"ss"}"#), r#"{"k":"***"}"#);
        assert_eq!(
            r.redact("error sending request for url (http://user:pw@host:8080/v1/chat)"),
            "error sending request for url (http://***@host:8080/v1/chat)"
        );
        assert_eq!(r.redact("postgres://app@db/x"), "postgres://***@db/x");
        // Too short to mask; emails are no URLs.
        assert_eq!(r.redact("x marks a@b.c"), "x marks a@b.c");
    }

    #[test]
    fn the_writer_masks_what_it_writes() {
        let r = Redactor::new(["hunter22"]);
        let mut out = Vec::new();
        write!(
            r.writer(&mut out),
            "password hunter22 at https://u:hunter22@h/"
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "password *** at https://***@h/"
        );
    }
}
