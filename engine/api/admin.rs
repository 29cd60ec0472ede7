//! Hot reload (`POST /api/admin/reload`, also SIGHUP) and the graph listing and drawing
//! (`GET /api/graphs`, `GET /api/graphs/{name}`).
//!
//! A reload re-reads graphs/, prompts/ and tools.yaml, validates and compiles them and
//! swaps the engine's set (`crate::reload`); a configuration with errors is refused with
//! its diagnostics and the running one stays. Runs in flight keep the set they started
//! with.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::compile::{CompiledGraph, draw};
use crate::reload::ConfigDiff;
use crate::validate::diagnostic::did_you_mean;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    /// False when the files match the running configuration (nothing was swapped).
    pub reloaded: bool,
    /// What changed, by name: `{graphs|tools|prompts: {added, changed, removed}}`.
    #[schema(value_type = Object)]
    pub changes: ConfigDiff,
    /// Graph names now served.
    pub graphs: Vec<String>,
    pub tools: usize,
}

/// Reloads from `state.config_dir` (through `crate::reload`, like SIGHUP and
/// `serve --watch`); Err is the refusal to send back.
pub async fn reload(state: &AppState) -> Result<Reloaded, ApiError> {
    let _one_at_a_time = state.reloading.lock().await;
    let (engine, dir) = (state.engine.clone(), state.config_dir.clone());
    let outcome = tokio::task::spawn_blocking(move || crate::reload::reload(&engine, &dir))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reload task failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "reload_failed",
                "the reload did not complete; the running configuration stays",
            )
        })?;
    match outcome {
        Ok(changes) => {
            let set = state.engine.config();
            tracing::info!(changes = %changes, "configuration reloaded");
            Ok(Reloaded {
                reloaded: !changes.is_empty(),
                changes,
                graphs: set.graphs().map(|g| g.name.clone()).collect(),
                tools: set.tools().count(),
            })
        }
        Err(report) => {
            state.metrics.error("api", "invalid_config");
            for d in &report.diagnostics {
                tracing::warn!(diagnostic = %d, "reload refused");
            }
            let first = report
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map(|d| format!(" First: {d}"))
                .unwrap_or_default();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!(
                    "the configuration has {} error(s) and was not loaded; the running one stays.{first}",
                    report.errors()
                ),
            )
            .with("diagnostics", json!(report.diagnostics)))
        }
    }
}

/// Re-reads graphs/, prompts/ and tools.yaml; refuses a broken configuration.
#[utoipa::path(post, path = "/api/admin/reload", tag = "operations",
    responses(
        (status = 200, description = "Reloaded; new runs use the new configuration", body = Reloaded),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 422, description = "Refused: `diagnostics` lists every problem ({severity, code, file, line, col, message}); the running configuration stays", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn reload_route(State(state): State<AppState>) -> Result<Json<Reloaded>, ApiError> {
    reload(&state).await.map(Json)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphSummary {
    pub name: String,
    pub description: String,
    /// Source file, relative to the project directory.
    pub file: String,
    pub start: String,
    pub nodes: usize,
    pub edges: usize,
    /// Whether a chat may name it in `graph`: false for a graph that runs only as a step
    /// of another, with inputs a request cannot give.
    pub runnable: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphList {
    pub graphs: Vec<GraphSummary>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphNode {
    pub name: String,
    /// classify, router, agent, llm, tool, subgraph, map, template or end.
    pub kind: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// The condition or route name, if any.
    pub label: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GraphDetail {
    pub name: String,
    pub description: String,
    pub file: String,
    pub start: String,
    pub max_steps: usize,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// A mermaid `flowchart` of the graph.
    pub mermaid: String,
}

fn summary(g: &CompiledGraph, steps: &std::collections::BTreeSet<String>) -> GraphSummary {
    GraphSummary {
        runnable: !steps.contains(&g.name),
        name: g.name.clone(),
        description: g.description.clone(),
        file: g.file.clone(),
        start: g.graph[g.start].name.clone(),
        nodes: g.graph.node_count(),
        edges: g.graph.edge_count(),
    }
}

/// Every graph of the running configuration.
#[utoipa::path(get, path = "/api/graphs", tag = "graphs",
    responses(
        (status = 200, description = "The graphs", body = GraphList),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn graphs(State(state): State<AppState>) -> Json<GraphList> {
    let set = state.engine.config();
    let steps = set.step_graphs();
    Json(GraphList {
        graphs: set.graphs().map(|g| summary(g, &steps)).collect(),
    })
}

/// One graph: its nodes, edges and a mermaid drawing.
#[utoipa::path(get, path = "/api/graphs/{name}", tag = "graphs",
    params(("name" = String, Path, description = "Graph name, e.g. supervisor")),
    responses(
        (status = 200, description = "The graph", body = GraphDetail),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No such graph", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn graph(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<GraphDetail>, ApiError> {
    let set = state.engine.config();
    let Some(g) = set.graph(&name) else {
        let names: Vec<&str> = set.graphs().map(|g| g.name.as_str()).collect();
        let hint = did_you_mean(&name, names.iter().copied());
        return Err(ApiError::not_found(format!(
            "no graph named \"{name}\"{hint}; graphs: {}",
            names.join(", ")
        )));
    };
    let nodes = g
        .graph
        .node_indices()
        .map(|i| GraphNode {
            name: g.graph[i].name.clone(),
            kind: g.graph[i].kind.name().into(),
        })
        .collect();
    let edges = g
        .graph
        .edge_indices()
        .filter_map(|e| {
            let (a, b) = g.graph.edge_endpoints(e)?;
            Some(GraphEdge {
                from: g.graph[a].name.clone(),
                to: g.graph[b].name.clone(),
                label: g.graph[e].label.clone(),
            })
        })
        .collect();
    Ok(Json(GraphDetail {
        name: g.name.clone(),
        description: g.description.clone(),
        file: g.file.clone(),
        start: g.graph[g.start].name.clone(),
        max_steps: g.max_steps,
        nodes,
        edges,
        mermaid: draw::mermaid(g),
    }))
}
