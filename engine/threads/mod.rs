//! Durable conversation threads: a thread, its messages, and the store they live in.
//!
//! One `ThreadStore` trait with two backends: a SQLite file under `DATA_DIR` (the
//! embedded default) and PostgreSQL when the seed's `POSTGRES_*` variables are set.
//! Each runs its own migrations (tables `chat_threads`, `chat_messages`) tracked in its
//! own migrations table, so they never collide with other migrations in the database.

pub mod breaker;
pub mod locks;
mod postgres;
mod sqlite;
mod writer;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::settings::Settings;
pub use locks::ThreadLocks;
pub use postgres::{PgThreads, lock_key as pg_lock_key};
pub use sqlite::SqliteThreads;

/// Longest thread id accepted (server-made ids are 36-character UUIDs).
pub const MAX_ID_LEN: usize = 64;

/// A conversation thread, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Thread {
    pub thread_id: String,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// Time of the last message (or creation): threads list most recent first.
    pub updated_at: DateTime<Utc>,
    pub message_count: i64,
    /// The name of the API key that created it ('' without keys); never sent out.
    #[serde(skip)]
    #[schema(ignore)]
    pub owner: String,
}

/// Who wrote a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
    fn parse(s: &str) -> Role {
        if s == "assistant" {
            Role::Assistant
        } else {
            Role::User
        }
    }
}

/// One stored message of a thread.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredMessage {
    /// Increasing in the order messages were stored.
    pub id: i64,
    pub role: Role,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// For answers: run_id, model_used, task_type, elapsed_s.
    #[schema(value_type = Object)]
    pub meta: Value,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    pub meta: Value,
}

/// Whether `append` may create the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendTo {
    /// A thread this chat starts: created when missing, unless an id of a deleted thread
    /// (a deleted thread stays deleted).
    New,
    /// A thread that existed when the chat began: if it is gone (deleted meanwhile),
    /// nothing is stored, so a deleted thread stays deleted.
    Existing,
}

/// Which messages of a thread to read: the newest `limit` (all when None) older than
/// message id `before`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagePage {
    pub limit: Option<i64>,
    pub before: Option<i64>,
}

/// A thread and one page of its messages, read in one snapshot.
#[derive(Debug, Clone)]
pub struct ThreadRead {
    pub thread: Thread,
    /// Oldest first.
    pub messages: Vec<StoredMessage>,
    /// Older messages exist before the first one returned.
    pub has_more: bool,
}

/// One page of the thread list, most recently active first.
#[derive(Debug, Clone)]
pub struct Page {
    pub threads: Vec<Thread>,
    pub total: i64,
}

/// The store failed; the message names the operation and the cause (never a secret).
#[derive(Debug, Clone, thiserror::Error)]
#[error("thread store: {0}")]
pub struct StoreError(pub String);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError(format!(
            "migration failed: {e} (a role without DDL rights needs `eng-intel migrate` run by the owner first)"
        ))
    }
}

/// A lock that keeps chats on other instances off a thread until released.
#[async_trait]
pub trait HeldLock: Send {
    async fn release(self: Box<Self>);
}

#[async_trait]
pub trait ThreadStore: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
    async fn create(&self, title: &str, owner: &str) -> Result<Thread, StoreError>;
    /// Threads of `owner`, or of everyone when None.
    async fn list(&self, limit: i64, offset: i64, owner: Option<&str>) -> Result<Page, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Thread>, StoreError>;
    /// The id is that of a deleted thread (a chat naming it is refused). Stores that keep
    /// no record of deletions say no.
    async fn was_deleted(&self, _id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Messages oldest first; only the last `last` of them when given.
    async fn messages(&self, id: &str, last: Option<i64>)
    -> Result<Vec<StoredMessage>, StoreError>;
    /// The thread and a page of its messages in one consistent snapshot (a message
    /// count that agrees with the messages); None when there is no such thread.
    async fn read(&self, id: &str, page: MessagePage) -> Result<Option<ThreadRead>, StoreError>;
    /// Whether the thread existed.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Sets a thread's title; false when there is no such thread.
    async fn rename(&self, id: &str, title: &str) -> Result<bool, StoreError>;
    /// Appends `messages` in one transaction, creating the thread with `title` and
    /// `owner` when `to` is `New`; false when `to` is `Existing` and the thread is gone
    /// (nothing stored).
    async fn append(
        &self,
        id: &str,
        title: &str,
        owner: &str,
        messages: &[NewMessage],
        to: AppendTo,
    ) -> Result<bool, StoreError>;
    /// Serializes chats on `id` across server instances (PostgreSQL advisory lock);
    /// `None` where one process owns the store. In-process exclusion is `ThreadLocks`.
    async fn lock_across_instances(
        &self,
        id: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError>;
}

/// Opens the configured store: PostgreSQL when configured (behind a circuit breaker, so
/// an outage fails chats at once instead of each waiting for the connect timeout), else
/// `DATA_DIR/threads.db`.
pub async fn open(settings: &Settings) -> Result<Arc<dyn ThreadStore>, StoreError> {
    Ok(match &settings.postgres {
        Some(pg) => Arc::new(breaker::Breaking::new(
            Arc::new(PgThreads::connect(pg).await?),
            crate::store::BREAKER_FAILURES,
            settings.store_cooldown,
        )),
        None => Arc::new(SqliteThreads::open(&settings.data_dir.join("threads.db")).await?),
    })
}

/// Thread ids are 1–64 characters of `A-Z a-z 0-9 - _` (a UUID fits).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn time_of(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Splits `rows` (newest first, one more than `page.limit` asked for) into the page,
/// oldest first, and whether older messages remain.
fn page_of(mut rows: Vec<MessageRow>, page: MessagePage) -> (Vec<StoredMessage>, bool) {
    let has_more = page.limit.is_some_and(|l| rows.len() as i64 > l);
    if let Some(l) = page.limit {
        rows.truncate(l.max(0) as usize);
    }
    rows.reverse();
    (rows.into_iter().map(message_of).collect(), has_more)
}

/// Row shapes shared by both backends.
type ThreadRow = (String, String, i64, i64, i64, String);
type MessageRow = (i64, String, String, String, i64);

fn thread_of((thread_id, title, created, updated, message_count, owner): ThreadRow) -> Thread {
    Thread {
        owner,
        thread_id,
        title,
        created_at: time_of(created),
        updated_at: time_of(updated),
        message_count,
    }
}

fn message_of((id, role, content, meta, created): MessageRow) -> StoredMessage {
    StoredMessage {
        id,
        role: Role::parse(&role),
        content,
        created_at: time_of(created),
        meta: serde_json::from_str(&meta).unwrap_or(Value::Null),
    }
}

/// The name of this store's migrations table (kept apart from other `_sqlx_migrations`).
const MIGRATIONS_TABLE: &str = "_eng_intel_threads_migrations";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("abc123"));
        assert!(is_valid_id("0b8c7a3e-5d2f-4c1e-9a47-2f3c1d0e9b88"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("../etc"));
        assert!(!is_valid_id(&"x".repeat(MAX_ID_LEN + 1)));
    }
}
