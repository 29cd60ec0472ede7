//! The model and tools of the case being run. Cases run one at a time on one engine, so
//! the configuration is compiled once; before each case the runner puts that case's
//! model and tools in these slots, and the engine calls through them.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde_json::Value;

use crate::compile::ToolDef;
use crate::model::offline::OfflineModel;
use crate::model::{ChatRequest, FallbackSink, Model, ModelError, TokenSink, Turn};
use crate::tools::{MockTools, ToolError, ToolRunner};

/// Delegates every call to the model of the current case.
pub struct ModelSlot(RwLock<Arc<dyn Model>>);

impl ModelSlot {
    pub fn new() -> Self {
        ModelSlot(RwLock::new(Arc::new(OfflineModel)))
    }
    pub fn set(&self, model: Arc<dyn Model>) {
        *self.0.write().expect("model slot") = model;
    }
    fn get(&self) -> Arc<dyn Model> {
        self.0.read().expect("model slot").clone()
    }
}

#[async_trait]
impl Model for ModelSlot {
    fn model_name(&self, tier: crate::model::Tier) -> String {
        self.get().model_name(tier)
    }
    async fn chat(&self, req: ChatRequest<'_>, tokens: TokenSink<'_>) -> Result<Turn, ModelError> {
        self.get().chat(req, tokens).await
    }
    async fn chat_with_fallbacks(
        &self,
        req: ChatRequest<'_>,
        tokens: TokenSink<'_>,
        fallbacks: FallbackSink<'_>,
    ) -> Result<Turn, ModelError> {
        self.get().chat_with_fallbacks(req, tokens, fallbacks).await
    }
}

/// Delegates every call to the tools of the current case.
pub struct ToolSlot(RwLock<Arc<dyn ToolRunner>>);

impl ToolSlot {
    pub fn new() -> Self {
        ToolSlot(RwLock::new(Arc::new(MockTools::default())))
    }
    pub fn set(&self, tools: Arc<dyn ToolRunner>) {
        *self.0.write().expect("tool slot") = tools;
    }
}

#[async_trait]
impl ToolRunner for ToolSlot {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        let tools = self.0.read().expect("tool slot").clone();
        tools.call(tool, args).await
    }

    fn vocabulary(&self) -> Arc<crate::understand::Vocabulary> {
        self.0.read().expect("tool slot").vocabulary()
    }
}
