//! The HTTP/SSE API (axum): the seed's routes, plus graphs, tools, hot reload, metrics
//! and the web console at `/`.
//!
//! `app(state)` builds the router apart from any socket so tests serve it on port 0;
//! `serve` runs it until a shutdown signal, ending open streams cleanly. Routes and
//! their request/response shapes are documented in the OpenAPI document (`openapi`).

mod admin;
mod auth;
mod chat;
mod console;
mod conversation;
mod error;
mod health;
mod limits;
mod metrics;
pub mod openapi;
mod redact;
mod state;
mod threads;
mod tools;
mod turn;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Request};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyDeadlineLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa_swagger_ui::{Config, SwaggerUi};

pub use admin::{Reloaded, reload};
pub use auth::Caller;
pub use chat::{ChatRequest, SyncResponse};
pub use error::ApiError;
pub use limits::exposure_warning;
pub use state::{AppParts, AppState, HealthSource, StoreHealth, Tuning, no_stores};

/// The whole router, with its layers.
pub fn app(state: AppState) -> Router {
    // Every /api route but health sits behind the (optional) bearer key.
    let guarded = Router::new()
        .route("/api/chat", post(chat::chat))
        .route("/api/chat/sync", post(chat::chat_sync))
        .route("/api/threads", post(threads::create).get(threads::list))
        .route(
            "/api/threads/{id}",
            get(threads::get)
                .delete(threads::delete)
                .patch(threads::rename),
        )
        .route("/api/graphs", get(admin::graphs))
        .route("/api/graphs/{name}", get(admin::graph))
        .route("/api/tools", get(tools::list))
        .route("/api/tools/{name}", post(tools::run))
        .merge(
            Router::new()
                .route("/api/admin/reload", post(admin::reload_route))
                .route("/api/admin/config", get(admin::config_state))
                .route_layer(axum::middleware::from_fn(auth::require_admin)),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    let metrics_route = Router::new()
        .route("/metrics", get(metrics::metrics))
        .route_layer(from_fn_with_state(state.clone(), auth::metrics_key));
    let open = Router::new()
        .route("/api/health", get(health::health))
        .merge(metrics_route)
        .merge(console::routes())
        .route("/openapi.json", get(openapi::serve))
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])));
    Router::new()
        .merge(guarded)
        .merge(open)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(error::uri_length))
        .layer(from_fn_with_state(state.clone(), redact::error_bodies))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(state.settings.body_limit_bytes))
        // A body sent slower than this is cut off (408): the whole body, not per chunk.
        .layer(RequestBodyDeadlineLayer::new(
            state.settings.limits.body_read_timeout,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<_>| {
                            let id = req
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(cors(&state.settings.cors_origins)),
        )
        .with_state(state)
}

/// `CORS_ORIGINS` (comma-separated) or any origin when unset.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers(["x-request-id"
            .parse::<axum::http::HeaderName>()
            .expect("valid")]);
    if origins.is_empty() || origins.iter().any(|o| o == "*") {
        return layer.allow_origin(Any);
    }
    let list: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    layer.allow_origin(AllowOrigin::list(list))
}

/// Binds `addr` with a listen backlog of 4096 (clamped by the kernel's somaxconn):
/// the std/mio default of 128 overflows when hundreds of clients connect at once, and
/// each dropped connection waits a second for the SYN retry.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves `app(state)` on `listener` within the configured limits (`limits`) until
/// `shutdown` resolves; then open streams get `error` (cancelled) and `stream_end`, and
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    let limits = state.settings.limits.clone();
    limits::serve_with_limits(listener, router, &limits, async move {
        shutdown.await;
        tracing::info!("shutting down: ending open streams");
        state.begin_shutdown();
    })
    .await
}
