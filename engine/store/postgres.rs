//! PostgreSQL (sqlx) for the relational role — and for metrics too when asked, since it
//! holds the same full schema as the SQLite file (from the migrations it is connected
//! with), loaded from the same snapshot.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Column, Row as _, TypeInfo, ValueRef};

use super::contract::{Metrics, Params, QueryStore, Relational, Row, StoreError};
use super::sql::{Style, positional, settled};
use super::table::{Cell, META, Snapshot, chunk_rows};

/// Runs the migrations of `schema` not applied yet. With none pending it only reads the
/// migrations table, so a role without DDL rights (scripts/postgres-app-role.sql) starts
/// once `eng-intel migrate` has run as the owner.
pub async fn migrate_pending(
    pool: &PgPool,
    schema: &Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    let sql = format!("SELECT version FROM {} WHERE success", schema.table_name);
    let applied: Result<Vec<i64>, _> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(pool).await;
    if let Ok(applied) = applied
        && schema.iter().all(|m| applied.contains(&m.version))
    {
        return Ok(());
    }
    schema.run(pool).await
}

pub struct Postgres {
    pool: PgPool,
    /// Bounds each query and ping ([`Postgres::bounded_by`]); none by default.
    timeout: Option<Duration>,
}

/// An advisory lock held until dropped: [`Postgres::exclusive`].
pub struct Exclusive {
    _session: sqlx::PgConnection,
}

impl Postgres {
    /// Connects and brings the schema up to date with `schema`.
    pub async fn connect(
        settings: &crate::settings::Postgres,
        schema: &Migrator,
    ) -> anyhow::Result<Postgres> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size.max(1))
            .acquire_timeout(settings.connect_timeout)
            .connect(&settings.url())
            .await
            // The URL holds the password: name the server only.
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to PostgreSQL at {}:{}/{}: {e}",
                    settings.host,
                    settings.port,
                    settings.database
                )
            })?;
        migrate_pending(&pool, schema).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot migrate PostgreSQL database {}: {e} (a role without DDL rights needs `eng-intel migrate` run by the owner first)",
                settings.database
            )
        })?;
        Ok(Postgres {
            pool,
            timeout: None,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Each query and ping (not loading) answered within `timeout` or failed as
    /// unreachable, so a server that stops answering is an error a breaker counts rather
    /// than a hung call (`STORE_TIMEOUT_S`).
    pub fn bounded_by(mut self, timeout: Duration) -> Postgres {
        self.timeout = Some(timeout);
        self
    }

    async fn bounded<T>(
        &self,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.bounded_at_least(Duration::ZERO, f).await
    }

    /// [`Postgres::bounded`], given at least `at_least` (a statement's own timeout).
    async fn bounded_at_least<T>(
        &self,
        at_least: Duration,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(limit) = self.timeout.map(|t| t.max(at_least)) else {
            return f.await;
        };
        match tokio::time::timeout(limit, f).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::unavailable(format!(
                "postgres: no answer within {limit:?}"
            ))),
        }
    }

    /// Waits for the session-level advisory lock `key`, which every instance on this
    /// database contends for, and holds it on a connection of its own until the returned
    /// guard is dropped (closing the connection ends the session, which releases it).
    pub async fn exclusive(&self, key: i64) -> Result<Exclusive, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(pg_error)?.detach();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut conn)
            .await
            .map_err(pg_error)?;
        Ok(Exclusive { _session: conn })
    }

    pub async fn is_loaded(&self) -> anyhow::Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM meta WHERE key = 'as_of'")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Replaces every table's rows in one transaction; see `Sqlite::load`.
    pub async fn load(
        &self,
        data: &Snapshot<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let names: Vec<&str> = data
            .tables
            .iter()
            .map(|t| t.name())
            .chain([META.name])
            .collect();
        sqlx::query(AssertSqlSafe(format!("TRUNCATE {}", names.join(", "))))
            .execute(&mut *tx)
            .await?;
        let mut done = 0u64;
        for t in &data.tables {
            let columns: Vec<&str> = t.def.column_names().collect();
            let per = chunk_rows(columns.len());
            let mut start = 0;
            while start < t.len {
                let end = (start + per).min(t.len);
                let mut q = sqlx::query(AssertSqlSafe(insert_sql(t.name(), &columns, end - start)));
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
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                .bind(*k)
                .bind(v.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // Statistics for the planner, and the visibility map that lets a covering index
        // answer without reading the table.
        sqlx::query(AssertSqlSafe(format!(
            "VACUUM (ANALYZE) {}",
            names.join(", ")
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let n = columns.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            format!(
                "({})",
                (1..=n)
                    .map(|c| format!("${}", r * n + c))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(","),
        values.join(",")
    )
}

#[async_trait]
impl QueryStore for Postgres {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        let p = positional(&settled(text, params), Style::Dollar);
        let mut q = sqlx::query(AssertSqlSafe(p.text));
        for name in &p.names {
            q = match params.get(name).unwrap_or(&Value::Null) {
                // An untyped NULL is text; compare it with `:x::bigint` where a number is meant.
                Value::Null => q.bind(None::<String>),
                Value::Bool(b) => q.bind(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => q.bind(i),
                    None => q.bind(n.as_f64()),
                },
                Value::String(s) => q.bind(s.clone()),
                other => q.bind(other.to_string()),
            };
        }
        let rows = self
            .bounded(async { q.fetch_all(&self.pool).await.map_err(pg_error) })
            .await?;
        rows.iter().map(row_json).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(pg_error)
        })
        .await
    }

    /// A `READ ONLY` transaction with a local `statement_timeout`, rolled back after;
    /// rows come back as JSON so that any column type (NUMERIC, dates) reads.
    async fn query_read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        self.bounded_at_least(timeout, self.read_only(text, timeout))
            .await
    }
}

impl Postgres {
    async fn read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(pg_error)?;
        sqlx::query(AssertSqlSafe(format!(
            "SET LOCAL statement_timeout = {}",
            timeout.as_millis().max(1)
        )))
        .execute(&mut *tx)
        .await
        .map_err(pg_error)?;
        let json: String = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COALESCE(json_agg(q), '[]')::text FROM ({text}) q"
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(pg_error)?;
        tx.rollback().await.map_err(pg_error)?;
        serde_json::from_str(&json)
            .map_err(|e| StoreError::query(format!("postgres: unreadable result: {e}")))
    }
}

impl Relational for Postgres {}
impl Metrics for Postgres {}

pub(super) fn pg_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => StoreError::query(format!("postgres: {}", db.message())),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => StoreError::unavailable(format!("postgres: {e}")),
        other => StoreError::query(format!("postgres: {other}")),
    }
}

/// A row as JSON by column type; NUMERIC is refused with a hint (cast to DOUBLE PRECISION).
fn row_json(row: &PgRow) -> Result<Row, StoreError> {
    let mut out = Row::new();
    for (i, col) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(pg_error)?;
        let v = if raw.is_null() {
            Value::Null
        } else {
            match col.type_info().name() {
                "INT2" => Value::from(row.try_get::<i16, _>(i).map_err(pg_error)?),
                "INT4" => Value::from(row.try_get::<i32, _>(i).map_err(pg_error)?),
                "INT8" => Value::from(row.try_get::<i64, _>(i).map_err(pg_error)?),
                "FLOAT4" => Value::from(f64::from(row.try_get::<f32, _>(i).map_err(pg_error)?)),
                "FLOAT8" => {
                    serde_json::Number::from_f64(row.try_get::<f64, _>(i).map_err(pg_error)?)
                        .map_or(Value::Null, Value::Number)
                }
                "BOOL" => Value::from(row.try_get::<bool, _>(i).map_err(pg_error)?),
                "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => {
                    Value::String(row.try_get::<String, _>(i).map_err(pg_error)?)
                }
                other => {
                    return Err(StoreError::query(format!(
                        "postgres: column \"{}\" has type {other}, which tools cannot return; cast it (e.g. CAST(x AS DOUBLE PRECISION) or x::text)",
                        col.name()
                    )));
                }
            }
        };
        out.insert(col.name().to_string(), v);
    }
    Ok(out)
}
