//! The OpenAPI 3.1 document (served at `/openapi.json`, browsable at `/docs`).
//!
//! Routes and bodies come from the handlers' annotations. The SSE events are described
//! here by types that mirror `run::Event` field for field (the engine's types stay free
//! of documentation concerns); a test checks real events against these schemas.
//! `document` completes it for the configuration being served: each SSE frame as a
//! schema (JSON Schema keywords utoipa lacks), the graphs a chat may name, and one path
//! per runnable tool with that tool's own argument schema, so the document stays true
//! across reloads (schemathesis checks it against the live server in CI).

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{admin, chat, health, metrics, threads, tools};
use crate::compile::CompiledSet;
use crate::config::spec::StoreRole;
use crate::tools::ToolRunner;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eng-intel",
        description = "Engineering-intelligence assistant: ask about people, teams, skills, delivery (DORA), workload and incidents. `POST /api/chat` streams Server-Sent Events (see the `SseEnvelope` schema); when `API_KEY` is set, every /api route but health needs `Authorization: Bearer <API_KEY>`. Errors are `{\"error\": kind, \"detail\": message}`.",
    ),
    paths(
        chat::chat, chat::chat_sync,
        threads::create, threads::list, threads::get, threads::delete, threads::rename,
        health::health, admin::reload_route, admin::config_state, admin::graphs, admin::graph, metrics::metrics,
        tools::list, tools::run,
    ),
    components(schemas(SseEnvelope, SseEvent)),
    modifiers(&Bearer),
    tags(
        (name = "chat", description = "Ask a question: streamed (SSE) or in one answer"),
        (name = "threads", description = "Conversations and their messages"),
        (name = "graphs", description = "The agent graphs being served"),
        (name = "tools", description = "The declared tools, run directly with checked arguments"),
        (name = "operations", description = "Health, metrics, hot reload"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// `GET /openapi.json`: the document for the configuration being served.
pub async fn serve(
    axum::extract::State(state): axum::extract::State<super::AppState>,
) -> axum::Json<Value> {
    axum::Json(document(
        &state.engine.config(),
        state.engine.tools().as_ref(),
    ))
}

/// The annotations' document, completed for `config` and the data `tools` run on (see
/// the module doc).
pub fn document(config: &CompiledSet, tools: &dyn ToolRunner) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    sse_frames(&mut doc);
    chat_graphs(&mut doc, config);
    tool_paths(&mut doc, config, tools);
    doc
}

/// A frame of `/api/chat`'s stream: the `event:` line and the `data:` line, whose JSON is
/// an `SseEnvelope` (Open API 3.1 reads an event stream's schema as one event's).
fn sse_frames(doc: &mut Value) {
    let names: Vec<Value> = doc["components"]["schemas"]["SseEvent"]["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["properties"]["event"]["enum"][0].clone())
        .collect();
    doc["paths"]["/api/chat"]["post"]["responses"]["200"]["content"]["text/event-stream"]["schema"] = json!({
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": names},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/SseEnvelope"},
            },
        },
    });
}

/// `graph` of a chat: absent, empty, or a graph a chat can run (not a step of another).
fn chat_graphs(doc: &mut Value, config: &CompiledSet) {
    let steps = config.step_graphs();
    let mut allowed = vec![Value::Null, json!("")];
    allowed.extend(
        config
            .graphs()
            .filter(|g| !steps.contains(&g.name))
            .map(|g| json!(g.name)),
    );
    doc["components"]["schemas"]["ChatRequest"]["properties"]["graph"]["enum"] =
        Value::Array(allowed);
}

/// `POST /api/tools/{name}` becomes one path per runnable tool, its body that tool's
/// argument schema with the values the data allow (pipeline tools run through
/// `/api/chat`).
fn tool_paths(doc: &mut Value, config: &CompiledSet, runner: &dyn ToolRunner) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let Some(template) = paths.remove("/api/tools/{name}") else {
        return;
    };
    for tool in config.tools().filter(|t| t.store != StoreRole::Pipeline) {
        let mut op = template["post"].clone();
        op["operationId"] = json!(format!("tool_{}", tool.name));
        op["summary"] = json!(format!("Runs the tool {}", tool.name));
        op["description"] = json!(tool.description);
        if let Some(o) = op.as_object_mut() {
            o.remove("parameters");
        }
        let mut schema = tool.args_schema.clone();
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for (arg, prop) in props.iter_mut() {
                if prop["type"] != "string" {
                    continue;
                }
                if let (Some(prop), Some(Value::Object(extra))) =
                    (prop.as_object_mut(), runner.documented_arg(arg))
                {
                    prop.extend(extra);
                }
            }
        }
        op["requestBody"]["content"]["application/json"]["schema"] = schema;
        paths.insert(format!("/api/tools/{}", tool.name), json!({"post": op}));
    }
}

/// One SSE event's `data:` line: the event name and its data, the run id, a sequence
/// number strictly increasing within the run (from 0), and the Unix time in seconds.
/// The `event:` line of the SSE frame repeats `event`.
#[derive(Serialize, ToSchema)]
pub struct SseEnvelope {
    #[serde(flatten)]
    pub event: SseEvent,
    pub run_id: String,
    pub seq: u64,
    pub ts: f64,
}

/// The events of a run, in the order they can occur.
#[derive(Serialize, ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum SseEvent {
    /// First, at once.
    StreamStart(StreamStart),
    /// The question's task type and the model serving its tier.
    ModelSelection(ModelSelection),
    /// A router chose a specialist.
    Routing(Routing),
    NodeStart(NodeStart),
    NodeEnd(NodeEnd),
    ToolStart(ToolStart),
    ToolEnd(ToolEnd),
    /// A model failed and the next one in the fallback chain takes over.
    ModelFallback(ModelFallback),
    /// A streamed piece of model output.
    Token(Text),
    /// The answer, in Markdown.
    Response(Text),
    /// The run failed or was cancelled (kind `cancelled` on disconnect or shutdown).
    Error(RunError),
    /// Always last.
    StreamEnd(StreamEnd),
}

#[derive(Serialize, ToSchema)]
pub struct StreamStart {
    pub query: String,
    /// The thread this turn belongs to (new unless the request gave one).
    pub thread_id: String,
    pub graph: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelSelection {
    pub model: String,
    pub emoji: String,
    pub task_type: String,
    pub tier: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteMethod {
    /// An intent rule matched: no model call.
    Rules,
    Model,
    Default,
}

#[derive(Serialize, ToSchema)]
pub struct Routing {
    pub agent: String,
    pub method: RouteMethod,
    pub graph: String,
}

#[derive(Serialize, ToSchema)]
pub struct NodeStart {
    pub graph: String,
    pub node: String,
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct NodeEnd {
    pub graph: String,
    pub node: String,
    pub ok: bool,
    pub elapsed_ms: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ToolStart {
    pub tool: String,
    #[schema(value_type = Object)]
    pub args: Value,
}

#[derive(Serialize, ToSchema)]
pub struct ToolEnd {
    pub tool: String,
    pub ok: bool,
    pub result_preview: String,
    pub elapsed_ms: f64,
    /// Only when `ok` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelFallback {
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Text {
    pub content: String,
}

#[derive(Serialize, ToSchema)]
pub struct RunError {
    pub kind: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct StreamEnd {
    pub total_tokens: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub elapsed_s: f64,
    pub steps: u64,
    pub ok: bool,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};
    use utoipa::OpenApi;

    use super::ApiDoc;
    use crate::run::{Envelope, Event, RouteMethod};

    /// One of each event; the match makes a new variant a compile error here, so it
    /// cannot go undocumented.
    fn one_of_each() -> Vec<Event> {
        let all = vec![
            Event::StreamStart {
                query: "q".into(),
                thread_id: "t".into(),
                graph: "g".into(),
            },
            Event::ModelSelection {
                model: "m".into(),
                emoji: "e".into(),
                task_type: "t".into(),
                tier: crate::model::Tier::Fast.to_string(),
            },
            Event::Routing {
                agent: "a".into(),
                method: RouteMethod::Rules,
                graph: "g".into(),
            },
            Event::NodeStart {
                graph: "g".into(),
                node: "n".into(),
                kind: "agent",
            },
            Event::NodeEnd {
                graph: "g".into(),
                node: "n".into(),
                ok: true,
                elapsed_ms: 1.0,
            },
            Event::ToolStart {
                tool: "t".into(),
                args: json!({"a": 1}),
            },
            Event::ToolEnd {
                tool: "t".into(),
                ok: false,
                result_preview: "p".into(),
                elapsed_ms: 1.0,
                error: Some("e".into()),
            },
            Event::ModelFallback {
                from: "a".into(),
                to: "b".into(),
                reason: "r".into(),
            },
            Event::Token {
                content: "c".into(),
            },
            Event::Response {
                content: "c".into(),
            },
            Event::Error {
                kind: "k".into(),
                message: "m".into(),
            },
            Event::StreamEnd {
                total_tokens: 1,
                prompt_tokens: 1,
                completion_tokens: 0,
                elapsed_s: 0.1,
                steps: 1,
                ok: true,
            },
        ];
        for e in &all {
            match e {
                Event::StreamStart { .. }
                | Event::ModelSelection { .. }
                | Event::Routing { .. }
                | Event::NodeStart { .. }
                | Event::NodeEnd { .. }
                | Event::ToolStart { .. }
                | Event::ToolEnd { .. }
                | Event::ModelFallback { .. }
                | Event::Token { .. }
                | Event::Response { .. }
                | Event::Error { .. }
                | Event::StreamEnd { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_event_matches_its_documented_schema() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let variants = schemas["SseEvent"]["oneOf"].as_array().unwrap();
        let events = one_of_each();
        assert_eq!(
            variants.len(),
            events.len(),
            "one documented variant per event"
        );
        for (seq, event) in events.into_iter().enumerate() {
            let name = event.name();
            let env: Value = serde_json::from_str(
                &Envelope {
                    event,
                    run_id: Arc::from("r"),
                    seq: seq as u64,
                    ts: 1.0,
                }
                .to_json(),
            )
            .unwrap();
            assert_eq!(env["event"], name);
            let variant = variants
                .iter()
                .find(|v| v["properties"]["event"]["enum"][0] == name)
                .unwrap_or_else(|| panic!("{name} is documented"));
            let reference = variant["properties"]["data"]["$ref"].as_str().unwrap();
            let schema = &schemas[reference.trim_start_matches("#/components/schemas/")];
            let props = schema["properties"].as_object().unwrap();
            let data = env["data"].as_object().unwrap();
            let mut sent: Vec<&String> = data.keys().collect();
            let mut documented: Vec<&String> = props.keys().collect();
            sent.sort();
            documented.sort();
            assert_eq!(sent, documented, "{name}");
        }
    }
}
