//! Reading a chat-completions stream: SSE framing, then chunks folded into one reply.
//!
//! Real servers differ, so every field is optional and tool-call fragments are grouped
//! by (choice index, tool index) with two rules: a new `id` at an index already in use
//! starts a new call (Ollama sends index 0 for every parallel call), and a repeated
//! `id`/`name` is the same call (llama-cpp-python repeats them in every fragment), so
//! names are never concatenated. Arguments stay raw text until the call is complete.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model::Usage;
use crate::resilience::preview;

/// Splits an SSE byte stream into the `data` of each event, whatever the chunking.
#[derive(Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: Option<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, &mut out);
            } else {
                self.line.push(b);
            }
        }
        out
    }

    /// The event left open when the body ended without a blank line.
    pub fn finish(&mut self) -> Option<String> {
        let mut out = Vec::new();
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            self.line_done(&line, &mut out);
        }
        out.extend(self.data.take());
        out.pop()
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<String>) {
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
        if line.is_empty() {
            out.extend(self.data.take());
        } else if let Some(v) = line.strip_prefix("data:") {
            let v = v.strip_prefix(' ').unwrap_or(v);
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(v);
                }
                None => self.data = Some(v.to_string()),
            }
        }
        // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing we use.
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: Option<u32>,
    /// Streams send `delta`; a server that ignored `stream: true` sends `message`.
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    message: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolFragment>>,
}

#[derive(Deserialize)]
struct ToolFragment {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionFragment>,
}

#[derive(Deserialize)]
struct FunctionFragment {
    #[serde(default)]
    name: Option<String>,
    /// A string piece, or (some servers) the whole arguments as an object.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// A tool call as streamed: arguments still raw text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// Why a data payload could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkError {
    /// Not the JSON of a chunk.
    Malformed(String),
    /// The server reported an error inside the stream.
    Server(String),
}

/// Folds the chunks of one response into content, tool calls and usage.
#[derive(Default)]
pub struct Accumulator {
    content: String,
    calls: Vec<(u32, RawCall)>,
    /// (choice index, tool index) → position in `calls` of the call now open there.
    open: HashMap<(u32, u32), usize>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
    chunks: usize,
}

/// What one response amounted to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub content: String,
    pub calls: Vec<RawCall>,
    pub usage: Usage,
    pub finish_reason: Option<String>,
}

impl Accumulator {
    /// Feeds one `data` payload; returns the content it adds (choice 0 only).
    pub fn feed(&mut self, data: &str) -> Result<Option<String>, ChunkError> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        if data.is_empty() {
            return Ok(None);
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ChunkError::Malformed(format!("{e} in chunk {}", preview(data, 200))))?;
        self.chunks += 1;
        if let Some(err) = chunk.error {
            let msg = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            return Err(ChunkError::Server(msg));
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(Usage {
                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                completion_tokens: u.completion_tokens.unwrap_or(0),
            });
        }
        let mut added = String::new();
        for choice in chunk.choices.unwrap_or_default() {
            let ci = choice.index.unwrap_or(0);
            if ci == 0
                && let Some(r) = choice.finish_reason.filter(|r| !r.is_empty())
            {
                self.finish_reason = Some(r);
            }
            let Some(delta) = choice.delta.or(choice.message) else {
                continue;
            };
            if ci == 0
                && let Some(c) = delta.content
            {
                added.push_str(&c);
            }
            for (pos, frag) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                self.fragment(ci, frag.index.unwrap_or(pos as u32), frag);
            }
        }
        self.content.push_str(&added);
        Ok((!added.is_empty()).then_some(added))
    }

    fn fragment(&mut self, choice: u32, index: u32, frag: ToolFragment) {
        let id = frag.id.filter(|s| !s.is_empty());
        let (name, args) = match frag.function {
            Some(f) => (f.name.filter(|s| !s.is_empty()), f.arguments),
            None => (None, None),
        };
        let slot = (choice, index);
        let current = self.open.get(&slot).map(|&i| &self.calls[i].1);
        let starts_new = match current {
            None => true,
            // Another id at this index is another call (Ollama's index 0 for all).
            Some(c) => id
                .as_ref()
                .is_some_and(|id| !c.id.is_empty() && *id != c.id),
        };
        if starts_new {
            self.calls.push((choice, RawCall::default()));
            self.open.insert(slot, self.calls.len() - 1);
        }
        let call = &mut self.calls[self.open[&slot]].1;
        if let Some(id) = id {
            call.id = id;
        }
        // A repeated name is the same call's name again, never a piece to append.
        if let Some(name) = name
            && call.name.is_empty()
        {
            call.name = name;
        }
        match args {
            Some(Value::String(s)) => call.arguments.push_str(&s),
            Some(Value::Null) | None => {}
            Some(v) => call.arguments = v.to_string(),
        }
    }

    /// `[DONE]` arrived.
    pub fn done(&self) -> bool {
        self.done
    }

    /// A choice said why it finished (a stream may still end cleanly without `[DONE]`).
    pub fn finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    pub fn chunks(&self) -> usize {
        self.chunks
    }

    pub fn finish(self) -> Outcome {
        Outcome {
            content: self.content,
            calls: self
                .calls
                .into_iter()
                .filter(|(ci, _)| *ci == 0)
                .map(|(_, c)| c)
                .collect(),
            usage: self.usage.unwrap_or_default(),
            finish_reason: self.finish_reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed_all(chunks: &[Value]) -> Outcome {
        let mut acc = Accumulator::default();
        for c in chunks {
            acc.feed(&c.to_string()).unwrap();
        }
        acc.finish()
    }

    #[test]
    fn sse_events_survive_any_split_and_crlf() {
        let text =
            "data: {\"a\":1}\r\n\r\n: keep-alive\n\nevent: x\ndata:{\"b\":2}\n\ndata: [DONE]\n\n";
        let whole = SseDecoder::default().push(text.as_bytes());
        assert_eq!(whole, vec!["{\"a\":1}", "{\"b\":2}", "[DONE]"]);
        let mut d = SseDecoder::default();
        let mut bytewise = Vec::new();
        for b in text.as_bytes() {
            bytewise.extend(d.push(std::slice::from_ref(b)));
        }
        assert_eq!(bytewise, whole);
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: {\"tail\":true}").is_empty());
        assert_eq!(d.finish().as_deref(), Some("{\"tail\":true}"));
    }

    #[test]
    fn new_id_at_a_used_index_starts_a_new_call() {
        let chunk = |id: &str, name: &str, args: &str| json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":id,"type":"function","function":{"name":name,"arguments":args}}]}}]});
        let out = feed_all(&[
            chunk("a", "headcount", "{}"),
            chunk("b", "workload", "{\"team\":\"Core\"}"),
        ]);
        let names: Vec<_> = out
            .calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", "headcount", "{}"),
                ("b", "workload", "{\"team\":\"Core\"}")
            ]
        );
    }

    #[test]
    fn repeated_id_and_name_are_one_call_with_appended_arguments() {
        let frag = |args: &str| json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"workload","arguments":args}}]}}]});
        let out = feed_all(&[frag("{\"te"), frag("am\":"), frag("\"Core\"}")]);
        assert_eq!(
            out.calls,
            vec![RawCall {
                id: "c1".into(),
                name: "workload".into(),
                arguments: "{\"team\":\"Core\"}".into()
            }]
        );
    }

    #[test]
    fn usage_in_a_final_chunk_without_choices_and_odd_finish_reasons() {
        let mut acc = Accumulator::default();
        assert_eq!(
            acc.feed(
                &json!({"choices":[{"delta":{"content":"Hi"},"finish_reason":""}]}).to_string()
            )
            .unwrap()
            .as_deref(),
            Some("Hi")
        );
        assert!(!acc.finished());
        acc.feed(&json!({"choices":[{"delta":{},"finish_reason":"eos_token"}]}).to_string())
            .unwrap();
        acc.feed(&json!({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}).to_string()).unwrap();
        acc.feed("[DONE]").unwrap();
        assert!(acc.done());
        let out = acc.finish();
        assert_eq!(
            out.usage,
            Usage {
                prompt_tokens: 7,
                completion_tokens: 2
            }
        );
        assert_eq!(out.finish_reason.as_deref(), Some("eos_token"));
    }

    #[test]
    fn malformed_and_error_chunks_are_reported() {
        let mut acc = Accumulator::default();
        assert!(matches!(
            acc.feed("{\"choices\": [ oops"),
            Err(ChunkError::Malformed(_))
        ));
        assert_eq!(
            acc.feed(&json!({"error":{"message":"overloaded"}}).to_string()),
            Err(ChunkError::Server("overloaded".into()))
        );
    }
}
