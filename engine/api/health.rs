//! `GET /api/health`: the seed's `{status, uptime_s, agent_ready, databases}` from real
//! pings; `degraded` with 503 when any configured store is down. Never behind auth.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `healthy`, or `degraded` when a store is down or no graph can run.
    #[schema(example = "healthy")]
    pub status: &'static str,
    pub uptime_s: f64,
    /// The supervisor graph is loaded and the server is not shutting down.
    pub agent_ready: bool,
    /// Store name → `ok` or `error: <why>`; `threads` is the conversation store.
    #[schema(example = json!({"threads": "ok", "postgres": "ok", "clickhouse": "ok", "neo4j": "ok"}))]
    pub databases: BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/api/health", tag = "operations",
    responses(
        (status = 200, description = "Every configured store answered", body = Health),
        (status = 503, description = "Degraded: a store is down (see `databases`)", body = Health),
    ))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let limit = state.tuning.health_timeout;
    let timed_out = |limit: Duration| Err(format!("no answer within {:.1} s", limit.as_secs_f64()));
    // The stores bound each ping themselves (so each is named); this bounds a source
    // that would not.
    let backstop = 2 * limit.max(crate::store::PING_TIMEOUT);
    let (stores, threads) = tokio::join!(
        tokio::time::timeout(backstop, state.health.check()),
        tokio::time::timeout(limit, state.threads.ping()),
    );
    let mut checks = stores.unwrap_or_else(|_| vec![("stores".into(), timed_out(backstop))]);
    checks.push((
        "threads".into(),
        match threads {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => timed_out(limit),
        },
    ));
    let mut all_ok = true;
    let databases = checks
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    all_ok = false;
                    format!("error: {}", state.redact(&e))
                }
            };
            (name, v)
        })
        .collect();
    let agent_ready = !state.shutdown.is_cancelled()
        && state
            .engine
            .config()
            .graph(crate::config::spec::SUPERVISOR)
            .is_some();
    let healthy = all_ok && agent_ready;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if healthy { "healthy" } else { "degraded" },
            uptime_s: (state.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            agent_ready,
            databases,
        }),
    )
}
