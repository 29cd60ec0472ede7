//! `/api/threads`: create, list (most recently active first, paginated), get with one
//! page of messages (newest `limit`, older ones through `before`; `all=true` reads
//! every message), delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::conversation::invalid_thread_id;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::threads::{self, MessagePage, StoredMessage, Thread};

const MAX_TITLE_CHARS: usize = 200;
const MAX_PAGE: i64 = 100;
/// Messages per page of a thread: by default, and at most.
const MESSAGES_PAGE: i64 = 100;
const MAX_MESSAGES_PAGE: i64 = 500;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewThread {
    /// Shown in thread lists (at most 200 characters); "New conversation" when absent
    /// or blank.
    #[serde(default)]
    #[schema(example = "Sprint Planning Chat", max_length = 200)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Rename {
    /// The new title: not blank, at most 200 characters.
    #[schema(
        example = "Payments delivery review",
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    pub title: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Threads per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Threads to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadList {
    pub threads: Vec<Thread>,
    /// All threads, for paging.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Newest messages to return, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only messages older than this message id (the previous page's `next_before`).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// Every message at once (for administrators; ignores `limit` and `before`).
    pub all: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThreadWithMessages {
    #[serde(flatten)]
    pub thread: Thread,
    /// One page, oldest first: the newest `limit` messages older than `before`.
    pub messages: Vec<StoredMessage>,
    /// Older messages remain: ask again with `before=next_before`.
    pub has_more: bool,
    /// The `before` of the next (older) page, when there is one.
    pub next_before: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: bool,
    pub thread_id: String,
}

/// Creates an empty thread.
#[utoipa::path(post, path = "/api/threads", tag = "threads",
    request_body = NewThread,
    responses(
        (status = 201, description = "Created", body = Thread),
        (status = 400, description = "Malformed JSON or title too long", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "The JSON does not match NewThread", body = ErrorBody),
        (status = 503, description = "The thread store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewThread>,
) -> Result<(StatusCode, Json<Thread>), ApiError> {
    // The limit counts what was sent, as the documented `maxLength` does.
    let sent = body.title.as_deref().unwrap_or("");
    let title = match sent.trim() {
        "" => "New conversation",
        t => t,
    };
    if sent.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "title_too_long",
            format!("`title` is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    let thread = state.threads.create(title, &caller.name).await?;
    Ok((StatusCode::CREATED, Json(thread)))
}

/// Lists threads, most recently active first.
#[utoipa::path(get, path = "/api/threads", tag = "threads",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of threads", body = ThreadList),
        (status = 400, description = "limit or offset out of range or not a number", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 503, description = "The thread store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ThreadList>, ApiError> {
    let limit = q.limit.unwrap_or(20);
    let offset = q.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be between 1 and {MAX_PAGE}"),
        ));
    }
    if offset < 0 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`offset` must be 0 or more",
        ));
    }
    let page = state
        .threads
        .list(limit, offset, caller.owner_filter())
        .await?;
    Ok(Json(ThreadList {
        threads: page.threads,
        total: page.total,
        limit,
        offset,
    }))
}

/// A thread with one page of its messages, read in one snapshot.
#[utoipa::path(get, path = "/api/threads/{id}", tag = "threads",
    params(("id" = String, Path, description = "Thread id: 1–64 of A-Z a-z 0-9 - _", pattern = r"^[A-Za-z0-9_-]{1,64}$"), MessagesQuery),
    responses(
        (status = 200, description = "The thread and a page of its messages", body = ThreadWithMessages),
        (status = 400, description = "Malformed id, limit or before", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 403, description = "`all=true` without an admin key", body = ErrorBody),
        (status = 404, description = "No such thread (or another user's)", body = ErrorBody),
        (status = 503, description = "The thread store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<Json<ThreadWithMessages>, ApiError> {
    check_id(&id)?;
    // Checked even where `all=true` ignores them: a malformed query is refused, not guessed.
    let limit = q.limit.unwrap_or(MESSAGES_PAGE);
    if !(1..=MAX_MESSAGES_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be between 1 and {MAX_MESSAGES_PAGE}"),
        ));
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`before` must be a message id (1 or more)",
        ));
    }
    let page = if q.all == Some(true) {
        if !caller.admin {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "`all=true` needs an admin key; page with `limit` and `before`",
            ));
        }
        MessagePage::default()
    } else {
        MessagePage {
            limit: Some(limit),
            before: q.before,
        }
    };
    // Another user's thread is not found, rather than forbidden: ids reveal nothing.
    let read = state
        .threads
        .read(&id, page)
        .await?
        .filter(|r| caller.sees(&r.thread.owner))
        .ok_or_else(|| no_thread(&id))?;
    let next_before = read
        .has_more
        .then(|| read.messages.first().map(|m| m.id))
        .flatten();
    Ok(Json(ThreadWithMessages {
        thread: read.thread,
        messages: read.messages,
        has_more: read.has_more,
        next_before,
    }))
}

/// Deletes a thread and its messages.
#[utoipa::path(delete, path = "/api/threads/{id}", tag = "threads",
    params(("id" = String, Path, description = "Thread id: 1–64 of A-Z a-z 0-9 - _", pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No such thread", body = ErrorBody),
        (status = 503, description = "The thread store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Deleted>, ApiError> {
    owned(&state, &caller, &id).await?;
    if !state.threads.delete(&id).await? {
        return Err(no_thread(&id));
    }
    Ok(Json(Deleted {
        deleted: true,
        thread_id: id,
    }))
}

/// Renames a thread.
#[utoipa::path(patch, path = "/api/threads/{id}", tag = "threads",
    params(("id" = String, Path, description = "Thread id: 1–64 of A-Z a-z 0-9 - _", pattern = r"^[A-Za-z0-9_-]{1,64}$")),
    request_body = Rename,
    responses(
        (status = 200, description = "Renamed", body = Thread),
        (status = 400, description = "Malformed id, empty or too long title", body = ErrorBody),
        (status = 401, description = "Bearer token missing or wrong", body = ErrorBody),
        (status = 404, description = "No such thread", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "The JSON does not match Rename", body = ErrorBody),
        (status = 503, description = "The thread store is unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<Thread>, ApiError> {
    owned(&state, &caller, &id).await?;
    let title = body.title.trim();
    if title.is_empty() || body.title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_title",
            format!("`title` must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    if !state.threads.rename(&id, title).await? {
        return Err(no_thread(&id));
    }
    let thread = state
        .threads
        .get(&id)
        .await?
        .ok_or_else(|| no_thread(&id))?;
    Ok(Json(thread))
}

/// A well-formed id of a thread the caller may change: another user's thread is no
/// thread at all (404), as for reading it.
async fn owned(state: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    check_id(id)?;
    let visible = state
        .threads
        .get(id)
        .await?
        .is_some_and(|t| caller.sees(&t.owner));
    if visible { Ok(()) } else { Err(no_thread(id)) }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if threads::is_valid_id(id) {
        Ok(())
    } else {
        Err(invalid_thread_id(id))
    }
}

fn no_thread(id: &str) -> ApiError {
    ApiError::not_found(format!("no thread \"{id}\""))
}
