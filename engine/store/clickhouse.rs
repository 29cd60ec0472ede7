//! ClickHouse for the metrics role (the `clickhouse` crate over HTTP).
//!
//! The tables it is connected with (the dataset's metrics tables) become MergeTree tables,
//! created from their one description (columns, types, sort key); they are filled from
//! the same snapshot rows as the other backends and answer the same SQL. Timestamps stay ISO-8601 UTC text as in the other backends: fixed-width
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

use super::contract::{Metrics, Params, QueryStore, Row, StoreError};
use super::sql::{Style, positional, settled};
use super::table::{Cell, META, Snapshot, TableDef, Ty};

/// A column type in ClickHouse.
fn sql_type(ty: Ty) -> &'static str {
    match ty {
        Ty::Int => "Int64",
        Ty::Text => "String",
        Ty::NullInt => "Nullable(Int64)",
        Ty::NullText => "Nullable(String)",
        Ty::NullReal => "Nullable(Float64)",
    }
}

/// A MergeTree table sorted by the table's sort key.
fn ddl(t: &TableDef) -> String {
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|(n, ty)| format!("{n} {}", sql_type(*ty)))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = MergeTree ORDER BY ({})",
        t.name,
        columns.join(", "),
        t.sort_key
    )
}

fn insert_sql(t: &TableDef) -> String {
    let names: Vec<&str> = t.column_names().collect();
    format!(
        "INSERT INTO {} ({}) FORMAT RowBinary",
        t.name,
        names.join(", ")
    )
}

/// Rows per INSERT: large enough to keep the number of parts small.
const BATCH: usize = 50_000;

pub struct ClickHouse {
    client: Client,
    timeout: Duration,
    /// The tables this store holds (besides `meta`).
    tables: &'static [&'static TableDef],
}

impl ClickHouse {
    /// Connects, creates the database if missing and `tables` (with `meta`). `timeout`
    /// bounds every request, so a server that stops answering is an error, not a hung
    /// tool call.
    pub async fn connect(
        settings: &crate::settings::ClickHouse,
        timeout: Duration,
        tables: &'static [&'static TableDef],
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
            tables,
        };
        let name = &settings.database;
        let at = || format!("ClickHouse at {} (database {name})", settings.url);
        // The database may not exist yet, so this one statement runs without it.
        let create = ClickHouse {
            client: server,
            timeout,
            tables,
        };
        create
            .execute(&format!("CREATE DATABASE IF NOT EXISTS {}", ident(name)))
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", at()))?;
        for t in tables.iter().copied().chain([&META]) {
            store
                .execute(&ddl(t))
                .await
                .map_err(|e| anyhow::anyhow!("cannot create table {} in {}: {e}", t.name, at()))?;
            store
                .add_missing_columns(t)
                .await
                .map_err(|e| anyhow::anyhow!("cannot update table {} in {}: {e}", t.name, at()))?;
        }
        Ok(store)
    }

    /// Columns a later version added to a table created before it (their rows read null
    /// until the next load). 18.16 has no `ADD COLUMN IF NOT EXISTS`.
    async fn add_missing_columns(&self, t: &TableDef) -> Result<(), StoreError> {
        let mut p = Params::new();
        p.insert("table".into(), t.name.into());
        let have: Vec<Row> = self
            .query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = :table",
                &p,
            )
            .await?;
        let have: Vec<&str> = have
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .collect();
        for (name, ty) in t.columns.iter().filter(|(n, _)| !have.contains(n)) {
            self.execute(&format!(
                "ALTER TABLE {} ADD COLUMN {name} {}",
                t.name,
                sql_type(*ty)
            ))
            .await?;
        }
        Ok(())
    }

    /// The rows [`ClickHouse::load`] writes of `data` (its tables only).
    pub fn load_size(&self, data: &Snapshot<'_>) -> u64 {
        data.tables
            .iter()
            .filter(|t| self.holds(t.def))
            .map(|t| t.len as u64)
            .sum()
    }

    fn holds(&self, t: &TableDef) -> bool {
        self.tables.iter().any(|d| d.name == t.name)
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

    /// Replaces its tables' rows with the snapshot's. ClickHouse has no transactions:
    /// `meta` is emptied first and written last, so `is_loaded` is false while a load is
    /// incomplete, and a re-run starts again from empty tables. Rows go as RowBinary:
    /// 18.16's text parsers round some floats by one unit in the last place.
    pub async fn load(
        &self,
        data: &Snapshot<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        for t in self.tables.iter().copied().chain([&META]) {
            self.execute(&format!("TRUNCATE TABLE {}", t.name)).await?;
        }
        let mut done = 0u64;
        for t in data.tables.iter().filter(|t| self.holds(t.def)) {
            let mut start = 0;
            while start < t.len {
                let end = (start + BATCH).min(t.len);
                let mut body = Vec::new();
                for i in start..end {
                    for (cell, (_, ty)) in (t.row)(i).into_iter().zip(t.def.columns) {
                        row_binary(&mut body, cell, *ty)?;
                    }
                }
                self.insert(t.def, body).await?;
                done += (end - start) as u64;
                progress(done);
                start = end;
            }
        }
        let mut body = Vec::new();
        for (k, v) in &data.meta {
            row_binary(&mut body, Cell::Text(Some(k.to_string())), Ty::Text)?;
            row_binary(&mut body, Cell::Text(Some(v.clone())), Ty::Text)?;
        }
        self.insert(&META, body).await
    }

    async fn insert(&self, table: &TableDef, body: Vec<u8>) -> Result<(), StoreError> {
        let mut insert = self.client.insert_formatted_with(insert_sql(table));
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
    let nullable = ty.nullable();
    let present = |out: &mut Vec<u8>, is_some: bool| -> Result<bool, StoreError> {
        match (nullable, is_some) {
            (true, _) => out.push(u8::from(!is_some)),
            (false, true) => {}
            (false, false) => {
                return Err(StoreError::query(format!(
                    "clickhouse: a null for a {} column",
                    sql_type(ty)
                )));
            }
        }
        Ok(is_some)
    };
    match (cell, ty) {
        (Cell::Int(v), Ty::Int | Ty::NullInt) => {
            if present(out, v.is_some())? {
                out.extend_from_slice(&v.expect("present").to_le_bytes());
            }
        }
        (Cell::Real(v), Ty::NullReal) => {
            if present(out, v.is_some())? {
                out.extend_from_slice(&v.expect("present").to_le_bytes());
            }
        }
        (Cell::Text(v), Ty::Text | Ty::NullText) => {
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
                sql_type(ty)
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
        let (sql, names) = placeholders(&settled(text, params));
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
    use super::Ty::{Int, NullReal, NullText, Text};
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

    #[test]
    fn tables_are_created_from_their_description() {
        const RUNS: TableDef = TableDef {
            name: "runs",
            columns: &[("id", Int), ("took", NullReal), ("at", Text)],
            sort_key: "at",
        };
        assert_eq!(
            ddl(&RUNS),
            "CREATE TABLE IF NOT EXISTS runs (id Int64, took Nullable(Float64), at String) ENGINE = MergeTree ORDER BY (at)"
        );
        assert_eq!(
            insert_sql(&RUNS),
            "INSERT INTO runs (id, took, at) FORMAT RowBinary"
        );
    }
}
