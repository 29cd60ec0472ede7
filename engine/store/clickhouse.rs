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

/// A column's type. Nullable columns hold the loader's optional values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Int,
    Text,
    NullInt,
    NullText,
    NullReal,
}

impl Ty {
    fn sql(self) -> &'static str {
        match self {
            Ty::Int => "Int64",
            Ty::Text => "String",
            Ty::NullInt => "Nullable(Int64)",
            Ty::NullText => "Nullable(String)",
            Ty::NullReal => "Nullable(Float64)",
        }
    }
}

use Ty::{Int, NullInt, NullReal, NullText, Text};

/// A metrics table: its columns in `load::tables` order, and its sort key (the filter of
/// its time-range queries, as the SQLite indexes have it).
struct TableDef {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
    order_by: &'static str,
}

const SCHEMA: &[TableDef] = &[
    TableDef {
        name: "commits",
        columns: &[
            ("sha", Text),
            ("author_id", Int),
            ("author", Text),
            ("team", Text),
            ("service", Text),
            ("service_team", Text),
            ("pr_id", Int),
            ("authored_at", Text),
            ("message", Text),
            ("additions", Int),
            ("deletions", Int),
            ("deployment_id", NullInt),
        ],
        order_by: "author, authored_at",
    },
    TableDef {
        name: "pull_requests",
        columns: &[
            ("id", Int),
            ("title", Text),
            ("author_id", Int),
            ("author", Text),
            ("team", Text),
            ("service", Text),
            ("service_team", Text),
            ("state", Text),
            ("first_commit_at", Text),
            ("opened_at", Text),
            ("merged_at", NullText),
            ("deployment_id", NullInt),
        ],
        order_by: "author, opened_at",
    },
    TableDef {
        name: "pr_reviews",
        columns: &[
            ("id", Int),
            ("pr_id", Int),
            ("reviewer_id", Int),
            ("reviewer", Text),
            ("reviewer_team", Text),
            ("author_id", Int),
            ("author", Text),
            ("service", Text),
            ("requested_at", Text),
            ("reviewed_at", NullText),
            ("wait_hours", NullReal),
            ("verdict", Text),
        ],
        order_by: "reviewer, requested_at",
    },
    TableDef {
        name: "ci_runs",
        columns: &[
            ("id", Int),
            ("pr_id", Int),
            ("service", Text),
            ("team", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("duration_s", Int),
            ("status", Text),
        ],
        order_by: "started_at",
    },
    TableDef {
        name: "deployments",
        columns: &[
            ("id", Int),
            ("service", Text),
            ("team", Text),
            ("environment", Text),
            ("status", Text),
            ("started_at", Text),
            ("finished_at", Text),
        ],
        order_by: "environment, finished_at",
    },
    TableDef {
        name: "incidents",
        columns: &[
            ("id", Int),
            ("title", Text),
            ("severity", Text),
            ("service", Text),
            ("team", Text),
            ("deployment_id", NullInt),
            ("opened_at", Text),
            ("resolved_at", NullText),
            ("resolution_hours", NullReal),
        ],
        order_by: "opened_at",
    },
    TableDef {
        name: "meta",
        columns: &[("key", Text), ("value", Text)],
        order_by: "key",
    },
];

impl TableDef {
    fn ddl(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|(n, t)| format!("{n} {}", t.sql()))
            .collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = MergeTree ORDER BY ({})",
            self.name,
            columns.join(", "),
            self.order_by
        )
    }

    fn insert_sql(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.0).collect();
        format!(
            "INSERT INTO {} ({}) FORMAT RowBinary",
            self.name,
            names.join(", ")
        )
    }
}

/// Rows per INSERT: large enough to keep the number of parts small.
const BATCH: usize = 50_000;

pub struct ClickHouse {
    client: Client,
    timeout: Duration,
}

impl ClickHouse {
    /// Connects, creates the database if missing and the tables. `timeout` bounds every
    /// request, so a server that stops answering is an error, not a hung tool call.
    pub async fn connect(
        settings: &crate::settings::ClickHouse,
        timeout: Duration,
    ) -> anyhow::Result<ClickHouse> {
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
        let create = ClickHouse {
            client: server,
            timeout,
        };
        create
            .execute(&format!("CREATE DATABASE IF NOT EXISTS {}", ident(name)))
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", at()))?;
        for t in SCHEMA {
            store
                .execute(&t.ddl())
                .await
                .map_err(|e| anyhow::anyhow!("cannot create table {} in {}: {e}", t.name, at()))?;
        }
        Ok(store)
    }

    /// The rows [`ClickHouse::load`] writes for `org` (the metrics tables only).
    pub fn load_size(org: &Org) -> u64 {
        tables(org)
            .iter()
            .filter(|t| SCHEMA.iter().any(|d| d.name == t.name))
            .map(|t| t.len as u64)
            .sum()
    }

    pub async fn is_loaded(&self) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "SELECT count() AS n FROM meta WHERE key = 'as_of'",
                &Params::new(),
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("n"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0)
    }

    /// Replaces the metrics tables' rows with the organisation's. ClickHouse has no
    /// transactions: `meta` is emptied first and written last, so `is_loaded` is false
    /// while a load is incomplete, and a re-run starts again from empty tables. Rows go as
    /// RowBinary: 18.16's text parsers round some floats by one unit in the last place.
    pub async fn load(&self, org: &Org, progress: &(dyn Fn(u64) + Sync)) -> Result<(), StoreError> {
        for t in SCHEMA {
            self.execute(&format!("TRUNCATE TABLE {}", t.name)).await?;
        }
        let mut done = 0u64;
        for t in tables(org) {
            let Some(def) = SCHEMA.iter().find(|d| d.name == t.name) else {
                continue;
            };
            if !def
                .columns
                .iter()
                .map(|c| c.0)
                .eq(t.columns.iter().copied())
            {
                return Err(StoreError::query(format!(
                    "clickhouse: the loader's columns of {} differ from this backend's schema",
                    t.name
                )));
            }
            let mut start = 0;
            while start < t.len {
                let end = (start + BATCH).min(t.len);
                let mut body = Vec::new();
                for i in start..end {
                    for (cell, (_, ty)) in (t.row)(i).into_iter().zip(def.columns) {
                        row_binary(&mut body, cell, *ty)?;
                    }
                }
                self.insert(def, body).await?;
                done += (end - start) as u64;
                progress(done);
                start = end;
            }
        }
        let meta_def = SCHEMA
            .iter()
            .find(|d| d.name == "meta")
            .expect("meta is in the schema");
        let mut body = Vec::new();
        for (k, v) in meta(org) {
            row_binary(&mut body, Cell::Text(Some(k.to_string())), Text)?;
            row_binary(&mut body, Cell::Text(Some(v)), Text)?;
        }
        self.insert(meta_def, body).await
    }

    async fn insert(&self, table: &TableDef, body: Vec<u8>) -> Result<(), StoreError> {
        let mut insert = self.client.insert_formatted_with(table.insert_sql());
        self.bounded(async {
            insert.send(body.into()).await?;
            insert.end().await
        })
        .await
    }

    async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.bounded(self.client.query(sql).execute()).await
    }

    async fn bounded<T>(
        &self,
        f: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(ch_error),
            Err(_) => Err(StoreError::unavailable(format!(
                "clickhouse: no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// One value in RowBinary: little-endian numbers, strings with a LEB128 length, and a
/// null flag byte before a Nullable column's value.
fn row_binary(out: &mut Vec<u8>, cell: Cell, ty: Ty) -> Result<(), StoreError> {
    let nullable = matches!(ty, NullInt | NullText | NullReal);
    let present = |out: &mut Vec<u8>, is_some: bool| -> Result<bool, StoreError> {
        match (nullable, is_some) {
            (true, _) => out.push(u8::from(!is_some)),
            (false, true) => {}
            (false, false) => {
                return Err(StoreError::query(format!(
                    "clickhouse: a null for a {} column",
                    ty.sql()
                )));
            }
        }
        Ok(is_some)
    };
    match (cell, ty) {
        (Cell::Int(v), Int | NullInt) => {
            if present(out, v.is_some())? {
                out.extend_from_slice(&v.expect("present").to_le_bytes());
            }
        }
        (Cell::Real(v), NullReal) => {
            if present(out, v.is_some())? {
                out.extend_from_slice(&v.expect("present").to_le_bytes());
            }
        }
        (Cell::Text(v), Text | NullText) => {
            if present(out, v.is_some())? {
                let s = v.expect("present");
                let mut n = s.len();
                while n >= 0x80 {
                    out.push((n as u8) | 0x80);
                    n >>= 7;
                }
                out.push(n as u8);
                out.extend_from_slice(s.as_bytes());
            }
        }
        (cell, ty) => {
            return Err(StoreError::query(format!(
                "clickhouse: cannot write {cell:?} to a {} column",
                ty.sql()
            )));
        }
    }
    Ok(())
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
    let floats: Vec<&str> = result
        .meta
        .iter()
        .filter(|c| c.ty.contains("Float"))
        .map(|c| c.name.as_str())
        .collect();
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
        let bytes = self
            .bounded(async { q.fetch_bytes("JSON")?.collect().await })
            .await?;
        let result: JsonResult = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::query(format!("clickhouse: unreadable result: {e}")))?;
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
        let (sql, names) = placeholders(
            "SELECT * FROM t WHERE (:team IS NULL OR team = :team) AND at >= :since AND note = 'why?' AND x = ':no'",
        );
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE (? IS NULL OR team = ?) AND at >= ? AND note = 'why??' AND x = ':no'"
        );
        assert_eq!(names, ["team", "team", "since"]);
    }

    #[test]
    fn row_binary_layout() {
        let mut b = Vec::new();
        row_binary(&mut b, Cell::Int(Some(-2)), Int).unwrap();
        row_binary(&mut b, Cell::Text(None), NullText).unwrap();
        row_binary(&mut b, Cell::Real(Some(0.5)), NullReal).unwrap();
        row_binary(&mut b, Cell::Text(Some("x".repeat(200))), Text).unwrap();
        let mut expected = vec![
            0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f,
            0xc8, 0x01,
        ];
        expected.extend_from_slice(&[b'x'; 200]);
        assert_eq!(b, expected);
        assert!(row_binary(&mut b, Cell::Int(None), Int).is_err());
        assert!(row_binary(&mut b, Cell::Text(Some("a".into())), NullReal).is_err());
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

        let Some(mut settings) =
            crate::settings::Settings::from_lookup(|k| std::env::var(k).ok()).clickhouse
        else {
            eprintln!(
                "skipped: clickhouse: CLICKHOUSE_HOST is not set (eval \"$(scripts/servers.sh env)\" to run it)"
            );
            return;
        };
        settings.database = "eng_intel_test_metrics".into();
        let org = crate::org::generate(7, 0);
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Sqlite::open(&dir.path().join("m.sqlite")).await.unwrap();
        sqlite.load(&org, &|_| {}).await.unwrap();
        let ch = ClickHouse::connect(&settings, Duration::from_secs(30))
            .await
            .unwrap();
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
        p.insert(
            "since".into(),
            timestamp(now - chrono::Duration::days(60)).into(),
        );
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

        let directory = crate::store::directory::Directory::load(&sqlite)
            .await
            .unwrap();
        for args in [Value::Null, Value::from(team)] {
            p.insert("team".into(), args);
            p.insert("days".into(), 90.into());
            p.insert(
                "since".into(),
                timestamp(now - chrono::Duration::days(90)).into(),
            );
            let embedded = Ctx {
                relational: &sqlite,
                metrics: &sqlite,
                directory: &directory,
                now,
            };
            let real = Ctx {
                relational: &sqlite,
                metrics: &ch,
                directory: &directory,
                now,
            };
            for tool in ["dora_metrics", "lead_time_trend", "workload"] {
                let expected = builtin::call(tool, &p, &embedded).await.unwrap();
                assert_eq!(
                    builtin::call(tool, &p, &real).await.unwrap(),
                    expected,
                    "{tool} {:?}",
                    p.get("team")
                );
            }
        }

        let err = ch.query("SELECT nope FROM commits", &p).await.unwrap_err();
        assert!(
            !err.retryable && err.message.contains("nope"),
            "{}",
            err.message
        );
    }
}
