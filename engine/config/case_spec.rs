//! The serde layer of test cases: a `tests:` block in a graph file, or a file under
//! `graphs/tests/`. `validate` checks them and `graph_tests` runs them. Shape is checked by the JSON Schema (`$defs/test_case` in
//! docs/schema/graph.schema.json and docs/schema/tests.schema.json) before these are built.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One case: a question, its setup, and what must happen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub question: String,
    /// Earlier turns of the thread, oldest first.
    #[serde(default)]
    pub history: Vec<TurnSpec>,
    /// Graph to run; None = the file's graph (or the test file's, or supervisor).
    pub graph: Option<String>,
    /// Canned results by tool name; other tools run against the configured stores.
    pub tools: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSpec {
    pub role: TurnRole,
    pub content: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    User,
    Assistant,
}

/// What must have happened; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The run ends without an error (default true).
    pub ok: Option<bool>,
    /// The agent named by the first `routing` event.
    pub route: Option<String>,
    #[serde(default)]
    pub tools_called: Vec<CallSpec>,
    #[serde(default)]
    pub tools_not_called: Vec<String>,
    #[serde(default)]
    pub answer_contains: Vec<String>,
    pub answer_matches: Option<String>,
    /// Event names in order, as a subsequence of the run's events.
    #[serde(default)]
    pub events: Vec<String>,
    pub max_steps: Option<usize>,
}

/// An expected tool call: `tool_name`, or `{tool, args}` where args is a subset.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CallSpec {
    Name(String),
    Call {
        tool: String,
        #[serde(default)]
        args: Map<String, Value>,
    },
}

impl CallSpec {
    pub fn tool(&self) -> &str {
        match self {
            CallSpec::Name(t) | CallSpec::Call { tool: t, .. } => t,
        }
    }
    pub fn args(&self) -> Option<&Map<String, Value>> {
        match self {
            CallSpec::Name(_) => None,
            CallSpec::Call { args, .. } => Some(args),
        }
    }
}

/// A file under `graphs/tests/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The graph its cases run unless a case names another (default supervisor).
    pub graph: Option<String>,
    pub tests: Vec<CaseSpec>,
}
