//! The state of one graph run: its named keys (question, history and thread_id
//! included) and the graphs it is nested in; how a child run's state starts from its
//! parent's, and how rendered text takes the declared type of the key it is written to.

use serde_json::{Map, Value};

use crate::config::spec::StateType;
use crate::model::{Message, Role, Tier};
use crate::understand::Turn;

/// Named state keys of one graph run, and the graphs it runs in.
#[derive(Debug, Clone, Default)]
pub(super) struct State {
    pub(super) vars: Map<String, Value>,
    /// The graphs from the run's entry graph to this one (this one last).
    pub(super) graphs: Vec<String>,
}

impl State {
    /// The state a run of `graph` starts with.
    pub(super) fn entry(graph: &str, question: &str, thread_id: &str, history: &[Message]) -> Self {
        let mut vars = Map::new();
        vars.insert("question".into(), question.into());
        vars.insert("thread_id".into(), thread_id.into());
        vars.insert(
            "history".into(),
            serde_json::to_value(history).unwrap_or_default(),
        );
        State {
            vars,
            graphs: vec![graph.to_string()],
        }
    }

    pub(super) fn question(&self) -> &str {
        self.str("question").unwrap_or("")
    }

    pub(super) fn str(&self, key: &str) -> Option<&str> {
        self.vars.get(key).and_then(Value::as_str)
    }

    /// The state as a template context.
    pub(super) fn ctx(&self) -> minijinja::Value {
        jv(&self.vars)
    }

    /// The node's tier, else the state's `model_tier` (the one `classify` chose; a name
    /// that is no tier serves as primary, as settings always read it), else `default`.
    pub(super) fn tier(&self, node: Option<Tier>, default: Tier) -> Tier {
        node.or_else(|| {
            self.str("model_tier")
                .map(|t| Tier::parse(t).unwrap_or(Tier::Primary))
        })
        .unwrap_or(default)
    }

    /// The thread's earlier messages, oldest first.
    pub(super) fn history(&self) -> Vec<Message> {
        self.vars
            .get("history")
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .unwrap_or_default()
    }

    /// The thread's earlier exchanges, oldest first.
    pub(super) fn turns(&self) -> Vec<Turn> {
        let mut out: Vec<Turn> = Vec::new();
        for m in self.history() {
            match m.role {
                Role::User => out.push(Turn {
                    question: m.content,
                    answer: String::new(),
                }),
                Role::Assistant if !m.content.is_empty() => {
                    if let Some(t) = out.last_mut() {
                        t.answer = m.content;
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The state a child run of `graph` starts with: the question and conversation
    /// carry over.
    pub(super) fn child(&self, graph: &str) -> State {
        let mut vars = Map::new();
        for k in [
            "question",
            "history",
            "thread_id",
            "task_type",
            "model_tier",
        ] {
            if let Some(v) = self.vars.get(k) {
                vars.insert(k.into(), v.clone());
            }
        }
        let mut graphs = self.graphs.clone();
        graphs.push(graph.to_string());
        State { vars, graphs }
    }
}

/// Rendered text becomes the declared type of the state key it is written to.
pub(super) fn typed(ty: StateType, v: Value) -> Value {
    let Value::String(s) = &v else { return v };
    let t = s.trim();
    let parsed = match ty {
        StateType::Integer => t.parse::<i64>().ok().map(Value::from),
        StateType::Number => t.parse::<f64>().ok().map(Value::from),
        StateType::Boolean => t.parse::<bool>().ok().map(Value::from),
        StateType::List | StateType::Object => serde_json::from_str(t).ok(),
        StateType::String | StateType::Any => None,
    };
    parsed.unwrap_or(v)
}

/// A state value as the text of an answer.
pub(super) fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Any serializable value as a template value.
pub(super) fn jv<T: serde::Serialize>(v: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}
