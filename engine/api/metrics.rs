//! Prometheus metrics at `/metrics`: requests, latencies, runs, tool calls, errors by kind.
//!
//! Labels come from fixed sets, so no request can grow the exposition: the method class
//! (the methods the API serves, `other` for the rest), the matched route template
//! (`/api/threads/{id}`, `unmatched` otherwise) and the status class (`2xx` … `5xx`);
//! tools and error kinds come from the configuration and code.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::{ErrorBody, ErrorKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// The method as a label: one of the standard methods, else `other`.
fn method_class(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
    ];
    KNOWN
        .iter()
        .find(|(k, _)| k == m)
        .map_or("other", |(_, name)| name)
}

/// `2xx`, `4xx`, … for the status label.
fn status_class(s: axum::http::StatusCode) -> &'static str {
    match s.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    source: &'static str,
    kind: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from 1 ms to about 65 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Histograms<RouteLabels>,
    runs: Family<OutcomeLabels, Counter>,
    runs_in_flight: Gauge,
    run_seconds: Histogram,
    first_event_seconds: Histogram,
    tool_calls: Family<ToolLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("eng_intel");
        let m = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_buckets),
            runs: Family::default(),
            runs_in_flight: Gauge::default(),
            run_seconds: latency_buckets(),
            first_event_seconds: latency_buckets(),
            tool_calls: Family::default(),
            errors: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by method class, route template and status class",
            m.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head (for SSE: until the stream opens)",
            m.latency.clone(),
        );
        registry.register(
            "runs",
            "Finished graph runs by outcome (ok, error, cancelled)",
            m.runs.clone(),
        );
        registry.register(
            "runs_in_flight",
            "Graph runs in progress",
            m.runs_in_flight.clone(),
        );
        registry.register(
            "run_duration_seconds",
            "Whole run, first to last event",
            m.run_seconds.clone(),
        );
        registry.register(
            "first_event_seconds",
            "From accepting a chat to its first event",
            m.first_event_seconds.clone(),
        );
        registry.register(
            "tool_calls",
            "Tool calls by tool and outcome",
            m.tool_calls.clone(),
        );
        registry.register(
            "errors",
            "Errors by source (api, run, store) and kind",
            m.errors.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn run_started(&self) {
        self.runs_in_flight.inc();
    }
    pub fn first_event(&self, since: Instant) {
        self.first_event_seconds
            .observe(since.elapsed().as_secs_f64());
    }
    pub fn run_finished(&self, outcome: &'static str, seconds: f64) {
        self.runs_in_flight.dec();
        self.runs.get_or_create(&OutcomeLabels { outcome }).inc();
        self.run_seconds.observe(seconds);
    }
    pub fn tool_call(&self, tool: &str, ok: bool) {
        self.tool_calls
            .get_or_create(&ToolLabels {
                tool: tool.to_string(),
                outcome: if ok { "ok" } else { "error" },
            })
            .inc();
    }
    pub fn error(&self, source: &'static str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                source,
                kind: kind.to_string(),
            })
            .inc();
    }
    pub(super) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Counts and times every request; API errors are counted by their kind.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = method_class(req.method());
    // Only a route the router matched is a label; any other path is `unmatched`.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    if let Some(ErrorKind(kind)) = res.extensions().get::<ErrorKind>() {
        state.metrics.error("api", kind);
    }
    let m = &state.metrics;
    m.requests
        .get_or_create(&HttpLabels {
            method,
            route: route.clone(),
            status: status_class(res.status()),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { method, route })
        .observe(t0.elapsed().as_secs_f64());
    res
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "OpenMetrics text exposition (Prometheus reads it)", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, description = "API_KEY is set, METRICS_PUBLIC is not, and the bearer token is missing or wrong", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        // Labels hold tool names and error kinds only, but nothing leaves unmasked.
        state.redact(&state.metrics.encode()),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(super::method_class(&Method::GET), "GET");
        let odd = Method::from_bytes(b"XYZZY").unwrap();
        assert_eq!(super::method_class(&odd), "other");
        assert_eq!(super::status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(super::status_class(StatusCode::OK), "2xx");
    }
}
