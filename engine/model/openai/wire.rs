//! The request side of the wire: our messages and tools as a chat-completions body.

use serde_json::{Map, Value, json};

use super::options::{Options, ToolChoice};
use crate::model::{ChatRequest, Message, Purpose, Role};

/// The conversation in OpenAI's shape. Routing adds the instruction to answer with a
/// route name; empty system messages (a router without a prompt) are left out.
pub fn messages(req: &ChatRequest<'_>) -> Vec<Value> {
    let mut out: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| !(m.role == Role::System && m.content.trim().is_empty()))
        .map(message)
        .collect();
    if let Purpose::Route { routes } = req.purpose {
        let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        let rule = format!(
            "Reply with exactly one of these names and nothing else: {}.",
            names.join(", ")
        );
        // One leading system message: some chat templates accept no other.
        match out.first_mut() {
            Some(first) if first["role"] == "system" => {
                let text = format!("{}\n\n{rule}", first["content"].as_str().unwrap_or(""));
                first["content"] = text.into();
            }
            _ => out.insert(0, json!({"role": "system", "content": rule})),
        }
    }
    out
}

fn message(m: &Message) -> Value {
    match m.role {
        Role::Assistant if !m.tool_calls.is_empty() => json!({
            "role": "assistant",
            // Some local chat templates fail on a null content.
            "content": m.content,
            "tool_calls": m.tool_calls.iter().map(|c| json!({
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.args.to_string()},
            })).collect::<Vec<_>>(),
        }),
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
            "content": m.content,
        }),
        role => json!({"role": role, "content": m.content}),
    }
}

/// The asking-again message of a repair turn.
pub fn repair(problem: &str) -> Value {
    json!({
        "role": "user",
        "content": format!(
            "Your previous reply had an invalid tool call: {problem}. Call the function again with arguments that are one JSON object matching its parameters schema."
        ),
    })
}

/// The full request body for one attempt.
pub fn body(model: &str, messages: &[Value], req: &ChatRequest<'_>, opts: &Options) -> Value {
    let mut b = Map::new();
    b.insert("model".into(), model.into());
    b.insert("messages".into(), messages.to_vec().into());
    b.insert("stream".into(), true.into());
    if opts.stream_usage {
        b.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.args_schema,
                }})
            })
            .collect();
        b.insert("tools".into(), tools.into());
        if let Some(choice) = tool_choice(req, messages, &opts.tool_choice) {
            b.insert("tool_choice".into(), choice);
        }
    }
    if req.json {
        b.insert("response_format".into(), json!({"type": "json_object"}));
    }
    if let Some(t) = opts.temperature {
        b.insert("temperature".into(), t.into());
    }
    if let Some(n) = opts.max_tokens {
        b.insert("max_tokens".into(), n.into());
    }
    Value::Object(b)
}

/// Forcing a tool applies only before the question has tool results, or the loop would
/// call it forever; a forced function the node does not offer is not sent.
fn tool_choice(req: &ChatRequest<'_>, messages: &[Value], choice: &ToolChoice) -> Option<Value> {
    let last_user = messages
        .iter()
        .rposition(|m| m["role"] == "user")
        .unwrap_or(0);
    let has_results = messages[last_user..].iter().any(|m| m["role"] == "tool");
    match choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some("none".into()),
        ToolChoice::Required if !has_results => Some("required".into()),
        ToolChoice::Function(name) if !has_results && req.tools.iter().any(|t| &t.name == name) => {
            Some(json!({"type": "function", "function": {"name": name}}))
        }
        _ => None,
    }
}
