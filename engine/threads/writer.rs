//! The SQLite thread store's one writer: a task owning the file's only write
//! connection, to which every write is handed.
//!
//! Writers never meet in SQLite, so none waits in its busy handler (which sleeps and
//! retries). Writes handed over while a batch commits are committed together in the
//! next transaction, each in a savepoint of its own: a write that fails is rolled back
//! alone, a commit that fails fails every write of its batch. Reads stay on the pool
//! (WAL readers do not wait for the writer).

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Most writes committed by one transaction.
const MAX_BATCH: usize = 64;

/// How long after a commit the WAL is copied into the database file (at most once per
/// this while writes keep coming; never while idle).
const CHECKPOINT_AFTER: Duration = Duration::from_secs(1);

/// A write's answer to its caller, sent once its batch has committed (None) or failed.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A write waiting for the writer, its caller waiting for the answer.
trait Job: Send {
    fn run<'c>(self: Box<Self>, db: &'c mut SqliteConnection) -> BoxFuture<'c, Reply>;
    fn fail(self: Box<Self>, e: &StoreError);
}

struct Write<T, F> {
    statements: F,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>> + Send + 'static,
{
    fn run<'c>(self: Box<Self>, db: &'c mut SqliteConnection) -> BoxFuture<'c, Reply> {
        Box::pin(async move {
            let Write { statements, answer } = *self;
            let done = in_savepoint(db, statements).await;
            Box::new(move |failed: Option<&StoreError>| {
                let _ = answer.send(match failed {
                    Some(e) => Err(e.clone()),
                    None => done,
                });
            }) as Reply
        })
    }

    fn fail(self: Box<Self>, e: &StoreError) {
        let _ = self.answer.send(Err(e.clone()));
    }
}

pub struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer on `db` (a connection to the migrated file), and its checkpoints
    /// on `pool` (the file's readers); both end when the `Writer` is dropped.
    pub fn start(db: SqliteConnection, pool: SqlitePool) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (committed, commits) = mpsc::channel(1);
        tokio::spawn(run(db, queue, committed));
        tokio::spawn(checkpoints(pool, commits));
        Writer { jobs }
    }

    /// Runs `statements` on the write connection; their value once committed.
    pub async fn write<T, F>(&self, statements: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(Write { statements, answer }))
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError("the SQLite writer has stopped".into())
}

/// Waits for writes and commits every one waiting as one transaction; tells `committed`.
async fn run(
    mut db: SqliteConnection,
    mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>,
    committed: mpsc::Sender<()>,
) {
    // Checkpoints run beside the writer (`checkpoints`): SQLite's own would run inside a
    // commit, and every write waiting behind that commit would wait for it too.
    if let Err(e) = sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut db)
        .await
    {
        tracing::warn!("the thread store keeps SQLite's own checkpoints: {e}");
    }
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut tx = match db.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(e) => {
                let e = StoreError::from(e);
                batch.drain(..).for_each(|job| job.fail(&e));
                continue;
            }
        };
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            replies.push(job.run(&mut tx).await);
        }
        // A failed commit is rolled back when `tx` drops.
        let failed = tx.commit().await.err().map(StoreError::from);
        for reply in replies {
            reply(failed.as_ref());
        }
        // Full: a checkpoint is already due.
        let _ = committed.try_send(());
    }
}

/// Copies the WAL's committed pages into the database file a while after writes, from a
/// reader's connection (a passive checkpoint waits for no one and holds up no write).
async fn checkpoints(pool: SqlitePool, mut commits: mpsc::Receiver<()>) {
    while commits.recv().await.is_some() {
        tokio::time::sleep(CHECKPOINT_AFTER).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!("thread store checkpoint: {e}");
        }
    }
}

/// `statements` in a savepoint: kept when they succeed, undone alone when they fail.
async fn in_savepoint<T, F>(db: &mut SqliteConnection, statements: F) -> Result<T, StoreError>
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>,
{
    sqlx::query("SAVEPOINT job").execute(&mut *db).await?;
    match statements(&mut *db).await {
        Ok(v) => {
            sqlx::query("RELEASE job").execute(&mut *db).await?;
            Ok(v)
        }
        Err(e) => {
            sqlx::query("ROLLBACK TO job").execute(&mut *db).await?;
            sqlx::query("RELEASE job").execute(&mut *db).await?;
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    /// A writer on a fresh file holding `parent` and `child` (a deferred foreign key,
    /// checked only at commit).
    async fn writer() -> (tempfile::TempDir, sqlx::SqlitePool, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::store::sqlite_file(&dir.path().join("w.db"), 2)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .execute(&pool)
        .await
        .unwrap();
        let w = Writer::start(pool.acquire().await.unwrap().detach(), pool.clone());
        (dir, pool, w)
    }

    async fn parents(pool: &sqlx::SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM parent ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    fn insert(
        sql: &'static str,
    ) -> impl for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<u64>> + Send + 'static
    {
        move |db| async move { Ok(sqlx::query(sql).execute(db).await?.rows_affected()) }.boxed()
    }

    /// Hands `writes` over while a first write holds the writer, then lets it go: they
    /// are all waiting when its transaction ends, so they form the next batch.
    async fn in_one_batch(w: &Writer, writes: Vec<&'static str>) -> Vec<Result<u64, String>> {
        let (go, wait) = oneshot::channel::<()>();
        let hold = w.write(move |_| {
            async move {
                let _ = wait.await;
                Ok(())
            }
            .boxed()
        });
        futures::pin_mut!(hold);
        assert!(futures::poll!(hold.as_mut()).is_pending());
        let mut pending: Vec<_> = writes
            .into_iter()
            .map(|sql| Box::pin(w.write(insert(sql))))
            .collect();
        for p in &mut pending {
            assert!(futures::poll!(p.as_mut()).is_pending());
        }
        go.send(()).unwrap();
        let _ = hold.await;
        let mut out = Vec::new();
        for p in pending {
            out.push(p.await.map_err(|e| e.0));
        }
        out
    }

    #[tokio::test]
    async fn a_failed_write_is_undone_alone_and_its_batch_commits() {
        let (_dir, pool, w) = writer().await;
        let got = in_one_batch(
            &w,
            vec![
                "INSERT INTO parent (id) VALUES (1)",
                "INSERT INTO parent (id) VALUES (2), (1)",
                "INSERT INTO parent (id) VALUES (3)",
            ],
        )
        .await;
        assert_eq!(got[0], Ok(1));
        assert!(
            got[1]
                .as_ref()
                .unwrap_err()
                .contains("UNIQUE constraint failed"),
            "{got:?}"
        );
        assert_eq!(got[2], Ok(1));
        assert_eq!(parents(&pool).await, [1, 3]);
    }

    #[tokio::test]
    async fn a_failed_commit_reaches_every_write_of_its_batch_and_the_next_commits() {
        let (_dir, pool, w) = writer().await;
        let got = in_one_batch(
            &w,
            vec![
                "INSERT INTO child (p) VALUES (99)",
                "INSERT INTO parent (id) VALUES (7)",
            ],
        )
        .await;
        let orphan = got[0].clone().unwrap_err();
        assert!(orphan.contains("FOREIGN KEY constraint failed"), "{orphan}");
        assert_eq!(got[1], Err(orphan), "the batch's commit failed for both");
        assert_eq!(parents(&pool).await, Vec::<i64>::new());
        w.write(insert("INSERT INTO parent (id) VALUES (8)"))
            .await
            .unwrap();
        assert_eq!(parents(&pool).await, [8]);
    }

    /// The writer's commits stay in the WAL (no checkpoint inside a commit) until the
    /// checkpoint beside it copies them into the database file, a moment later.
    #[tokio::test]
    async fn commits_reach_the_database_file_by_a_checkpoint_beside_the_writer() {
        let (dir, _pool, w) = writer().await;
        let file = dir.path().join("w.db");
        let size = || std::fs::metadata(&file).unwrap().len();
        let before = size();
        for _ in 0..40 {
            w.write(insert(
                "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 100) \
                 INSERT INTO parent (id) SELECT NULL FROM n",
            ))
            .await
            .unwrap();
        }
        assert_eq!(size(), before, "a commit checkpointed");
        tokio::time::sleep(CHECKPOINT_AFTER * 3).await;
        assert!(size() > before, "no checkpoint after the writes");
    }
}
