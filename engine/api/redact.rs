//! Nothing configured as a secret leaves through the API: run events are masked before
//! they reach a client (and before the sync answer is built from them), error bodies are
//! masked on the way out, and a model server's own words reach clients only as a generic
//! reason, the detail (masked) going to the log.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ErrorKind;
use crate::run::Event;
use crate::settings::Redactor;

/// Masks every free-text field of `ev`; a fallback's reason becomes a generic one.
pub fn event(r: &Redactor, ev: &mut Event) {
    match ev {
        // The chain logged the detail (masked by the log writer).
        Event::ModelFallback { reason, .. } => *reason = public_reason(reason).to_string(),
        Event::StreamStart { query, .. } => {
            r.redact_in_place(query);
        }
        Event::ToolStart { args, .. } => value(r, args),
        Event::ToolEnd {
            result_preview,
            error,
            ..
        } => {
            r.redact_in_place(result_preview);
            if let Some(e) = error {
                r.redact_in_place(e);
            }
        }
        Event::Token { content } | Event::Response { content } => {
            r.redact_in_place(content);
        }
        Event::Error { message, .. } => {
            r.redact_in_place(message);
        }
        Event::ModelSelection { .. }
        | Event::Routing { .. }
        | Event::NodeStart { .. }
        | Event::NodeEnd { .. }
        | Event::StreamEnd { .. } => {}
    }
}

fn value(r: &Redactor, v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            r.redact_in_place(s);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| value(r, i)),
        Value::Object(m) => m.values_mut().for_each(|i| value(r, i)),
        _ => {}
    }
}

/// What a client is told about a model that failed; the operator's log has the detail.
/// The detail says `HTTP <code>` for an answer, else it is a transport failure.
pub fn public_reason(detail: &str) -> &'static str {
    let code = detail
        .match_indices("HTTP ")
        .find_map(|(i, _)| detail.get(i + 5..i + 8).and_then(|c| c.parse::<u16>().ok()));
    match code {
        Some(401 | 403) => "model server refused the key",
        Some(404) => "model server does not know the model or the URL",
        Some(408) => "model server timed out",
        Some(429) => "model server is rate limiting",
        Some(c) if c >= 500 => "model server failed",
        Some(_) => "model server rejected the request",
        None if detail.contains("circuit open") => "model server is failing; not asked for a while",
        None if detail.contains("within") => "model server did not answer in time",
        None => "model server unreachable or its answer unreadable",
    }
}

/// Masks the body of every error response (they are small JSON documents).
pub async fn error_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.extensions().get::<ErrorKind>().is_none() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let masked = state.redact(&text);
    if masked == text {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_get_a_generic_reason() {
        assert_eq!(
            public_reason(
                "model \"m\" at http://h/v1: HTTP 401 Unauthorized: Incorrect API key provided: sk-1"
            ),
            "model server refused the key"
        );
        assert_eq!(
            public_reason("HTTP 503 Service Unavailable: x"),
            "model server failed"
        );
        assert_eq!(
            public_reason("no response within 30.0s"),
            "model server did not answer in time"
        );
    }

    #[test]
    fn every_text_field_is_masked() {
        let r = Redactor::new(["sk-123"]);
        let mut ev = Event::ToolStart {
            tool: "t".into(),
            args: serde_json::json!({"q": ["key sk-123"]}),
        };
        event(&r, &mut ev);
        assert_eq!(
            ev,
            Event::ToolStart {
                tool: "t".into(),
                args: serde_json::json!({"q": ["key ***"]})
            }
        );
        let mut ev = Event::Error {
            kind: "model".into(),
            message: "at http://u:p@h/v1 sk-123".into(),
        };
        event(&r, &mut ev);
        assert_eq!(
            ev,
            Event::Error {
                kind: "model".into(),
                message: "at http://***@h/v1 ***".into()
            }
        );
    }
}
