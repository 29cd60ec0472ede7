//! The `openai` provider: any OpenAI-compatible chat-completions server (Featherless,
//! OpenAI, vLLM, Ollama, llama.cpp, LM Studio), streamed, with tool calling.
//!
//! One `chat` is at most two turns: the answer, and one repair turn when a tool call's
//! arguments are not valid JSON or break the tool's schema. Each turn is one request
//! retried on 429, 5xx, connection errors and timeouts (never once its tokens have
//! reached the client), behind a circuit breaker shared by every call to the server.

mod options;
mod stream;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;

pub use options::{Options, ToolChoice};
use stream::{Accumulator, ChunkError, Outcome, SseDecoder};

use super::{
    ChatRequest, Model, ModelError, Purpose, Reply, Tier, TokenSink, ToolCall, Turn, Usage,
};
use crate::resilience::{
    AttemptError, Breaker, Retries, chain, preview, retry_after, transport, with_retries,
};
use crate::settings::{Llm, Secret};

pub struct OpenAiModel {
    client: reqwest::Client,
    /// The chat-completions endpoint.
    url: String,
    api_key: Secret,
    llm: Llm,
    opts: Options,
    breaker: Breaker,
}

impl OpenAiModel {
    pub fn new(llm: &Llm, opts: Options) -> Result<Self, ModelError> {
        // reqwest is built without a default crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .build()
            .map_err(|e| {
                ModelError::fatal(format!("cannot build the HTTP client: {}", chain(&e)))
            })?;
        let base = llm.base_url.trim().trim_end_matches('/');
        let url = if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        };
        Ok(OpenAiModel {
            client,
            url,
            api_key: llm.api_key.clone(),
            llm: llm.clone(),
            breaker: Breaker::new(opts.breaker_threshold, opts.breaker_cooldown),
            opts,
        })
    }

    /// One request, retried while that is safe and worth it.
    async fn complete(
        &self,
        model: &str,
        body: &Value,
        tokens: Option<TokenSink<'_>>,
    ) -> Result<Outcome, ModelError> {
        // Once tokens reached the client a retry would repeat them.
        let emitted = AtomicBool::new(false);
        let retries = Retries {
            max: self.opts.max_retries,
            base: self.opts.retry_base,
            max_wait: self.opts.max_retry_wait,
        };
        let what = format!("model \"{model}\" at {}", self.url);
        with_retries(
            &what,
            &self.breaker,
            retries,
            || emitted.load(Ordering::Relaxed),
            || self.attempt(body, tokens, &emitted),
        )
        .await
    }

    async fn attempt(
        &self,
        body: &Value,
        tokens: Option<TokenSink<'_>>,
        emitted: &AtomicBool,
    ) -> Result<Outcome, AttemptError> {
        let read = self.opts.read_timeout;
        let mut request = self.client.post(&self.url).json(body);
        if !self.api_key.is_empty() {
            request = request.bearer_auth(self.api_key.expose());
        }
        let resp = tokio::time::timeout(read, request.send())
            .await
            .map_err(|_| AttemptError::transient(format!("no response within {}", secs(read))))?
            .map_err(|e| AttemptError::transient(transport(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            let asked = retry_after(resp.headers());
            let text = tokio::time::timeout(read, resp.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(AttemptError::http(
                status,
                asked,
                &text,
                "FEATHERLESS_API_KEY / OPENAI_API_KEY",
            ));
        }
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut acc = Accumulator::default();
        let mut sse = SseDecoder::default();
        let mut whole = Vec::new();
        let mut chunks = resp.bytes_stream();
        while !acc.done() {
            let next = tokio::time::timeout(read, chunks.next())
                .await
                .map_err(|_| {
                    AttemptError::transient(format!(
                        "stream stalled: no data for {} after {} chunks",
                        secs(read),
                        acc.chunks()
                    ))
                })?;
            let bytes = match next {
                None => break,
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    return Err(AttemptError::transient(format!(
                        "stream broken after {} chunks: {}",
                        acc.chunks(),
                        transport(&e)
                    )));
                }
            };
            if is_json {
                whole.extend_from_slice(&bytes);
                continue;
            }
            for data in sse.push(&bytes) {
                take(&mut acc, &data, tokens, emitted)?;
                if acc.done() {
                    break;
                }
            }
        }
        if is_json {
            // The server ignored `stream: true` and sent one completion.
            take(&mut acc, &String::from_utf8_lossy(&whole), tokens, emitted)?;
        } else if !acc.done() {
            if let Some(data) = sse.finish() {
                take(&mut acc, &data, tokens, emitted)?;
            }
            // A clean end after a finish_reason is tolerated; anything else was cut.
            if !acc.done() && !acc.finished() {
                return Err(AttemptError::transient(format!(
                    "stream ended before [DONE] after {} chunks",
                    acc.chunks()
                )));
            }
        }
        Ok(acc.finish())
    }
}

/// Feeds one payload and passes its content on to the client.
fn take(
    acc: &mut Accumulator,
    data: &str,
    tokens: Option<TokenSink<'_>>,
    emitted: &AtomicBool,
) -> Result<(), AttemptError> {
    match acc.feed(data) {
        Ok(Some(text)) => {
            if let Some(sink) = tokens {
                sink(&text);
                emitted.store(true, Ordering::Relaxed);
            }
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(ChunkError::Malformed(m)) => {
            Err(AttemptError::fatal(format!("malformed stream chunk: {m}")))
        }
        Err(ChunkError::Server(m)) => Err(AttemptError::transient(format!("error in stream: {m}"))),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The reply of a finished response; Err(problem) when a tool call cannot be used.
fn resolve(out: Outcome, req: &ChatRequest<'_>) -> Result<Reply, String> {
    if out.calls.is_empty() || req.tools.is_empty() {
        return Ok(Reply::Text(out.content));
    }
    let mut calls: Vec<ToolCall> = Vec::new();
    for (i, raw) in out.calls.into_iter().enumerate() {
        if raw.name.is_empty() {
            return Err(format!(
                "a tool call without a function name (arguments {})",
                preview(&raw.arguments, 200)
            ));
        }
        let args = parse_args(&raw.arguments).map_err(|e| {
            format!(
                "the arguments of {} are not a JSON object ({e}): {}",
                raw.name,
                preview(&raw.arguments, 200)
            )
        })?;
        // An unknown tool is the executor's to answer (it tells the model what exists).
        if let Some(tool) = req.tools.iter().find(|t| t.name == raw.name) {
            tool.check_args(&args)?;
        }
        // Each tool message answers one id, so ids must be present and distinct.
        let mut id = if raw.id.is_empty() {
            format!("call_{i}")
        } else {
            raw.id
        };
        if calls.iter().any(|c| c.id == id) {
            id = format!("{id}_{i}");
        }
        calls.push(ToolCall {
            id,
            name: raw.name,
            args,
        });
    }
    Ok(Reply::ToolCalls(calls))
}

/// Empty arguments are `{}`; a JSON string holding an object is unwrapped (some models
/// encode twice).
fn parse_args(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(raw).map_err(|e| e.to_string())? {
        Value::Object(m) => Ok(Value::Object(m)),
        Value::String(inner) => match serde_json::from_str::<Value>(&inner) {
            Ok(Value::Object(m)) => Ok(Value::Object(m)),
            _ => Err("a string, not an object".into()),
        },
        other => Err(format!("got {other}")),
    }
}

#[async_trait]
impl Model for OpenAiModel {
    fn model_name(&self, tier: Tier) -> String {
        self.llm.model_for_tier(tier).to_string()
    }

    async fn chat(&self, req: ChatRequest<'_>, tokens: TokenSink<'_>) -> Result<Turn, ModelError> {
        let model = self.model_name(req.tier);
        // A route name or a JSON document is for the engine, not for the reader.
        let sink = (!req.json && !matches!(req.purpose, Purpose::Route { .. })).then_some(tokens);
        let mut messages = wire::messages(&req);
        let mut usage = Usage::default();
        let mut repaired = false;
        loop {
            let body = wire::body(&model, &messages, &req, &self.opts);
            let out = self.complete(&model, &body, sink).await?;
            usage += out.usage;
            match resolve(out, &req) {
                Ok(reply) => return Ok(Turn { reply, usage }),
                Err(problem) if !repaired => {
                    tracing::warn!(model, %problem, "invalid tool call; asking once more");
                    messages.push(wire::repair(&problem));
                    repaired = true;
                }
                Err(problem) => {
                    return Err(ModelError::fatal(format!(
                        "model \"{model}\" made an invalid tool call again after a repair turn: {problem}"
                    )));
                }
            }
        }
    }
}
