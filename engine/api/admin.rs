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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LastReload {
    /// When the running configuration replaced the one before it (RFC 3339).
    pub at: chrono::DateTime<chrono::Utc>,
    /// What changed, by name: `{graphs|tools|prompts: {added, changed, removed}}`.
    #[schema(value_type = Object)]
    pub changes: ConfigDiff,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiskState {
    /// `same` (the files are what runs), `changed` (valid, not loaded yet: reload to
    /// serve them), `invalid` (a reload would be refused) or `unreadable`.
    pub state: String,
    /// For `changed`: what a reload would change; null otherwise.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<ConfigDiff>,
    /// Every finding of the files on disk ({severity, code, file, line, col, message}).
    #[schema(value_type = Vec<Object>)]
    pub diagnostics: Vec<crate::core::Diagnostic>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigState {
    /// Graph names served.
    pub graphs: Vec<String>,
    pub tools: usize,
    /// Findings (warnings) of the running configuration, with file:line.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<crate::core::Diagnostic>,
    /// The files under the config directory now, against what runs.
    pub disk: DiskState,
    /// The last reload that changed something (HTTP, SIGHUP or --watch); null before any.
    pub last_reload: Option<LastReload>,
}

/// The validation state of the running configuration, the files on disk against it, and
/// what changed at the last reload.
#[utoipa::path(get, path = "/api/admin/config", tag = "operations",
    responses(
        (status = 200, description = "Validation state and last reload", body = ConfigState),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn config_state(State(state): State<AppState>) -> Result<Json<ConfigState>, ApiError> {
    let running = state.engine.config();
    let dir = state.config_dir.clone();
    let current = running.clone();
    let (warnings, disk) = tokio::task::spawn_blocking(move || {
        let mut report = crate::core::Report::default();
        crate::validate::check(&current.project, &mut report);
        report.sort();
        let disk = match crate::compile::load(&dir) {
            Ok((new, warnings)) => {
                let changes = ConfigDiff::new(&current.project, &new.project);
                DiskState {
                    state: if changes.is_empty() {
                        "same"
                    } else {
                        "changed"
                    }
                    .into(),
                    changes: (!changes.is_empty()).then_some(changes),
                    diagnostics: warnings.diagnostics,
                }
            }
            Err(crate::compile::Rejected::Invalid(report)) => DiskState {
                state: "invalid".into(),
                changes: None,
                diagnostics: report.diagnostics,
            },
            Err(rejected) => DiskState {
                state: "unreadable".into(),
                changes: None,
                diagnostics: crate::core::Report::from(rejected).diagnostics,
            },
        };
        (report.diagnostics, disk)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "config check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "check_failed",
            "the configuration could not be checked",
        )
    })?;
    let last_reload = state.engine.previous().map(|(old, at)| LastReload {
        at: at.into(),
        changes: ConfigDiff::new(&old.project, &running.project),
    });
    Ok(Json(ConfigState {
        graphs: running.graphs().map(|g| g.name.clone()).collect(),
        tools: running.tools().count(),
        warnings,
        disk,
        last_reload,
    }))
}
