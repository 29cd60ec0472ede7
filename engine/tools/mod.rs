//! What tool calls run against: the `ToolRunner` trait and its simplest runners.
//!
//! The store-backed runner lives with the stores; here are the seams the executor
//! needs and `MockTools` for `dry-run --mock-tools` and tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::compile::ToolDef;
use crate::understand::Vocabulary;

/// Why a tool call failed; retryable when the store timed out or dropped the connection.
pub type ToolError = crate::error::Failure;

#[async_trait]
pub trait ToolRunner: Send + Sync {
    /// Runs `tool` with args already checked against its schema.
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError>;

    /// Refuses args the schema allows but the data cannot (a team nobody has), saying
    /// why, before anything runs; `call` refuses them too. None by default.
    fn refuse(&self, _tool: &ToolDef, _args: &Value) -> Option<String> {
        None
    }

    /// JSON Schema keywords saying which values a string arg named `arg` may take (the
    /// stored names of a `team`), merged into the tool's schema in the API document.
    fn documented_arg(&self, _arg: &str) -> Option<Value> {
        None
    }

    /// The organisation's names and calendar, for question understanding; none for
    /// runners that serve canned results.
    fn vocabulary(&self) -> Arc<Vocabulary> {
        Arc::new(Vocabulary::default())
    }
}

/// Canned results by tool name; a tool without one fails with a clear message.
#[derive(Debug, Default, Clone)]
pub struct MockTools {
    results: HashMap<String, Value>,
}

impl MockTools {
    pub fn new(results: HashMap<String, Value>) -> Self {
        MockTools { results }
    }

    /// Reads a YAML or JSON map `tool name → result`.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let results: HashMap<String, Value> = serde_yaml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{}: not a map of tool name to result: {e}", path.display())
        })?;
        Ok(MockTools { results })
    }
}

#[async_trait]
impl ToolRunner for MockTools {
    async fn call(&self, tool: &ToolDef, _args: &Value) -> Result<Value, ToolError> {
        self.results.get(&tool.name).cloned().ok_or_else(|| {
            ToolError::fatal(format!(
                "no mock result for tool \"{}\" in the mock-tools file",
                tool.name
            ))
        })
    }
}
