//! The web console at `/`: plain JS modules and CSS from `console/`, embedded at compile
//! time (no build step, nothing fetched at run time), served with a strict
//! Content-Security-Policy so nothing but these files ever runs in the page.
//!
//! It is a client of the public API only (`/api/chat`, `/api/threads`, `/api/tools`,
//! `/api/graphs`), with the same bearer key as any other client.

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::{ApiError, ApiPath};

/// Scripts and styles from this origin only; API calls to this origin only; no plugins,
/// no framing, no inline script, so text from answers or documents can never run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `(file name, content type, bytes)` of every embedded asset.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../console/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/api.js"),
    ),
    (
        "markdown.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/markdown.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/dom.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/chart.js"),
    ),
    (
        "chat.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/chat.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/dashboard.js"),
    ),
    (
        "oneonone.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/oneonone.js"),
    ),
    (
        "anomalies.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/anomalies.js"),
    ),
    (
        "graphs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/graphs.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../console/favicon.svg"),
    ),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/console/{file}", get(asset))
}

async fn index(State(state): State<AppState>) -> Response {
    serve(&state, "index.html").unwrap_or_else(|| ApiError::not_found("no console").into_response())
}

async fn asset(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
) -> Result<Response, ApiError> {
    serve(&state, &file).ok_or_else(|| ApiError::not_found(format!("no console file \"{file}\"")))
}

/// One of the known files (never another path): from `CONSOLE_DIR` when set, else embedded.
fn serve(state: &AppState, file: &str) -> Option<Response> {
    let (name, ctype, embedded) = ASSETS.iter().find(|(name, _, _)| *name == file)?;
    let body = match &state.settings.console_dir {
        Some(dir) => std::fs::read(dir.join(name)).ok()?,
        None => embedded.to_vec(),
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    // Small files, revalidated each load: an upgraded binary never serves stale scripts.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    Some(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_asset_is_small_and_the_total_stays_under_budget() {
        for (name, _, body) in super::ASSETS {
            assert!(!body.is_empty(), "{name} is empty");
        }
        let total: usize = super::ASSETS.iter().map(|(_, _, b)| b.len()).sum();
        assert!(total < 150_000, "the console grew to {total} bytes");
    }
}
