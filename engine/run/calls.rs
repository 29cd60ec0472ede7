//! Tool calls: `call_tool` runs one call between its `tool_start` and `tool_end` events
//! (arguments checked against the tool's schema first; a pipeline tool runs its graph as
//! a child run), and `agent_call` is one call of an agent's tool loop, answered back to
//! the model whether it worked or not.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::event::Event;
use super::exec::Exec;
use super::state::{State, jv};
use super::walk::ms;
use crate::compile::ToolDef;
use crate::model::ToolCall;
use crate::tools::ToolError;
use crate::understand::Understanding;
use crate::understand::vocab::Via;

/// The text at a dotted path of keys and row numbers (`people.0.name`) in a result: a
/// JSON Pointer written with dots.
fn pick(v: &Value, path: &str) -> Option<String> {
    v.pointer(&format!("/{}", path.replace('.', "/")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The text at `path` in every row: the first row number in the path stands for each
/// (`people.0.name` → every `people.N.name`).
fn pick_all(v: &Value, path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let Some(at) = parts.iter().position(|p| p.parse::<usize>().is_ok()) else {
        return pick(v, path).into_iter().collect();
    };
    let rows = match at {
        0 => v.as_array(),
        _ => v
            .pointer(&format!("/{}", parts[..at].join("/")))
            .and_then(Value::as_array),
    };
    let field = parts[at + 1..].join(".");
    let mut out: Vec<String> = Vec::new();
    for row in rows.into_iter().flatten() {
        if let Some(name) = pick(row, &field)
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

impl Exec {
    /// One tool call with its tool_start/tool_end events; args are checked against the
    /// schema first. A pipeline tool runs its graph, whose events come in between: the
    /// conversation carries over, each arg sets the state key of its name (`question`
    /// replaces the question), and the graph's answer is the result.
    pub(super) async fn call_tool(
        &self,
        tool: &ToolDef,
        args: Value,
        state: &State,
    ) -> Result<Value, ToolError> {
        self.emit(Event::ToolStart {
            tool: tool.name.clone(),
            args: args.clone(),
        });
        let t0 = Instant::now();
        let result = match (tool.check_args(&args), &tool.pipeline) {
            (Err(msg), _) => Err(ToolError::fatal(msg)),
            (Ok(()), Some(graph)) => {
                let inputs = args.as_object().cloned().unwrap_or_default();
                self.run_child(graph, state, inputs)
                    .await
                    .map(|answer| answer.unwrap_or(Value::Null))
                    .map_err(|e| e.into_failure())
            }
            (Ok(()), None) => self.tools.call(tool, &args).await,
        };
        let (ok, preview, error) = match &result {
            Ok(v) => (true, self.preview(tool, v, &args), None),
            Err(e) => (false, e.message.clone(), Some(e.message.clone())),
        };
        self.emit(Event::ToolEnd {
            tool: tool.name.clone(),
            ok,
            result_preview: preview,
            elapsed_ms: ms(t0),
            error,
        });
        result
    }

    /// One tool call an agent's model asked for: what goes back to the model, and the
    /// entry for the agent's results. A tool the node does not have, or a failed call,
    /// is an answer too, so that the model can try otherwise.
    pub(super) async fn agent_call(
        &self,
        tools: &[std::sync::Arc<ToolDef>],
        call: &ToolCall,
        state: &State,
        u: &Understanding,
    ) -> (String, Value) {
        let Some(tool) = tools.iter().find(|t| t.name == call.name) else {
            let msg = format!(
                "unknown tool \"{}\"; available: {}",
                call.name,
                tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.emit(Event::ToolStart {
                tool: call.name.clone(),
                args: call.args.clone(),
            });
            self.emit(Event::ToolEnd {
                tool: call.name.clone(),
                ok: false,
                result_preview: msg.clone(),
                elapsed_ms: 0.0,
                error: Some(msg.clone()),
            });
            let entry = json!({"tool": call.name, "args": call.args, "ok": false, "error": msg});
            return (msg, entry);
        };
        match self.call_tool(tool, call.args.clone(), state).await {
            Ok(v) => {
                let v = u.keep_among(v);
                (
                    v.to_string(),
                    json!({"tool": call.name, "args": call.args, "ok": true, "result": v}),
                )
            }
            Err(e) => (
                format!("error: {}", e.message),
                json!({"tool": call.name, "args": call.args, "ok": false, "error": e.message}),
            ),
        }
    }

    /// People said by a role ("the Payments manager", "the most overloaded engineer"),
    /// found by their lookup tool first, each lookup a step with its own events: the
    /// reading then names them, and the lines say who was found. A lookup that finds
    /// nobody leaves who is meant to be asked back.
    pub(super) async fn resolve_references(
        &self,
        u: Arc<Understanding>,
        state: &State,
    ) -> (Arc<Understanding>, Vec<String>) {
        let todo: Vec<(usize, Via)> = u.references().map(|(i, v)| (i, v.clone())).collect();
        if todo.is_empty() && u.among_via.is_none() {
            return (u, Vec::new());
        }
        let mut out = (*u).clone();
        let mut lines = Vec::new();
        if let Some(via) = out.among_via.take() {
            let found = match self.set.tool(&via.tool) {
                Some(tool) => self
                    .call_tool(tool, Value::Object(via.args.clone()), state)
                    .await
                    .map(|v| pick_all(&v, &via.pick))
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            lines.push(match found.as_slice() {
                [] => format!("No {} found ({}).", via.said, via.tool),
                names => format!(
                    "{}: {} ({}).",
                    super::answer::capitalise(&via.said),
                    names.join(", "),
                    via.tool
                ),
            });
            // One of them is that person, for a tool that takes one.
            if let [one] = found.as_slice() {
                out.mentions.push(crate::understand::remembered(
                    crate::understand::Kind::Person,
                    one.clone(),
                ));
            }
            out.among = found;
            out.among_only = true;
        }
        // Last first, so that a mention dropped leaves the others' places alone.
        for (i, via) in todo.into_iter().rev() {
            let found = match self.set.tool(&via.tool) {
                Some(tool) => self
                    .call_tool(tool, Value::Object(via.args.clone()), state)
                    .await
                    .ok()
                    .and_then(|v| pick(&v, &via.pick)),
                None => None,
            };
            if let Some(name) = &found {
                lines.push(format!("{name} is {} ({}).", via.said, via.tool));
            }
            out.found(i, found, &self.vocabulary);
        }
        (Arc::new(out), lines)
    }

    /// The `result_preview` of a call: the tool's preview template, else a row count or
    /// the start of the result.
    fn preview(&self, tool: &ToolDef, result: &Value, args: &Value) -> String {
        if tool.has_preview
            && let Ok(s) = self.render(
                &tool.preview_template(),
                &minijinja::context! { result => jv(result), args => jv(args) },
            )
        {
            return s;
        }
        match result {
            Value::Array(a) => format!("{} rows", a.len()),
            Value::Null => "no result".into(),
            other => {
                let s = other.to_string();
                if s.len() > 120 {
                    format!("{}…", &s[..s.floor_char_boundary(120)])
                } else {
                    s
                }
            }
        }
    }
}
