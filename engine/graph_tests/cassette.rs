//! Recorded model replies: one YAML file per case holding each request the model
//! provider sent and the response the server streamed back.
//!
//! Requests are matched on their canonical form: fields that change between runs
//! without the graph changing (the model name, sampling settings) are left out, and
//! tool-call ids are renumbered in order of appearance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::cases::{RECORDINGS_DIR, TESTS_DIR};

/// Request fields that say how to sample, not what was asked.
const VOLATILE: &[&str] = &[
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "user",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "stream_options",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    /// The case it belongs to, `<file>::<name>`.
    pub case: String,
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Path under the provider's base URL, e.g. `/chat/completions`.
    pub path: String,
    /// The JSON body as sent (headers are never stored: they carry the API key).
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    pub content_type: String,
    /// The body as streamed, e.g. `data: {...}\n\n` chunks ending in `data: [DONE]`.
    pub body: String,
}

/// Where the recording of case `<file>::<name>` lives.
pub fn path_for(root: &Path, case_id: &str) -> PathBuf {
    let (file, name) = case_id.rsplit_once("::").unwrap_or(("", case_id));
    root.join(TESTS_DIR)
        .join(RECORDINGS_DIR)
        .join(file)
        .join(format!("{name}.yaml"))
}

impl Cassette {
    /// None when there is no recording; Err when there is one that cannot be read.
    pub fn load(path: &Path) -> Result<Option<Cassette>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_yaml::from_str(&text).map(Some).map_err(|e| {
            format!(
                "{} is not a recording: {e}; delete it and run `eng-intel test --record`",
                path.display()
            )
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let yaml = serde_yaml::to_string(self).map_err(|e| fail(&e))?;
        let text = format!(
            "# Model replies recorded by `eng-intel test --record`; `eng-intel test` replays them.\n{yaml}"
        );
        std::fs::write(path, text).map_err(|e| fail(&e))
    }
}

/// The request as matched: volatile fields dropped, tool-call ids renumbered.
pub fn canonical(path: &str, body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(obj) = body.as_object_mut() {
        for k in VOLATILE {
            obj.remove(*k);
        }
    }
    let mut ids: Vec<String> = Vec::new();
    renumber(&mut body, &mut ids);
    let mut out = Map::new();
    out.insert("path".into(), path.into());
    out.insert("body".into(), body);
    Value::Object(out)
}

/// Replaces every tool-call id (`tool_calls[].id`, `tool_call_id`) by `call_N`.
fn renumber(v: &mut Value, ids: &mut Vec<String>) {
    let mut rename = |id: &mut Value| {
        if let Some(s) = id.as_str() {
            let n = match ids.iter().position(|x| x == s) {
                Some(n) => n,
                None => {
                    ids.push(s.to_string());
                    ids.len() - 1
                }
            };
            *id = format!("call_{}", n + 1).into();
        }
    };
    match v {
        Value::Object(m) => {
            if let Some(id) = m.get_mut("tool_call_id") {
                rename(id);
            }
            if let Some(Value::Array(calls)) = m.get_mut("tool_calls") {
                for c in calls.iter_mut() {
                    if let Some(id) = c.get_mut("id") {
                        rename(id);
                    }
                }
            }
            for (_, child) in m.iter_mut() {
                renumber(child, ids);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| renumber(c, ids)),
        _ => {}
    }
}

/// Where two canonical requests differ, one line per difference (at most `max`).
pub fn diff(recorded: &Value, now: &Value, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    walk(recorded, now, String::new(), &mut out, max);
    out
}

fn walk(a: &Value, b: &Value, at: String, out: &mut Vec<String>, max: usize) {
    if out.len() >= max || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{at}/{}", crate::config::spans::escape(k));
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => walk(va, vb, p, out, max),
                    (Some(va), None) => push(
                        out,
                        max,
                        format!("at {p}: recorded {}, now absent", short(va)),
                    ),
                    (None, Some(vb)) => {
                        push(out, max, format!("at {p}: not recorded, now {}", short(vb)))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{at}/{i}");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => walk(va, vb, p, out, max),
                    (Some(va), None) => push(
                        out,
                        max,
                        format!("at {p}: recorded {}, now absent", short(va)),
                    ),
                    (None, Some(vb)) => {
                        push(out, max, format!("at {p}: not recorded, now {}", short(vb)))
                    }
                    (None, None) => {}
                }
            }
        }
        (Value::String(x), Value::String(y)) => {
            // Show both strings from a little before where they start to differ.
            let start = x
                .char_indices()
                .zip(y.chars())
                .find(|((_, cx), cy)| cx != cy)
                .map(|((i, _), _)| i)
                .unwrap_or(x.len().min(y.len()));
            let from = x[..start]
                .char_indices()
                .rev()
                .nth(20)
                .map_or(0, |(i, _)| i);
            let tail = |s: &str| {
                let s = &s[from.min(s.len())..];
                let cut: String = s.chars().take(80).collect();
                let more = if cut.len() < s.len() { "…" } else { "" };
                let lead = if from > 0 { "…" } else { "" };
                format!("\"{lead}{}{more}\"", cut.escape_debug())
            };
            push(
                out,
                max,
                format!("at {at}: recorded {}, now {}", tail(x), tail(y)),
            );
        }
        _ => push(
            out,
            max,
            format!("at {at}: recorded {}, now {}", short(a), short(b)),
        ),
    }
}

fn push(out: &mut Vec<String>, max: usize, line: String) {
    if out.len() < max {
        out.push(line);
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_drops_sampling_and_renumbers_tool_call_ids() {
        let a = json!({
            "model": "big", "temperature": 0.2, "stream": true,
            "messages": [
                {"role": "assistant", "content": "", "tool_calls": [{"id": "x9", "type": "function"}]},
                {"role": "tool", "tool_call_id": "x9", "content": "[]"}
            ]
        });
        let b = json!({
            "model": "small", "stream": true,
            "messages": [
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_abc", "type": "function"}]},
                {"role": "tool", "tool_call_id": "call_abc", "content": "[]"}
            ]
        });
        assert_eq!(
            canonical("/chat/completions", &a),
            canonical("/chat/completions", &b)
        );
        assert_ne!(
            canonical("/chat/completions", &a),
            canonical("/embeddings", &b)
        );
        let c = canonical("/p", &a);
        assert_eq!(c["body"]["messages"][1]["tool_call_id"], "call_1");
        assert!(c["body"].get("model").is_none());
        assert_eq!(c["body"]["stream"], true);
    }

    #[test]
    fn diff_names_each_difference_by_pointer() {
        let a = json!({"messages": [{"content": "You are DORA_Pro, an assistant for engineering managers."}], "stream": true});
        let b = json!({"messages": [{"content": "You are DORA_Pro, an assistant for delivery leads."}, {"content": "x"}]});
        assert_eq!(
            diff(&a, &b, 10),
            vec![
                "at /messages/0/content: recorded \"…ro, an assistant for engineering managers.\", now \"…ro, an assistant for delivery leads.\"".to_string(),
                "at /messages/1: not recorded, now {\"content\":\"x\"}".to_string(),
                "at /stream: recorded true, now absent".to_string(),
            ]
        );
        assert_eq!(diff(&a, &b, 1).len(), 1);
        assert!(diff(&a, &a, 10).is_empty());
    }
}
