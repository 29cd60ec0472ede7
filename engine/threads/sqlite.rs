//! The embedded thread store: one SQLite file (WAL) owned by this process. Reads go
//! through a pool; every write goes to the one writer task (`writer`).

use std::path::Path;

use async_trait::async_trait;
use futures::FutureExt;
use sqlx::SqlitePool;

use super::writer::Writer;
use super::{
    AppendTo, HeldLock, MIGRATIONS_TABLE, MessagePage, MessageRow, NewMessage, Page, StoreError,
    StoredMessage, Thread, ThreadRead, ThreadRow, ThreadStore, message_of, now_us, page_of,
    thread_of,
};

pub struct SqliteThreads {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteThreads {
    /// Opens (creating if needed) the file and its parent directory, then migrates.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = crate::store::sqlite_file(path, 4)
            .await
            .map_err(|e| StoreError(format!("{e:#}")))?;
        let mut migrator = sqlx::migrate!("engine/threads/migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&pool).await?;
        // The writer's connection leaves the pool, which opens others for reads.
        let writer = Writer::start(pool.acquire().await?.detach(), pool.clone());
        Ok(SqliteThreads { pool, writer })
    }
}

#[async_trait]
impl ThreadStore for SqliteThreads {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create(&self, title: &str, owner: &str) -> Result<Thread, StoreError> {
        let (title, owner) = (title.to_string(), owner.to_string());
        self.writer
            .write(move |db| {
                async move {
                    let id = uuid::Uuid::new_v4().to_string();
                    let now = now_us();
                    sqlx::query(
                        "INSERT INTO chat_threads (thread_id, title, created_us, updated_us, message_count, owner)
                         VALUES ($1, $2, $3, $3, 0, $4)",
                    )
                    .bind(&id)
                    .bind(&title)
                    .bind(now)
                    .bind(&owner)
                    .execute(db)
                    .await?;
                    Ok(thread_of((id, title, now, now, 0, owner)))
                }
                .boxed()
            })
            .await
    }

    async fn list(&self, limit: i64, offset: i64, owner: Option<&str>) -> Result<Page, StoreError> {
        let rows: Vec<ThreadRow> = sqlx::query_as(
            "SELECT thread_id, title, created_us, updated_us, message_count, owner FROM chat_threads
             WHERE $3 IS NULL OR owner = $3
             ORDER BY updated_us DESC, created_us DESC, thread_id LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM chat_threads WHERE $1 IS NULL OR owner = $1")
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
             ) ORDER BY id",
        )
        .bind(id)
        .bind(last.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(message_of).collect())
    }

    async fn read(&self, id: &str, page: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
        // A deferred transaction on WAL reads one snapshot from its first SELECT.
        let mut tx = self.pool.begin().await?;
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
        let id = id.to_string();
        self.writer
            .write(move |db| {
                async move {
                    sqlx::query("DELETE FROM chat_messages WHERE thread_id = $1")
                        .bind(&id)
                        .execute(&mut *db)
                        .await?;
                    let gone = sqlx::query("DELETE FROM chat_threads WHERE thread_id = $1")
                        .bind(&id)
                        .execute(&mut *db)
                        .await?
                        .rows_affected();
                    if gone > 0 {
                        sqlx::query(
                            "INSERT INTO deleted_threads (thread_id, deleted_us) VALUES ($1, $2)
                             ON CONFLICT (thread_id) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(now_us())
                        .execute(&mut *db)
                        .await?;
                    }
                    Ok(gone > 0)
                }
                .boxed()
            })
            .await
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
        let (id, title) = (id.to_string(), title.to_string());
        self.writer
            .write(move |db| {
                async move {
                    let changed =
                        sqlx::query("UPDATE chat_threads SET title = $2 WHERE thread_id = $1")
                            .bind(&id)
                            .bind(&title)
                            .execute(db)
                            .await?
                            .rows_affected();
                    Ok(changed > 0)
                }
                .boxed()
            })
            .await
    }

    async fn append(
        &self,
        id: &str,
        title: &str,
        owner: &str,
        messages: &[NewMessage],
        to: AppendTo,
    ) -> Result<bool, StoreError> {
        let (id, title, owner) = (id.to_string(), title.to_string(), owner.to_string());
        let rows: Vec<(&'static str, String, String)> = messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.clone(), m.meta.to_string()))
            .collect();
        self.writer
            .write(move |db| {
                async move {
                    let now = now_us();
                    if to == AppendTo::New {
                        sqlx::query(
                            "INSERT INTO chat_threads (thread_id, title, created_us, updated_us, message_count, owner)
                             SELECT $1, $2, $3, $3, 0, $4
                             WHERE NOT EXISTS (SELECT 1 FROM deleted_threads WHERE thread_id = $1)
                             ON CONFLICT (thread_id) DO NOTHING",
                        )
                        .bind(&id)
                        .bind(&title)
                        .bind(now)
                        .bind(&owner)
                        .execute(&mut *db)
                        .await?;
                    }
                    // No row to update: the thread was deleted during the chat and is not
                    // brought back.
                    let found = sqlx::query(
                        "UPDATE chat_threads SET updated_us = $2, message_count = message_count + $3
                         WHERE thread_id = $1",
                    )
                    .bind(&id)
                    .bind(now)
                    .bind(rows.len() as i64)
                    .execute(&mut *db)
                    .await?
                    .rows_affected();
                    if found == 0 {
                        return Ok(false);
                    }
                    // One statement for the turn's messages: each statement is a hand-off
                    // to the connection's thread, and every chat's write waits for them.
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO chat_messages (thread_id, role, content, meta, created_us) ",
                    );
                    insert.push_values(&rows, |mut row, (role, content, meta)| {
                        row.push_bind(&id)
                            .push_bind(*role)
                            .push_bind(content)
                            .push_bind(meta)
                            .push_bind(now);
                    });
                    if !rows.is_empty() {
                        insert.build().execute(&mut *db).await?;
                    }
                    Ok(true)
                }
                .boxed()
            })
            .await
    }

    async fn lock_across_instances(
        &self,
        _id: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        Ok(None)
    }
}
