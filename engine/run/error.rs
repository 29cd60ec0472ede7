//! Why a run or a node stopped: `RunError`, its wire `ErrorKind`, and `NodeSite`, which
//! says which node of which graph, and where it is written, failed.

use std::fmt;

use crate::compile::{CompiledGraph, Node};
use crate::error::Failure;

/// The `kind` of the SSE `error` event; `as_str` gives the wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Cancelled,
    UnknownGraph,
    StepLimit,
    NestingLimit,
    Timeout,
    NoEdge,
    Tool,
    Model,
    Template,
    Condition,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::UnknownGraph => "unknown_graph",
            ErrorKind::StepLimit => "step_limit",
            ErrorKind::NestingLimit => "nesting_limit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NoEdge => "no_edge",
            ErrorKind::Tool => "tool_error",
            ErrorKind::Model => "model_error",
            ErrorKind::Template => "template_error",
            ErrorKind::Condition => "condition_error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node, its graph and where the node is written:
/// `node "agent" of graph "dora_pro" (graphs/specialists/dora_pro.yaml:6)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSite {
    pub node: String,
    pub graph: String,
    pub file: String,
    pub line: usize,
}

impl NodeSite {
    pub fn of(g: &CompiledGraph, node: &Node) -> Self {
        NodeSite {
            node: node.name.clone(),
            graph: g.name.clone(),
            file: g.file.clone(),
            line: node.line,
        }
    }
}

impl fmt::Display for NodeSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node \"{}\" of graph \"{}\" ({}:{})",
            self.node, self.graph, self.file, self.line
        )
    }
}

/// Why a run (or a node) stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("the run was cancelled")]
    Cancelled,
    #[error("unknown graph \"{0}\"")]
    UnknownGraph(String),
    #[error(
        "step limit of {limit} reached in graph \"{graph}\": the run kept looping through {nodes}; add a condition that leaves the loop or raise max_steps"
    )]
    StepLimit {
        graph: String,
        limit: usize,
        nodes: String,
    },
    #[error(
        "graphs nested more than {limit} deep: {path}; a graph must not run itself through subgraphs, maps or pipeline tools (validate reports E050, E051), and nesting this deep is refused"
    )]
    NestingLimit { limit: usize, path: String },
    #[error("{at} timed out after {ms} ms")]
    Timeout { at: NodeSite, ms: u128 },
    #[error("no edge out of {at} matched the state; add an unconditional edge as the last one")]
    NoEdge { at: NodeSite },
    #[error("{at} failed: {message}")]
    Node {
        at: NodeSite,
        message: String,
        retryable: bool,
        kind: ErrorKind,
    },
}

impl RunError {
    /// A node's failure that another try would not change.
    pub fn node(at: NodeSite, kind: ErrorKind, e: impl fmt::Display) -> Self {
        RunError::Node {
            at,
            message: e.to_string(),
            retryable: false,
            kind,
        }
    }

    /// A node's failed call to a tool or a model, retryable when the call was.
    pub fn call(at: NodeSite, kind: ErrorKind, f: Failure) -> Self {
        RunError::Node {
            at,
            message: f.message,
            retryable: f.retryable,
            kind,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            RunError::Cancelled => ErrorKind::Cancelled,
            RunError::UnknownGraph(_) => ErrorKind::UnknownGraph,
            RunError::StepLimit { .. } => ErrorKind::StepLimit,
            RunError::NestingLimit { .. } => ErrorKind::NestingLimit,
            RunError::Timeout { .. } => ErrorKind::Timeout,
            RunError::NoEdge { .. } => ErrorKind::NoEdge,
            RunError::Node { kind, .. } => *kind,
        }
    }

    /// Worth running the node again: a timeout, or a retryable call.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            RunError::Timeout { .. }
                | RunError::Node {
                    retryable: true,
                    ..
                }
        )
    }

    /// The run's failure as a tool's: how a pipeline tool's graph fails its call.
    pub fn into_failure(self) -> Failure {
        Failure {
            retryable: self.retryable(),
            message: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_keep_their_wire_names() {
        let names: Vec<&str> = [
            ErrorKind::Cancelled,
            ErrorKind::UnknownGraph,
            ErrorKind::StepLimit,
            ErrorKind::NestingLimit,
            ErrorKind::Timeout,
            ErrorKind::NoEdge,
            ErrorKind::Tool,
            ErrorKind::Model,
            ErrorKind::Template,
            ErrorKind::Condition,
        ]
        .map(ErrorKind::as_str)
        .into();
        assert_eq!(
            names,
            [
                "cancelled",
                "unknown_graph",
                "step_limit",
                "nesting_limit",
                "timeout",
                "no_edge",
                "tool_error",
                "model_error",
                "template_error",
                "condition_error"
            ]
        );
    }

    #[test]
    fn a_node_error_says_which_node_of_which_graph_and_where() {
        let at = NodeSite {
            node: "agent".into(),
            graph: "dora_pro".into(),
            file: "graphs/specialists/dora_pro.yaml".into(),
            line: 6,
        };
        let e = RunError::call(at, ErrorKind::Tool, Failure::transient("connection reset"));
        assert_eq!(
            e.to_string(),
            "node \"agent\" of graph \"dora_pro\" (graphs/specialists/dora_pro.yaml:6) failed: connection reset"
        );
        assert!(e.retryable());
        assert_eq!(e.kind().as_str(), "tool_error");
    }
}
