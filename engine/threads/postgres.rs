//! The PostgreSQL thread store, for deployments with the seed's `POSTGRES_*` variables;
//! several server instances may share it (chats on one thread are serialized by an
//! advisory lock).
//!
//! The advisory locks live on one connection of their own (`LockSession`), outside the
//! pool: a chat waiting for or holding a thread pins no pooled connection, so any number
//! of concurrent chats queue and complete with a small pool.

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgPool};

use super::{
    AppendTo, HeldLock, MIGRATIONS_TABLE, MessagePage, MessageRow, NewMessage, Page, StoreError,
    StoredMessage, Thread, ThreadRead, ThreadRow, ThreadStore, message_of, now_us, page_of,
    thread_of,
};
use crate::settings::Postgres as PgSettings;

pub struct PgThreads {
    pool: PgPool,
    locks: Arc<LockSession>,
}

impl PgThreads {
    /// Connects (options built field by field, so no URL with the password is ever
    /// formatted) and migrates.
    pub async fn connect(pg: &PgSettings) -> Result<Self, StoreError> {
        let ssl: PgSslMode = pg.sslmode.parse().map_err(|_| {
            StoreError(format!(
                "POSTGRES_SSLMODE \"{}\" is not one of disable, allow, prefer, require, verify-ca, verify-full",
                pg.sslmode
            ))
        })?;
        let options = PgConnectOptions::new()
            .host(&pg.host)
            .port(pg.port)
            .database(&pg.database)
            .username(&pg.user)
            .password(pg.password.expose())
            .ssl_mode(ssl)
            .application_name("eng-intel");
        let pool = PgPoolOptions::new()
            .max_connections(pg.pool_size.max(2))
            .acquire_timeout(pg.connect_timeout)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError(format!(
                    "cannot connect to PostgreSQL at {}:{}/{}: {e}",
                    pg.host, pg.port, pg.database
                ))
            })?;
        Self::with_pool(pool).await
    }

    /// Migrates and wraps an open pool.
    pub async fn with_pool(pool: PgPool) -> Result<Self, StoreError> {
        let mut migrator = sqlx::migrate!("engine/threads/migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        crate::store::migrate_pending(&pool, &migrator).await?;
        let locks = Arc::new(LockSession {
            options: (*pool.connect_options()).clone(),
            timeout: pool.options().get_acquire_timeout(),
            conn: tokio::sync::Mutex::new(None),
        });
        Ok(PgThreads { pool, locks })
    }
}

/// One connection holding this instance's session-level advisory locks. A lock is tried
/// (`pg_try_advisory_lock`) rather than awaited, so the connection is busy for a moment
/// per attempt and never blocked by a waiter. Chats on one thread in this process are
/// already serialized by `ThreadLocks`, so a key is held at most once per session. If
/// the connection drops, PostgreSQL releases its locks; the next attempt reconnects.
struct LockSession {
    options: PgConnectOptions,
    /// Bounds a connect or a lock call, like the pool's acquire timeout.
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<PgConnection>>,
}

impl LockSession {
    /// Runs `sql` (a boolean lock function of one key) on the session's connection.
    async fn call(&self, sql: &'static str, key: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock().await;
        let late = || StoreError(format!("no answer within {} s", self.timeout.as_secs_f64()));
        if conn.is_none() {
            let c = tokio::time::timeout(self.timeout, PgConnection::connect_with(&self.options))
                .await
                .map_err(|_| late())??;
            *conn = Some(c);
        }
        let c = conn.as_mut().expect("connected above");
        let call = sqlx::query_scalar::<_, bool>(sql).bind(key).fetch_one(c);
        match tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        {
            Ok(b) => Ok(b),
            Err(e) => {
                // The session (and every lock on it) is gone; reconnect next time.
                *conn = None;
                tracing::warn!(error = %e, "the thread-lock connection failed; reconnecting");
                Err(e.into())
            }
        }
    }
}

/// Waits between attempts on a held thread lock: short at first, at most this long.
const LOCK_RETRY_MAX: Duration = Duration::from_millis(200);

#[async_trait]
impl ThreadStore for PgThreads {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create(&self, title: &str, owner: &str) -> Result<Thread, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_us();
        sqlx::query(
            "INSERT INTO chat_threads (thread_id, title, created_us, updated_us, message_count, owner)
             VALUES ($1, $2, $3, $3, 0, $4)",
        )
        .bind(&id)
        .bind(title)
        .bind(now)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(thread_of((
            id,
            title.to_string(),
            now,
            now,
            0,
            owner.to_string(),
        )))
    }

    async fn list(&self, limit: i64, offset: i64, owner: Option<&str>) -> Result<Page, StoreError> {
        let rows: Vec<ThreadRow> = sqlx::query_as(
            "SELECT thread_id, title, created_us, updated_us, message_count, owner FROM chat_threads
             WHERE $3::TEXT IS NULL OR owner = $3
             ORDER BY updated_us DESC, created_us DESC, thread_id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM chat_threads WHERE $1::TEXT IS NULL OR owner = $1",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(Page {
            threads: rows.into_iter().map(thread_of).collect(),
            total,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Thread>, StoreError> {
        let row: Option<ThreadRow> = sqlx::query_as(
            "SELECT thread_id, title, created_us, updated_us, message_count, owner FROM chat_threads
             WHERE thread_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(thread_of))
    }

    async fn messages(
        &self,
        id: &str,
        last: Option<i64>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, role, content, meta, created_us FROM (
                 SELECT id, role, content, meta, created_us FROM chat_messages
                 WHERE thread_id = $1 ORDER BY id DESC LIMIT $2
             ) AS recent ORDER BY id",
        )
        .bind(id)
        .bind(last.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(message_of).collect())
    }

    async fn read(&self, id: &str, page: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
        // REPEATABLE READ: both queries see one snapshot.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let row: Option<ThreadRow> = sqlx::query_as(
            "SELECT thread_id, title, created_us, updated_us, message_count, owner FROM chat_threads
             WHERE thread_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, role, content, meta, created_us FROM chat_messages
             WHERE thread_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(id)
        .bind(page.before.unwrap_or(i64::MAX))
        .bind(page.limit.map_or(i64::MAX, |l| l.saturating_add(1)))
        .fetch_all(&mut *tx)
        .await?;
        tx.rollback().await?;
        let (messages, has_more) = page_of(rows, page);
        Ok(Some(ThreadRead {
            thread: thread_of(row),
            messages,
            has_more,
        }))
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM chat_messages WHERE thread_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM chat_threads WHERE thread_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone > 0 {
            sqlx::query(
                "INSERT INTO deleted_threads (thread_id, deleted_us) VALUES ($1, $2)
                 ON CONFLICT (thread_id) DO NOTHING",
            )
            .bind(id)
            .bind(now_us())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(gone > 0)
    }

    async fn was_deleted(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT thread_id FROM deleted_threads WHERE thread_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn rename(&self, id: &str, title: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE chat_threads SET title = $2 WHERE thread_id = $1")
            .bind(id)
            .bind(title)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed > 0)
    }

    async fn append(
        &self,
        id: &str,
        title: &str,
        owner: &str,
        messages: &[NewMessage],
        to: AppendTo,
    ) -> Result<bool, StoreError> {
        let now = now_us();
        let mut tx = self.pool.begin().await?;
        if to == AppendTo::New {
            sqlx::query(
                "INSERT INTO chat_threads (thread_id, title, created_us, updated_us, message_count, owner)
                 SELECT $1, $2, $3, $3, 0, $4
                 WHERE NOT EXISTS (SELECT 1 FROM deleted_threads WHERE thread_id = $1)
                 ON CONFLICT (thread_id) DO NOTHING",
            )
            .bind(id)
            .bind(title)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        // Updating the row first locks it (PostgreSQL) and tells whether it still exists:
        // a thread deleted during the chat is not brought back.
        let found = sqlx::query(
            "UPDATE chat_threads SET updated_us = $2, message_count = message_count + $3
             WHERE thread_id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(messages.len() as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for m in messages {
            sqlx::query(
                "INSERT INTO chat_messages (thread_id, role, content, meta, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(m.role.as_str())
            .bind(&m.content)
            .bind(m.meta.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn lock_across_instances(
        &self,
        id: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        let key = lock_key(id);
        let mut wait = Duration::from_millis(5);
        while !self
            .locks
            .call("SELECT pg_try_advisory_lock($1)", key)
            .await?
        {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(LOCK_RETRY_MAX);
        }
        Ok(Some(Box::new(SessionLock {
            session: self.locks.clone(),
            key,
        })))
    }
}

struct SessionLock {
    session: Arc<LockSession>,
    key: i64,
}

#[async_trait]
impl HeldLock for SessionLock {
    async fn release(self: Box<Self>) {
        match self
            .session
            .call("SELECT pg_advisory_unlock($1)", self.key)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("a thread lock was gone at release (its connection was replaced)")
            }
            Err(e) => {
                tracing::warn!(error = %e, "releasing a thread lock failed; the connection drop releases it")
            }
        }
    }
}

/// A stable 64-bit key for the thread (FNV-1a), the same on every instance and build; the
/// advisory lock a chat holds or awaits in `pg_locks` (tests look it up there).
pub fn lock_key(id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "eng-intel/thread/".bytes().chain(id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}
