//! Every statement a tool runs — tools.yaml's queries and the builtins' own
//! (`toolbox::builtin_statements`) — reaches the tables that grow with the history through
//! an index. SQLite's `EXPLAIN QUERY PLAN` must show no `SCAN` of such a table, nor a
//! `SCAN` of anything as the inner loop of a join (a whole subquery read again for every
//! row of the outer loop: `who_is_available` took 100 ms at 5,000 people that way), and
//! PostgreSQL's `EXPLAIN`, with sequential scans priced out (`enable_seqscan = off`, so a
//! `Seq Scan` left in the plan means no index serves that access path), no `Seq Scan`.
//! Each statement is explained for the whole organisation and for one team, service and
//! person. (ClickHouse reads by sort key and columns, not indexes: not checked here.)

use std::collections::BTreeSet;

use eng_intel::compile::CompiledSet;
use eng_intel::config::spec::StoreRole;
use eng_intel::dataset;
use eng_intel::store::{Params, Postgres, QueryStore, Row, Sqlite};
use eng_intel::toolbox::builtin_statements;
use serde_json::{Value, json};

use super::aggregates::create_database;
use crate::support::{config, require_server};

/// The tables whose rows grow with the history (and the organisation).
const LARGE: &[&str] = &[
    "commits",
    "pull_requests",
    "pr_reviews",
    "ci_runs",
    "deployments",
    "incidents",
    "tickets",
    "oncall_shifts",
    "time_off",
    "one_on_ones",
];

/// Every statement run on a relational or metrics store of `backend`, named.
fn statements(set: &CompiledSet, backend: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = set
        .tools()
        .filter(|t| matches!(t.store, StoreRole::Relational | StoreRole::Metrics))
        .filter_map(|t| {
            let q = t.query.as_ref()?.for_backend(backend)?;
            Some((t.name.clone(), q.to_string()))
        })
        .collect();
    out.extend(builtin_statements(backend).unwrap());
    assert!(out.len() > 40, "only {} statements", out.len());
    out
}

/// A value for every parameter any statement names: names of the demo organisation, or
/// null for the whole organisation.
fn params(scoped: bool) -> Params {
    let org = dataset::generate(dataset::DEFAULT_SEED, dataset::DEFAULT_EMPLOYEES);
    let name = |v: &str| if scoped { json!(v) } else { Value::Null };
    let person = org.employee(org.commits[0].author_id).name.clone();
    json!({
        "team": name(&org.teams[0].name),
        "service": name(&org.services[0].name),
        "person": person,
        "project": org.projects[0].name,
        "skills": org.skills[0].name,
        "title": "Engineer",
        "status": if scoped { json!("fail") } else { Value::Null },
        "environment": "production",
        "now": "2025-06-30T00:00:00Z",
        "until": "2025-06-30T00:00:00Z",
        "since": "2025-04-01T00:00:00Z",
        "whole_from": "2025-04-02",
        "whole_until": "2025-06-29",
        "whole_from_at": "2025-04-02T00:00:00Z",
        "whole_until_at": "2025-06-29T00:00:00Z",
        "recent": "2025-06-09T00:00:00Z",
        "older_than": "2025-06-01T00:00:00Z",
        "period_start_at": "2025-06-30T00:00:00Z",
        "period_end_at": "2025-07-07T00:00:00Z",
        "today": "2025-06-30",
        "period_start": "2025-06-30",
        "period_end": "2025-07-06",
        "days": 90, "weeks": 12, "sprints": 6, "limit": 10, "min_proficiency": 3, "k": 100,
    })
    .as_object()
    .cloned()
    .unwrap()
}

/// The large tables of `sql` by the names a plan calls them: their own, and their aliases
/// (`FROM pull_requests p`, `JOIN deployments AS d`).
fn large_tables(sql: &str) -> Vec<(String, &'static str)> {
    const NOT_ALIAS: &[&str] = &[
        "where", "join", "left", "inner", "on", "group", "order", "limit", "having", "union",
    ];
    let words: Vec<String> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let Some(table) = LARGE.iter().find(|t| **t == w.as_str()) else {
            continue;
        };
        if !(i > 0 && matches!(words[i - 1].as_str(), "from" | "join")) {
            continue;
        }
        out.push((table.to_string(), *table));
        let mut next = words.get(i + 1).map(String::as_str);
        if next == Some("as") {
            next = words.get(i + 2).map(String::as_str);
        }
        if let Some(alias) = next.filter(|a| !NOT_ALIAS.contains(a)) {
            out.push((alias.to_string(), *table));
        }
    }
    out
}

/// The large tables of `sql` its plan's lines scan in full, marked by `scan`.
fn scans(sql: &str, plan: &[String], scan: &str) -> BTreeSet<&'static str> {
    let names = large_tables(sql);
    let mut out = BTreeSet::new();
    for line in plan {
        let line = line.trim_start_matches(['|', '-', '`', ' ']);
        if let Some(rest) = line.strip_prefix(scan) {
            let name = rest.split_whitespace().next().unwrap_or_default();
            if let Some((_, table)) = names.iter().find(|(n, _)| n == name) {
                out.insert(*table);
            }
        }
    }
    out
}

/// SQLite: a `SCAN` of anything (table, subquery, view) that runs once for every row of
/// an outer loop: an inner loop of a join (a plan row whose `parent` already has a loop,
/// `SCAN`/`SEARCH`, before it, unless each of those finds one row by a unique key: a team
/// by its name), or the loop of a correlated subquery over a table (not over the
/// subquery's own subquery, which it computes once a row anyway).
fn nested_scans(plan: &[Row]) -> Vec<String> {
    let int = |row: &Row, k: &str| row.get(k).and_then(Value::as_i64).unwrap_or_default();
    let mut loops: Vec<(i64, bool)> = Vec::new(); // (parent, finds at most one row)
    let mut correlated: Vec<i64> = Vec::new(); // the ids of correlated subqueries
    let mut subqueries: Vec<&str> = Vec::new(); // the names of co-routines and materialized ones
    let mut out = Vec::new();
    for row in plan {
        let detail = row
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let parent = int(row, "parent");
        if detail.starts_with("CORRELATED ") {
            correlated.push(int(row, "id"));
        }
        if let Some(name) = ["CO-ROUTINE ", "MATERIALIZE "]
            .iter()
            .find_map(|p| detail.strip_prefix(p))
        {
            subqueries.push(name);
        }
        let scan = detail.starts_with("SCAN ") && !detail.starts_with("SCAN CONSTANT");
        let scanned = detail.split_whitespace().nth(1).unwrap_or_default();
        let outer: Vec<bool> = loops
            .iter()
            .filter(|l| l.0 == parent)
            .map(|l| l.1)
            .collect();
        let per_row = (correlated.contains(&parent) && !subqueries.contains(&scanned))
            || (!outer.is_empty() && !outer.iter().all(|one| *one));
        if scan && per_row {
            out.push(detail.to_string());
        }
        if scan || detail.starts_with("SEARCH ") {
            let unique =
                detail.contains("INTEGER PRIMARY KEY") || detail.contains("sqlite_autoindex_");
            loops.push((
                parent,
                detail.starts_with("SEARCH ") && unique && detail.ends_with("=?)"),
            ));
        }
    }
    out
}

/// Explains every statement and returns each full scan as "statement: table (plan)".
async fn full_scans(
    store: &dyn QueryStore,
    explain: &str,
    column: &str,
    scan: &str,
    set: &CompiledSet,
) -> Vec<String> {
    let mut found = Vec::new();
    for (name, sql) in statements(set, store.backend()) {
        for scoped in [false, true] {
            let rows = store
                .query(&format!("{explain} {sql}"), &params(scoped))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"));
            let plan: Vec<String> = rows
                .iter()
                .filter_map(|r| r.get(column).and_then(Value::as_str).map(str::to_string))
                .collect();
            let nested = if scan == "SCAN " {
                nested_scans(&rows)
            } else {
                Vec::new()
            };
            for table in scans(&sql, &plan, scan)
                .into_iter()
                .map(str::to_string)
                .chain(nested.into_iter().map(|l| format!("nested loop: {l}")))
            {
                found.push(format!(
                    "{name} ({}): {table}\n    {}",
                    if scoped { "scoped" } else { "organisation" },
                    plan.join("\n    ")
                ));
            }
        }
    }
    found.dedup();
    found
}

#[tokio::test]
async fn no_tool_scans_a_large_sqlite_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sqlite::open(&dir.path().join("plans.sqlite"), &dataset::SQLITE_SCHEMA)
        .await
        .unwrap();
    let found = full_scans(&s, "EXPLAIN QUERY PLAN", "detail", "SCAN ", &config()).await;
    assert!(found.is_empty(), "full scans:\n{}", found.join("\n"));
}

#[tokio::test]
async fn no_tool_scans_a_large_postgres_table() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let mut settings = servers.settings().postgres.unwrap();
    settings.database = create_database(&settings, "eng_intel_test_aggregates").await;
    // One connection, so the setting below holds for every statement.
    settings.pool_size = 1;
    let pg = Postgres::connect(&settings, &dataset::POSTGRES_SCHEMA)
        .await
        .unwrap();
    pg.query("SET enable_seqscan = off", &Params::new())
        .await
        .unwrap();
    let found = full_scans(&pg, "EXPLAIN", "QUERY PLAN", "Seq Scan on ", &config()).await;
    assert!(found.is_empty(), "full scans:\n{}", found.join("\n"));
}
