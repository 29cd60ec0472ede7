//! Typed run events and their wire envelope `{event, data, run_id, seq, ts}`.
//!
//! Event names and data fields are the seed's contract (stream_start … stream_end),
//! plus node_start, node_end and token.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    StreamStart {
        query: String,
        thread_id: String,
        graph: String,
    },
    ModelSelection {
        model: String,
        emoji: String,
        task_type: String,
        tier: String,
    },
    Routing {
        agent: String,
        method: RouteMethod,
        graph: String,
    },
    NodeStart {
        graph: String,
        node: String,
        kind: &'static str,
    },
    NodeEnd {
        graph: String,
        node: String,
        ok: bool,
        elapsed_ms: f64,
    },
    ToolStart {
        tool: String,
        args: Value,
    },
    ToolEnd {
        tool: String,
        ok: bool,
        result_preview: String,
        elapsed_ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A model failed and the next one in the fallback chain takes over.
    ModelFallback {
        from: String,
        to: String,
        reason: String,
    },
    Token {
        content: String,
    },
    Response {
        content: String,
    },
    Error {
        kind: String,
        message: String,
    },
    StreamEnd {
        total_tokens: u64,
        prompt_tokens: u64,
        completion_tokens: u64,
        elapsed_s: f64,
        steps: usize,
        ok: bool,
    },
}

/// How a router decided.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RouteMethod {
    /// An intent regex matched: no model call.
    Rules,
    /// The model chose.
    Model,
    /// Neither decided; the router's default route.
    Default,
}

impl Event {
    /// Every event name, in the order a run emits them; kept beside `name` so they agree.
    /// Defined in `core`, so that `validate` can check the events a test case names.
    pub const NAMES: &[&str] = crate::core::EVENT_NAMES;

    pub fn name(&self) -> &'static str {
        match self {
            Event::StreamStart { .. } => "stream_start",
            Event::ModelSelection { .. } => "model_selection",
            Event::Routing { .. } => "routing",
            Event::NodeStart { .. } => "node_start",
            Event::NodeEnd { .. } => "node_end",
            Event::ToolStart { .. } => "tool_start",
            Event::ToolEnd { .. } => "tool_end",
            Event::ModelFallback { .. } => "model_fallback",
            Event::Token { .. } => "token",
            Event::Response { .. } => "response",
            Event::Error { .. } => "error",
            Event::StreamEnd { .. } => "stream_end",
        }
    }
}

/// What goes on the wire: the event plus run id, sequence number and Unix time.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    #[serde(flatten)]
    pub event: Event,
    pub run_id: Arc<str>,
    /// Strictly increasing within a run, from 0.
    pub seq: u64,
    /// Seconds since the Unix epoch.
    pub ts: f64,
}

impl Envelope {
    pub fn name(&self) -> &'static str {
        self.event.name()
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}
