//! ClickHouse for the metrics role (the `clickhouse` crate over HTTP).
//!
//! The metrics tables of the SQLite schema become MergeTree tables, each sorted by the key
//! its time-range queries filter on; they are filled from the same loader rows and answer
//! the same SQL. Timestamps stay ISO-8601 UTC text as in the other backends: fixed-width
//! text sorts as time, so `finished_at >= :since` and the rows returned are identical
//! everywhere. `:name` parameters are bound client-side as `?` (Debian's ClickHouse 18.16
//! has no server-side parameters); results come as `FORMAT JSON`, whose column types say
//! which numbers are floats. docs/SERVERS.md lists the SQL that runs on 18.16 and on
//! current ClickHouse.

use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;
use clickhouse::query::Query;
use serde::Deserialize;
use serde_json::Value;

use super::load::{Cell, meta, tables};
use super::sql::{Style, positional};
use super::{Metrics, Params, QueryStore, Row, StoreError};
use crate::org::Org;

/// The metrics tables: name, columns (as `load::tables` writes them) and sort key.
const SCHEMA: &[(&str, &str, &str)] = &[
    (
        "commits",
        "sha String, author_id Int64, author String, team String, service String, service_team String, pr_id Int64, \
         authored_at String, message String, additions Int64, deletions Int64, deployment_id Nullable(Int64)",
        "author, authored_at",
    ),
    (
        "pull_requests",
        "id Int64, title String, author_id Int64, author String, team String, service String, service_team String, state String, \
         first_commit_at String, opened_at String, merged_at Nullable(String), deployment_id Nullable(Int64)",
        "author, opened_at",
    ),
    (
        "pr_reviews",
        "id Int64, pr_id Int64, reviewer_id Int64, reviewer String, reviewer_team String, author_id Int64, author String, \
         service String, requested_at String, reviewed_at Nullable(String), wait_hours Nullable(Float64), verdict String",
        "reviewer, requested_at",
    ),
    (
        "ci_runs",
        "id Int64, pr_id Int64, service String, team String, started_at String, finished_at String, duration_s Int64, status String",
        "started_at",
    ),
    (
        "deployments",
        "id Int64, service String, team String, environment String, status String, started_at String, finished_at String",
        "environment, finished_at",
    ),
    (
        "incidents",
        "id Int64, title String, severity String, service String, team String, deployment_id Nullable(Int64), opened_at String, \
         resolved_at Nullable(String), resolution_hours Nullable(Float64)",
        "opened_at",
    ),
    ("meta", "key String, value String", "key"),
];

/// Rows per INSERT: large enough to keep the number of parts small.
const BATCH: usize = 50_000;

pub struct ClickHouse {
    client: Client,
    timeout: Duration,
}

impl ClickHouse {
    /// Connects, creates the database if missing and the tables. `timeout` bounds every
    /// request, so a server that stops answering is an error, not a hung tool call.
    pub async fn connect(settings: &crate::settings::ClickHouse, timeout: Duration) -> anyhow::Result<ClickHouse> {
        let server = Client::default()
            .with_url(&settings.url)
            .with_user(&settings.user)
            .with_password(settings.password.expose())
            // 18.16 knows neither RowBinaryWithNamesAndTypes nor the schema lookup.
            .with_validation(false)
            // Numbers as JSON numbers, and SQL's NULLs from outer joins (not zeros).
            .with_setting("output_format_json_quote_64bit_integers", "0")
            .with_setting("join_use_nulls", "1");
        let store = ClickHouse {
            client: server.clone().with_database(&settings.database),
            timeout,
        };
        let name = &settings.database;
        let at = || format!("ClickHouse at {} (database {name})", settings.url);
        // The database may not exist yet, so this one statement runs without it.
        let create = ClickHouse { client: server, timeout };
        create.execute(&format!("CREATE DATABASE IF NOT EXISTS {}", ident(name))).await.map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", at()))?;
        for (table, columns, order) in SCHEMA {
            let ddl = format!("CREATE TABLE IF NOT EXISTS {table} ({columns}) ENGINE = MergeTree ORDER BY ({order})");
            store.execute(&ddl).await.map_err(|e| anyhow::anyhow!("cannot create table {table} in {}: {e}", at()))?;
        }
        Ok(store)
    }

    pub async fn is_loaded(&self) -> Result<bool, StoreError> {
        let rows = self.query("SELECT count() AS n FROM meta WHERE key = 'as_of'", &Params::new()).await?;
        Ok(rows.first().and_then(|r| r.get("n")).and_then(Value::as_u64).unwrap_or(0) > 0)
    }

    /// Replaces the metrics tables' rows with the organisation's. ClickHouse has no
    /// transactions: `meta` is emptied first and written last, so `is_loaded` is false
    /// while a load is incomplete, and a re-run starts again from empty tables.
    pub async fn load(&self, org: &Org, progress: &(dyn Fn(u64) + Sync)) -> Result<(), StoreError> {
        for (table, _, _) in SCHEMA {
            self.execute(&format!("TRUNCATE TABLE {table}")).await?;
        }
        let mut done = 0u64;
        for t in tables(org).iter().filter(|t| SCHEMA.iter().any(|s| s.0 == t.name)) {
            let mut start = 0;
            while start < t.len {
                let end = (start + BATCH).min(t.len);
                let rows = (start..end).map(|i| {
                    let cells = (t.row)(i);
                    t.columns.iter().zip(cells).map(|(c, v)| (c.to_string(), cell_json(v))).collect::<Row>()
                });
                self.insert(t.name, t.columns, rows).await?;
                done += (end - start) as u64;
                progress(done);
                start = end;
            }
        }
        let rows = meta(org).into_iter().map(|(k, v)| Row::from_iter([("key".to_string(), Value::from(k)), ("value".to_string(), Value::from(v))]));
        self.insert("meta", &["key", "value"], rows).await
    }

    async fn insert(&self, table: &str, columns: &[&str], rows: impl Iterator<Item = Row>) -> Result<(), StoreError> {
        let mut body = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut body, &r).expect("a JSON map serializes");
            body.push(b'\n');
        }
        let mut insert = self.client.insert_formatted_with(format!("INSERT INTO {table} ({}) FORMAT JSONEachRow", columns.join(", ")));
        self.bounded(async {
            insert.send(body.into()).await?;
            insert.end().await
        })
        .await
    }

    async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.bounded(self.client.query(sql).execute()).await
    }

    async fn bounded<T>(&self, f: impl Future<Output = clickhouse::error::Result<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(ch_error),
            Err(_) => Err(StoreError::unavailable(format!("clickhouse: no answer within {:?}", self.timeout))),
        }
    }
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

fn cell_json(c: Cell) -> Value {
    match c {
        Cell::Int(v) => v.map_or(Value::Null, Value::from),
        Cell::Real(v) => v.map_or(Value::Null, Value::from),
        Cell::Text(v) => v.map_or(Value::Null, Value::from),
    }
}

/// `:name` → `?` for the crate's client-side binding, with the names in order of use (a
/// name used twice is bound twice). Every `?` already in the text is doubled first, which
/// the crate reads as a literal `?`.
fn placeholders(text: &str) -> (String, Vec<String>) {
    let p = positional(&text.replace('?', "??"), Style::Question);
    let mut sql = String::with_capacity(p.text.len());
    let mut names = Vec::new();
    let mut chars = p.text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            sql.push(c);
        } else if chars.next_if_eq(&'?').is_some() {
            sql.push_str("??");
        } else {
            let mut n = 0usize;
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                n = n * 10 + d.to_digit(10).expect("a digit") as usize;
            }
            names.push(p.names[n - 1].clone());
            sql.push('?');
        }
    }
    (sql, names)
}

fn bind(q: Query, v: &Value) -> Query {
    match v {
        Value::Null => q.bind(None::<i64>),
        // 18.16 has no boolean literals.
        Value::Bool(b) => q.bind(u8::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => q.bind(i),
            None => q.bind(n.as_f64()),
        },
        Value::String(s) => q.bind(s.as_str()),
        other => q.bind(other.to_string()),
    }
}

/// `FORMAT JSON`: the column types, then the rows.
#[derive(Deserialize)]
struct JsonResult {
    meta: Vec<Column>,
    data: Vec<Row>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

/// Float columns print whole values as `3`: make them JSON floats, as SQLite's REAL are.
fn typed_rows(result: JsonResult) -> Vec<Row> {
    let floats: Vec<&str> = result.meta.iter().filter(|c| c.ty.contains("Float")).map(|c| c.name.as_str()).collect();
    let mut rows = result.data;
    if !floats.is_empty() {
        for r in &mut rows {
            for name in &floats {
                if let Some(v) = r.get_mut(*name)
                    && let Some(f) = v.as_f64()
                {
                    *v = serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
                }
            }
        }
    }
    rows
}

#[async_trait]
impl QueryStore for ClickHouse {
    fn backend(&self) -> &'static str {
        "clickhouse"
    }

    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        let (sql, names) = placeholders(text);
        let mut q = self.client.query(&sql);
        for name in &names {
            q = bind(q, params.get(name).unwrap_or(&Value::Null));
        }
        let bytes = self.bounded(async { q.fetch_bytes("JSON")?.collect().await }).await?;
        let result: JsonResult = serde_json::from_slice(&bytes).map_err(|e| StoreError::query(format!("clickhouse: unreadable result: {e}")))?;
        Ok(typed_rows(result))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.execute("SELECT 1").await
    }
}

impl Metrics for ClickHouse {}

fn ch_error(e: clickhouse::error::Error) -> StoreError {
    use clickhouse::error::Error;
    match e {
        Error::Network(_) | Error::TimedOut => StoreError::unavailable(format!("clickhouse: {e}")),
        // The server's own message ("Code: 47, e.displayText() = DB::Exception: …").
        Error::BadResponse(m) => StoreError::query(format!("clickhouse: {}", m.trim())),
        other => StoreError::query(format!("clickhouse: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_parameters_become_question_marks_bound_in_order_of_use() {
        let (sql, names) = placeholders("SELECT * FROM t WHERE (:team IS NULL OR team = :team) AND at >= :since AND note = 'why?' AND x = ':no'");
        assert_eq!(sql, "SELECT * FROM t WHERE (? IS NULL OR team = ?) AND at >= ? AND note = 'why??' AND x = ':no'");
        assert_eq!(names, ["team", "team", "since"]);
    }

    #[test]
    fn float_columns_are_floats_even_when_whole() {
        let result: JsonResult = serde_json::from_str(
            r#"{"meta":[{"name":"n","type":"UInt64"},{"name":"h","type":"Nullable(Float64)"}],"data":[{"n":3,"h":3},{"n":4,"h":null}]}"#,
        )
        .unwrap();
        let rows = typed_rows(result);
        assert_eq!(rows[0]["n"], Value::from(3_i64));
        assert_eq!(rows[0]["h"], Value::from(3.0_f64));
        assert_ne!(rows[0]["h"], Value::from(3_i64));
        assert_eq!(rows[1]["h"], Value::Null);
    }

    /// Against a real server (scripts/servers.sh): the same rows and the same builtin tool
    /// answers as the embedded SQLite metrics, which serve as the expected values.
    #[tokio::test]
    async fn answers_like_the_embedded_metrics_store() {
        use super::super::Sqlite;
        use super::super::builtin::{self, Ctx};
        use super::super::load::timestamp;

        let Some(mut settings) = crate::settings::Settings::from_lookup(|k| std::env::var(k).ok()).clickhouse else {
            eprintln!("skipped: clickhouse: CLICKHOUSE_HOST is not set (eval \"$(scripts/servers.sh env)\" to run it)");
            return;
        };
        settings.database = "eng_intel_test_metrics".into();
        let org = crate::org::generate(7, 0);
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Sqlite::open(&dir.path().join("m.sqlite")).await.unwrap();
        sqlite.load(&org, &|_| {}).await.unwrap();
        let ch = ClickHouse::connect(&settings, Duration::from_secs(30)).await.unwrap();
        ch.execute("TRUNCATE TABLE meta").await.unwrap();
        assert!(!ch.is_loaded().await.unwrap());
        // Twice: a re-run replaces, never duplicates.
        ch.load(&org, &|_| {}).await.unwrap();
        ch.load(&org, &|_| {}).await.unwrap();
        assert!(ch.is_loaded().await.unwrap());

        let now = crate::org::as_of();
        let team = org.teams[0].name.clone();
        let mut p = Params::new();
        p.insert("now".into(), timestamp(now).into());
        p.insert("since".into(), timestamp(now - chrono::Duration::days(60)).into());
        p.insert("team".into(), Value::Null);
        p.insert("service".into(), Value::Null);
        let queries = [
            "SELECT COUNT(*) AS n, SUM(additions) AS added, MIN(authored_at) AS first FROM commits",
            "SELECT author, COUNT(*) AS n FROM commits WHERE authored_at >= :since AND (:team IS NULL OR team = :team) \
             GROUP BY author ORDER BY n DESC, author LIMIT 8",
            "SELECT id, reviewer, wait_hours, reviewed_at FROM pr_reviews ORDER BY id LIMIT 40",
            "SELECT i.id, i.severity, d.environment, i.resolution_hours FROM incidents i LEFT JOIN deployments d ON d.id = i.deployment_id \
             ORDER BY i.id",
            "SELECT team, AVG(duration_s) AS avg_s, COUNT(*) AS runs FROM ci_runs WHERE started_at >= :since GROUP BY team ORDER BY team",
        ];
        for q in queries {
            let expected = sqlite.query(q, &p).await.unwrap();
            assert!(!expected.is_empty(), "no rows to compare for {q}");
            assert_eq!(ch.query(q, &p).await.unwrap(), expected, "{q}");
        }

        for args in [Value::Null, Value::from(team)] {
            p.insert("team".into(), args);
            p.insert("days".into(), 90.into());
            p.insert("since".into(), timestamp(now - chrono::Duration::days(90)).into());
            for tool in ["dora_metrics", "lead_time_trend", "workload"] {
                let with = |metrics: &'static str| {
                    let m: &dyn QueryStore = if metrics == "sqlite" { &sqlite } else { &ch };
                    builtin::call(tool, &p, &Ctx { relational: &sqlite, metrics: m, now })
                };
                let expected = with("sqlite").await.unwrap();
                assert_eq!(with("clickhouse").await.unwrap(), expected, "{tool} {:?}", p.get("team"));
            }
        }

        let err = ch.query("SELECT nope FROM commits", &p).await.unwrap_err();
        assert!(!err.retryable && err.message.contains("nope"), "{}", err.message);
    }
}
