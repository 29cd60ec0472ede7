//! `GET /api/tools` (the declared tools and their argument schemas) and
//! `POST /api/tools/{name}` (run one with JSON-Schema-checked arguments).
//!
//! The console's dashboard, anomaly and 1:1 pages read their numbers here, through the
//! same `ToolRunner` and the same tool definitions the agents call, so a page and a chat
//! answer never disagree. Pipeline tools (`store: pipeline`) run a graph and are refused:
//! `POST /api/chat` with `"graph": NAME` runs those.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::config::spec::StoreRole;
use crate::core::did_you_mean;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// relational, metrics, graph, documents, builtin or pipeline.
    pub store: String,
    /// The JSON Schema its arguments are checked against.
    #[schema(value_type = Object)]
    pub args: Value,
    /// False for pipeline tools (run them with `POST /api/chat` and `graph`).
    pub runnable: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolList {
    pub tools: Vec<ToolInfo>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolResult {
    pub tool: String,
    /// The arguments as given (defaults are filled in by the tool).
    #[schema(value_type = Object)]
    pub args: Value,
    /// What the tool returned: rows, or an object for builtins.
    pub result: Value,
    pub elapsed_ms: f64,
}

/// Every declared tool, by name.
#[utoipa::path(get, path = "/api/tools", tag = "tools",
    responses(
        (status = 200, description = "The declared tools", body = ToolList),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Json<ToolList> {
    let set = state.engine.config();
    let mut tools: Vec<ToolInfo> = set
        .tools()
        .map(|t| ToolInfo {
            name: t.name.clone(),
            description: t.description.clone(),
            store: t.store.name().into(),
            args: t.args_schema.clone(),
            runnable: t.store != StoreRole::Pipeline,
        })
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    Json(ToolList { tools })
}

/// Runs one declared tool, as an agent would, with arguments checked against its schema.
///
/// The body is the arguments object (`{}` for none), e.g. `{"team": "Payments", "days": 28}`
/// for `dora_metrics`. Names (`person`, `team`, `service`…) are resolved like the agents'.
#[utoipa::path(post, path = "/api/tools/{name}", tag = "tools",
    params(("name" = String, Path, description = "Tool name, e.g. dora_metrics")),
    request_body(content = Object, description = "The tool's arguments (an object; its schema is the tool's own)"),
    responses(
        (status = 200, description = "The tool's result", body = ToolResult),
        (status = 400, description = "A pipeline tool (use /api/chat with `graph`), or malformed JSON", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No such tool", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "The arguments do not match the tool's schema, or name what the organisation lacks (a team, a person); `detail` says which", body = ErrorBody),
        (status = 502, description = "The tool failed (a store error); `detail` says why", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(args): ApiJson<Value>,
) -> Result<Json<ToolResult>, ApiError> {
    let set = state.engine.config();
    let Some(tool) = set.tool(&name).cloned() else {
        let names: Vec<&str> = set.tools().map(|t| t.name.as_str()).collect();
        let hint = did_you_mean(&name, names.iter().copied());
        return Err(ApiError::not_found(format!(
            "no tool named \"{name}\"{hint}"
        )));
    };
    if tool.store == StoreRole::Pipeline {
        let graph = tool
            .pipeline
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_default();
        return Err(ApiError::bad_request(
            "pipeline_tool",
            format!(
                "\"{name}\" runs the graph \"{graph}\": use POST /api/chat with {{\"graph\": \"{graph}\"}}"
            ),
        ));
    }
    let invalid = |msg| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_args", msg);
    tool.check_args(&args).map_err(invalid)?;
    if let Some(why) = state.engine.tools().refuse(&tool, &args) {
        return Err(invalid(format!("invalid arguments for {name}: {why}")));
    }
    let t0 = Instant::now();
    let result = state.engine.tools().call(&tool, &args).await.map_err(|e| {
        state.metrics.error("api", "tool_failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "tool_failed",
            state.redact(&e.message),
        )
        .with("retryable", e.retryable.into())
    })?;
    Ok(Json(ToolResult {
        tool: name,
        args,
        result,
        elapsed_ms: t0.elapsed().as_secs_f64() * 1000.0,
    }))
}
