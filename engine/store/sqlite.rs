//! The embedded relational and metrics store: one SQLite file (WAL mode) under the data
//! dir, its schema from the migrations it is opened with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::contract::{Metrics, Params, QueryStore, Relational, Row, StoreError};
use super::sql::{Style, positional, settled};
use super::table::{Cell, META, Snapshot, chunk_rows};

mod median;
mod readers;

/// The SQLite file of the embedded stores, inside the data dir.
pub fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("eng-intel.sqlite")
}

pub struct Sqlite {
    /// Migrations, loads and writes.
    pool: SqlitePool,
    /// Every query.
    readers: Arc<readers::Readers>,
}

impl Sqlite {
    /// Opens (creating if needed) the file and brings its schema up to date with `schema`.
    pub async fn open(path: &Path, schema: &Migrator) -> anyhow::Result<Sqlite> {
        let pool = open_file(path, 4).await?;
        schema
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate {}: {e}", path.display()))?;
        let store = Sqlite {
            pool,
            readers: Arc::new(readers::Readers::new(path.to_path_buf(), 4)),
        };
        // Data loaded before loads gathered statistics (a one-off, about 30 ms at --scale 5000).
        let statistics: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
                .fetch_optional(&store.pool)
                .await?;
        if statistics.is_none() && store.is_loaded().await? {
            store.analyze().await?;
        }
        Ok(store)
    }

    /// Statistics for the query planner, sampled (a thousand rows an index): without
    /// them it reads a generated `GROUP BY author` over a time range through the time
    /// index and sorts every row, 9× slower than skipping through `(author, authored_at)`.
    async fn analyze(&self) -> anyhow::Result<()> {
        sqlx::raw_sql("PRAGMA analysis_limit = 1000; ANALYZE;")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The `meta` table (seed, size, as_of of the loaded data); empty before a load.
    pub async fn meta(&self) -> anyhow::Result<HashMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM meta")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn is_loaded(&self) -> anyhow::Result<bool> {
        Ok(self.meta().await?.contains_key("as_of"))
    }

    /// Replaces every table's rows with the snapshot's, in one transaction (so a reader
    /// never sees half a load and a re-run never duplicates). `progress` gets the number
    /// of rows written so far.
    pub async fn load(
        &self,
        data: &Snapshot<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for t in data.tables.iter().rev() {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", t.name())))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", META.name)))
            .execute(&mut *tx)
            .await?;
        let mut done = 0u64;
        for t in &data.tables {
            let columns: Vec<&str> = t.def.column_names().collect();
            let per = chunk_rows(columns.len());
            let mut start = 0;
            while start < t.len {
                let end = (start + per).min(t.len);
                let sql = insert_sql(t.name(), &columns, end - start);
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for i in start..end {
                    for cell in (t.row)(i) {
                        q = match cell {
                            Cell::Int(v) => q.bind(v),
                            Cell::Real(v) => q.bind(v),
                            Cell::Text(v) => q.bind(v),
                        };
                    }
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(|e| anyhow::anyhow!("loading {}: {e}", t.name()))?;
                done += (end - start) as u64;
                progress(done);
                start = end;
            }
        }
        for (k, v) in &data.meta {
            sqlx::query("INSERT INTO meta (key, value) VALUES (?1, ?2)")
                .bind(*k)
                .bind(v.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.analyze().await
    }
}

/// A pool on a SQLite file, creating it and its directory if needed: WAL journal, normal
/// sync, a 10 s busy timeout, memory-mapped reads. Shared by every SQLite file of the data dir. Connections are
/// kept for the pool's life (no idle timeout, no maximum lifetime): sqlx 0.9.0's SQLite
/// pool reaping them could leave an idle server spinning and deaf to SIGTERM (sqlx issue
/// 3645), and a SQLite connection costs nothing to keep.
pub async fn open_file(path: &Path, max_connections: u32) -> anyhow::Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
    }
    let opts = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        // Reads through the page cache's own pages instead of a copy per connection: a
        // large history's aggregates otherwise spend as much time in `pread` as in SQL.
        .pragma("mmap_size", "1073741824");
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))
}

fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(","),
        vec![one; rows].join(",")
    )
}

#[async_trait]
impl QueryStore for Sqlite {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        let p = positional(&settled(text, params), Style::Question);
        let args: Vec<rusqlite::types::Value> = p
            .names
            .iter()
            .map(|name| argument(params.get(name).unwrap_or(&Value::Null)))
            .collect();
        self.readers
            .with(move |db| read(db, &p.text, &args).map_err(direct_error))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(sql_error)
    }

    /// `query_only` refuses any write on the connection; a progress handler interrupts
    /// the statement once `timeout` has passed (SQLite has no statement timeout).
    async fn query_read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        let text = text.to_string();
        self.readers
            .with(move |db| {
                db.pragma_update(None, "query_only", true)
                    .map_err(direct_error)?;
                let deadline = std::time::Instant::now() + timeout;
                // Returning true interrupts the statement.
                db.progress_handler(1000, Some(move || std::time::Instant::now() >= deadline))
                    .map_err(direct_error)?;
                let rows = read(db, &text, &[]);
                db.progress_handler(1000, None::<fn() -> bool>)
                    .map_err(direct_error)?;
                db.pragma_update(None, "query_only", false)
                    .map_err(direct_error)?;
                rows.map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::OperationInterrupted =>
                    {
                        StoreError::query(format!(
                            "sqlite: the statement ran longer than {} ms and was stopped",
                            timeout.as_millis()
                        ))
                    }
                    other => direct_error(other),
                })
            })
            .await
    }
}

impl Relational for Sqlite {}
impl Metrics for Sqlite {}

fn sql_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => StoreError::query(format!("sqlite: {}", db.message())),
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::unavailable(format!("sqlite: {e}"))
        }
        other => StoreError::query(format!("sqlite: {other}")),
    }
}

/// A parameter as SQLite binds it (booleans as 0 and 1, arrays and objects as JSON text).
fn argument(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as Sql;
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => n.as_f64().map_or(Sql::Null, Sql::Real),
        },
        Value::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

/// Every row of `sql` as a `Row` keyed by the result's column names, each value by its
/// storage class (SQLite types values, not columns).
fn read(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[rusqlite::types::Value],
) -> rusqlite::Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut stmt = db.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Row::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::from(i),
                ValueRef::Real(x) => {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                }
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::String(String::from_utf8_lossy(t).into_owned())
                }
            };
            row.insert(name.clone(), v);
        }
        out.push(row);
    }
    Ok(out)
}

fn direct_error(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => {
            StoreError::query(format!("sqlite: {message}"))
        }
        other => StoreError::query(format!("sqlite: {other}")),
    }
}
