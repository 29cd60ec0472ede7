//! One error type for every route, and extractors whose rejections use it, so that any
//! bad request gets the same JSON shape: `{"error": kind, "detail": message}`.
//!
//! `detail` is FastAPI's field name, which the seed's frontends already read. 5xx bodies
//! say what failed in general terms; the cause goes to the log.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::threads::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable kind, also the `errors_total` label.
    pub kind: &'static str,
    pub detail: String,
    /// More fields merged into the body (e.g. `diagnostics`).
    pub extra: Map<String, Value>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
}

/// The error body, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind, e.g. `invalid_json`, `not_found`, `unauthorized`.
    #[schema(example = "not_found")]
    pub error: String,
    /// What was wrong and how to fix it.
    #[schema(example = "no thread \"abc123\"")]
    pub detail: String,
}

/// Marks a response as an error of `kind`, for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorKind(pub &'static str);

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }
    pub fn too_many(kind: &'static str, detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, kind, detail);
        e.retry_after = Some(retry_after);
        e
    }
    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.kind, "detail": self.detail});
        if let Value::Object(m) = &mut body {
            m.extend(self.extra);
        }
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        res.extensions_mut().insert(ErrorKind(self.kind));
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "thread store failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the thread store is unavailable; try again shortly",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let (kind, detail) = match &r {
            JsonRejection::MissingJsonContentType(_) => (
                "unsupported_media_type",
                "send the body as JSON with the header `Content-Type: application/json`".into(),
            ),
            JsonRejection::JsonSyntaxError(_) => ("invalid_json", r.body_text()),
            JsonRejection::JsonDataError(_) => ("invalid_body", r.body_text()),
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => (
                "body_too_large",
                "the request body is larger than the server accepts (BODY_LIMIT_BYTES)".into(),
            ),
            JsonRejection::BytesRejection(_) if is_body_timeout(&r) => {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    "the request body did not arrive within BODY_READ_TIMEOUT_S",
                );
            }
            _ => ("invalid_body", r.body_text()),
        };
        ApiError::new(r.status(), kind, detail)
    }
}

/// The body deadline (`BODY_READ_TIMEOUT_S`) passed while the body was read.
fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", r.body_text())
    }
}

/// `axum::Json` whose rejection is an `ApiError`, for a body that must be a JSON object
/// (every body of this API is one; serde alone would read a struct from an array too).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<Value>::from_request(req, state).await?;
        let invalid = |detail: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail)
        };
        if !v.is_object() {
            return Err(invalid("the body must be a JSON object".into()));
        }
        serde_path_to_error::deserialize(v)
            .map(ApiJson)
            .map_err(|e| {
                invalid(format!(
                    "Failed to deserialize the JSON body into the target type: {e}"
                ))
            })
    }
}

/// `axum::extract::Query` whose rejection is an `ApiError`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}

/// `axum::extract::Path` whose rejection is an `ApiError`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(v))
    }
}

/// Longest request target (path and query) served; hyper itself refuses one over 64 KiB,
/// with an empty 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// A request target over `MAX_URI_BYTES` gets its 414 in the API's JSON shape.
pub async fn uri_length(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target has {len} bytes; the limit is {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    next.run(req).await
}

/// Unknown route.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}; see /docs for the API",
        req.method(),
        req.uri().path()
    ))
}

/// Known route, wrong method.
pub async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; see /docs for the API",
            req.method(),
            req.uri().path()
        ),
    )
}
