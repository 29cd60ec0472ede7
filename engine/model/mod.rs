//! Models behind one trait: what the executor asks of a model, whoever answers it.
//!
//! A request carries the conversation and the tools in OpenAI's shape, plus the node's
//! purpose (route, agent step, completion) so that the offline model can answer the
//! same request deterministically from intents and templates.

pub mod fallback;
pub mod offline;
pub mod openai;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::{Route, ToolDef};
pub use crate::core::Tier;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_call_id: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub args: Value,
}

/// What the node wants from the model.
#[derive(Clone, Copy)]
pub enum Purpose<'a> {
    /// Pick one of `routes` (reply with its name).
    Route { routes: &'a [Route] },
    /// One step of an agent loop: call tools or answer. `answer` renders the node's
    /// answer template over the results so far (used by the offline model).
    Agent {
        answer: &'a (dyn Fn() -> String + Send + Sync),
    },
    /// Complete the prompt (text or JSON).
    Complete,
}

#[derive(Clone, Copy)]
pub struct ChatRequest<'a> {
    pub tier: Tier,
    pub question: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [Arc<ToolDef>],
    pub json: bool,
    pub purpose: Purpose<'a>,
    /// The question as the understanding stage read it (entities, window, tool scores).
    pub understanding: Option<&'a crate::understand::Understanding>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Text(String),
    ToolCalls(Vec<ToolCall>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
    }
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub reply: Reply,
    pub usage: Usage,
}

/// Why a model call failed; retryable on a rate limit, a 5xx or a lost connection.
pub type ModelError = crate::error::Failure;

/// Streaming tokens go here as they arrive.
pub type TokenSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Told when a chain of models moves on to the next one (see `fallback`).
pub type FallbackSink<'a> = &'a (dyn Fn(&fallback::FallbackNotice) + Send + Sync);

#[async_trait]
pub trait Model: Send + Sync {
    /// The model that serves `tier`, as shown in `model_selection`.
    fn model_name(&self, tier: Tier) -> String;
    async fn chat(&self, req: ChatRequest<'_>, tokens: TokenSink<'_>) -> Result<Turn, ModelError>;

    /// `chat`, telling `fallbacks` of each move to another model, so that a run can
    /// report it. Only chains move; a single model is just asked.
    async fn chat_with_fallbacks(
        &self,
        req: ChatRequest<'_>,
        tokens: TokenSink<'_>,
        fallbacks: FallbackSink<'_>,
    ) -> Result<Turn, ModelError> {
        let _ = fallbacks;
        self.chat(req, tokens).await
    }
}
