//! `POST /api/chat` (Server-Sent Events) and `POST /api/chat/sync` (one JSON answer).
//!
//! Each SSE event is `event: <name>` and `data: <envelope JSON>`, exactly the engine's
//! `Envelope::to_json()`; a comment line keeps quiet streams open through proxies.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::AppState;
use super::auth::Caller;
use super::conversation::{Admitted, Ask, Summary, admit, drive, prepare, take};
use super::error::{ApiError, ApiJson, ErrorBody};
use super::turn::now_s;
use crate::run::{Envelope, ErrorKind, Event};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The question, in plain language: not blank, at most 16,000 characters.
    #[schema(
        example = "Find developers with Python expertise",
        min_length = 1,
        max_length = 16000,
        pattern = r"[^\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub message: String,
    /// Continue this thread (its earlier turns reach the model). Absent, null or empty
    /// starts a new thread; an id not seen before starts a thread with that id.
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9_-]{0,64}$")]
    pub thread_id: Option<String>,
    /// The seed's flag: `false` on `/api/chat` answers like `/api/chat/sync`.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Graph to run: `supervisor` by default, a specialist, or a pipeline (`rag`,
    /// `anomaly_detection`, `one_on_one_prep`, `nl_sql`, `graph_rag`); see `GET /api/graphs`.
    #[serde(default)]
    pub graph: Option<String>,
}

impl ChatRequest {
    fn ask(self, peer: Option<IpAddr>, caller: Caller) -> Ask {
        Ask {
            message: self.message,
            thread_id: self.thread_id,
            graph: self.graph,
            peer,
            caller,
        }
    }
}

/// The client's address, when the server was given one (`ConnectInfo`).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn ip(peer: Peer) -> Option<IpAddr> {
    peer.map(|Extension(ConnectInfo(a))| a.ip())
}

/// The answer of `/api/chat/sync`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncResponse {
    /// The answer, in Markdown.
    pub response: String,
    /// The thread this turn was stored in (new unless one was given).
    pub thread_id: String,
    /// The model that served the question's tier (`offline` for the embedded model).
    pub model_used: String,
    /// The classified task type (quick_lookup, analytics, deep_analysis, code, …).
    pub task_type: String,
    /// Seconds the run took.
    pub elapsed_s: f64,
}

/// Streams a chat as Server-Sent Events.
///
/// Events, in order: `stream_start`, `model_selection`, `routing`, then per node
/// `node_start`/`node_end` with `tool_start`/`tool_end` and `token` inside, then
/// `response` or `error`, and always `stream_end` last. Every `data:` line is the
/// envelope `{event, data, run_id, seq, ts}` (schema `SseEnvelope`). Closing the
/// connection cancels the run.
#[utoipa::path(post, path = "/api/chat", tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "An SSE stream, each `data:` line an SseEnvelope; with `\"stream\": false`, the answer as `/api/chat/sync` gives it",
            content((String = "text/event-stream"), (SyncResponse = "application/json"))),
        (status = 400, description = "Malformed JSON, empty or too long message, malformed thread id, unknown graph or one that needs inputs", body = ErrorBody),
        (status = 401, description = "API_KEY is set and the bearer token is missing or wrong", body = ErrorBody),
        (status = 404, description = "`thread_id` names a deleted thread or another user's", body = ErrorBody),
        (status = 410, description = "`stream: false` only: the thread was deleted while the chat ran", body = ErrorBody),
        (status = 413, description = "Body larger than BODY_LIMIT_BYTES", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "The JSON does not match ChatRequest", body = ErrorBody),
        (status = 429, description = "Too many chats from this address, or waiting on this thread (Retry-After)", body = ErrorBody),
        (status = 502, description = "`stream: false` only: the run failed", body = ErrorBody),
        (status = 503, description = "Shutting down, or the thread store is unavailable", body = ErrorBody),
        (status = 504, description = "`stream: false` only: no answer within SYNC_TIMEOUT_S", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn chat(
    State(state): State<AppState>,
    peer: Peer,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    if body.stream == Some(false) {
        return Ok(sync_answer(state, ip(peer), caller, body)
            .await?
            .into_response());
    }
    let admitted = admit(&state, body.ask(ip(peer), caller))?;
    let (tx, rx) = mpsc::unbounded_channel();
    if admitted.continuing {
        // Waiting for the thread may take a while: the client hears `stream_start` now.
        tokio::spawn(wait_then_drive(state.clone(), admitted, tx));
    } else {
        let chat = take(&state, admitted).await?;
        tokio::spawn(drive(state.clone(), chat, tx, None));
    }
    let events = UnboundedReceiverStream::new(rx)
        .map(|env| Ok::<_, Infallible>(SseEvent::default().event(env.name()).data(env.to_json())));
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(state.tuning.keep_alive));
    // nginx-style proxies buffer responses unless told not to.
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

/// An SSE chat on a given thread: `stream_start` at once, then the wait for the thread,
/// then the run under the same run id; a failure to take the thread ends the stream with
/// `error` and `stream_end`.
async fn wait_then_drive(state: AppState, admitted: Admitted, tx: mpsc::UnboundedSender<Envelope>) {
    let run_id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
    let _ = tx.send(admitted.stream_start(run_id.clone()));
    match take(&state, admitted).await {
        Ok(chat) => drive(state, chat, tx, Some(run_id)).await,
        Err(e) => {
            let at = |seq, event| Envelope {
                event,
                run_id: run_id.clone(),
                seq,
                ts: now_s(),
            };
            let _ = tx.send(at(
                1,
                Event::Error {
                    kind: e.kind.to_string(),
                    message: state.redact(&e.detail),
                },
            ));
            let _ = tx.send(at(
                2,
                Event::StreamEnd {
                    total_tokens: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    elapsed_s: 0.0,
                    steps: 0,
                    ok: false,
                },
            ));
        }
    }
}

/// Runs a chat to its end and answers with one JSON object.
#[utoipa::path(post, path = "/api/chat/sync", tag = "chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "The answer", body = SyncResponse),
        (status = 400, description = "Malformed JSON, empty or too long message, malformed thread id, unknown graph or one that needs inputs", body = ErrorBody),
        (status = 401, description = "API_KEY is set and the bearer token is missing or wrong", body = ErrorBody),
        (status = 404, description = "`thread_id` names a deleted thread or another user's", body = ErrorBody),
        (status = 413, description = "Body larger than BODY_LIMIT_BYTES", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "The JSON does not match ChatRequest", body = ErrorBody),
        (status = 410, description = "The thread was deleted while the chat ran; nothing was stored", body = ErrorBody),
        (status = 429, description = "Too many chats from this address, or waiting on this thread (Retry-After)", body = ErrorBody),
        (status = 502, description = "The run failed (a model or tool error); `detail` says why", body = ErrorBody),
        (status = 503, description = "Shutting down, or the thread store is unavailable (the answer was not stored)", body = ErrorBody),
        (status = 504, description = "No answer within SYNC_TIMEOUT_S; the run was cancelled", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn chat_sync(
    State(state): State<AppState>,
    peer: Peer,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<ChatRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    sync_answer(state, ip(peer), caller, body).await
}

async fn sync_answer(
    state: AppState,
    peer: Option<IpAddr>,
    caller: Caller,
    body: ChatRequest,
) -> Result<Json<SyncResponse>, ApiError> {
    // SYNC_TIMEOUT_S counts from the request, so waiting for the thread counts too.
    let limit = Duration::from_secs(state.settings.sync_timeout_s);
    let deadline = tokio::time::Instant::now() + limit;
    let timed_out = |waiting: &str| {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "no answer within {} s (SYNC_TIMEOUT_S){waiting}; the run was cancelled — use /api/chat to stream long answers",
                limit.as_secs()
            ),
        )
    };
    let chat = tokio::time::timeout_at(deadline, prepare(&state, body.ask(peer, caller)))
        .await
        .map_err(|_| timed_out(", waiting for the thread's earlier chats"))??;
    let thread_id = chat.thread_id.clone();
    let graph_tier_model = state.engine.model().model_name(crate::model::Tier::Primary);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(state.clone(), chat, tx, None));
    let mut summary = Summary::default();
    let collected = tokio::time::timeout_at(deadline, async {
        while let Some(env) = rx.recv().await {
            summary.observe(&env);
        }
    })
    .await;
    if collected.is_err() {
        // Returning drops `rx`: the driver sees it and cancels the run.
        return Err(timed_out(""));
    }
    match (summary.response, summary.error) {
        (Some(response), None) => Ok(Json(SyncResponse {
            response,
            thread_id,
            model_used: summary.model_used.unwrap_or(graph_tier_model),
            task_type: summary.task_type.unwrap_or_else(|| "general".into()),
            elapsed_s: summary.elapsed_s,
        })),
        (_, Some((kind, _)))
            if kind == ErrorKind::Cancelled.as_str() && state.shutdown.is_cancelled() =>
        {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server shut down before the answer was ready; retry",
            ))
        }
        (_, Some((kind, message))) if kind == "store_failed" => {
            let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_failed", message)
                .with("thread_id", thread_id.into());
            e.retry_after = Some(5);
            Err(e)
        }
        (_, Some((kind, message))) if kind == "thread_deleted" => {
            Err(ApiError::new(StatusCode::GONE, "thread_deleted", message)
                .with("thread_id", thread_id.into()))
        }
        (_, error) => {
            let (kind, message) =
                error.unwrap_or_else(|| ("no_response".into(), "the run gave no answer".into()));
            Err(
                ApiError::new(StatusCode::BAD_GATEWAY, "run_failed", message)
                    .with("run_kind", kind.into())
                    .with("run_id", summary.run_id.into())
                    .with("thread_id", thread_id.into()),
            )
        }
    }
}
