//! The NL→SQL guard against a hostile corpus, and the read-only execution behind it on a
//! real SQLite file and (when POSTGRES_HOST is set) a real PostgreSQL: writes fail even
//! when the guard is bypassed, and a runaway statement is stopped by the timeout.

use std::time::{Duration, Instant};

use eng_intel::dataset::{self, POSTGRES_SCHEMA, SQLITE_SCHEMA, snapshot};
use eng_intel::store::sql_guard::{MAX_ROWS, Refusal};
use eng_intel::store::{self, Postgres, QueryStore, Sqlite};

use crate::support::require_server;

/// The guard over the dataset's tables, as the NL→SQL pipeline uses it.
fn guard(sql: &str, backend: &str) -> Result<String, Refusal> {
    dataset::sql_guard().guard(sql, backend)
}

/// Statements a model (or a prompt injection through it) might write, with a word the
/// refusal must contain, so that each is refused for the right reason.
const HOSTILE: &[(&str, &str)] = &[
    ("DROP TABLE employees", "only SELECT"),
    ("DELETE FROM employees", "only SELECT"),
    ("UPDATE employees SET title = 'CEO'", "only SELECT"),
    (
        "INSERT INTO teams (id, name) VALUES (99, 'x')",
        "only SELECT",
    ),
    ("TRUNCATE employees", "only SELECT"),
    ("ALTER TABLE employees ADD COLUMN x TEXT", "only SELECT"),
    (
        "CREATE TABLE stolen AS SELECT name FROM employees",
        "only SELECT",
    ),
    ("GRANT ALL ON employees TO public", "only SELECT"),
    ("SET statement_timeout = 0", "only SELECT"),
    ("COPY employees TO '/tmp/out.csv'", "only SELECT"),
    (
        "COPY (SELECT name FROM employees) TO PROGRAM 'curl x'",
        "only SELECT",
    ),
    ("EXPLAIN ANALYZE DELETE FROM employees", "only SELECT"),
    ("VACUUM", "only SELECT"),
    ("ATTACH DATABASE '/tmp/x.db' AS x", "only SELECT"),
    ("PRAGMA writable_schema = ON", "only SELECT"),
    // Several statements, however they are hidden.
    (
        "SELECT name FROM teams; DROP TABLE teams",
        "exactly one statement",
    ),
    (
        "SELECT name FROM teams;DELETE FROM teams;",
        "exactly one statement",
    ),
    (
        "SELECT name FROM teams /* harmless */ ; -- \n DROP TABLE teams",
        "exactly one statement",
    ),
    (
        "SELECT name FROM teams WHERE name = 'a'; DROP TABLE teams; --'",
        "exactly one statement",
    ),
    // Writes inside a SELECT.
    (
        "WITH gone AS (DELETE FROM employees RETURNING id) SELECT id FROM gone",
        "only SELECT",
    ),
    (
        "WITH x AS (UPDATE teams SET name = 'x' RETURNING id) SELECT id FROM x",
        "only SELECT",
    ),
    (
        "WITH x AS (INSERT INTO teams (id) VALUES (1) RETURNING id) SELECT id FROM x",
        "only SELECT",
    ),
    ("SELECT name INTO stolen FROM employees", "INTO"),
    ("SELECT name FROM employees FOR UPDATE", "locks"),
    // Functions with side effects or that wait.
    ("SELECT pg_sleep(10)", "pg_sleep"),
    (
        "SELECT name FROM teams WHERE pg_sleep(10) IS NULL",
        "pg_sleep",
    ),
    ("SELECT pg_catalog.pg_sleep(10)", "not allowed"),
    (
        "SELECT set_config('statement_timeout', '0', false)",
        "set_config",
    ),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
    ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
    ("SELECT randomblob(1000000000)", "randomblob"),
    ("SELECT nextval('teams_id_seq')", "nextval"),
    (
        "SELECT dblink_exec('host=x', 'DROP TABLE t')",
        "dblink_exec",
    ),
    ("SELECT txid_current()", "txid_current"),
    (
        "SELECT name FROM generate_series(1, 1000000000) AS g(name)",
        "generate_series",
    ),
    // System catalogs and private data.
    ("SELECT usename, passwd FROM pg_shadow", "pg_shadow"),
    ("SELECT rolname FROM pg_catalog.pg_roles", "not allowed"),
    (
        "SELECT table_name FROM information_schema.tables",
        "not allowed",
    ),
    ("SELECT sql FROM sqlite_master", "sqlite_master"),
    ("SELECT key, value FROM meta", "meta"),
    ("SELECT notes FROM one_on_ones", "one_on_ones"),
    ("SELECT email FROM employees", "email"),
    ("SELECT e.email FROM employees e", "email"),
    ("SELECT \"email\" FROM employees", "email"),
    ("SELECT * FROM employees", "*"),
    ("TABLE employees", "every column"),
    // A relation's name as a value is its whole row in PostgreSQL, private columns too.
    ("SELECT e FROM employees e", "column e"),
    ("SELECT employees FROM employees", "column employees"),
    (
        "SELECT service FROM employees service",
        "also a column name",
    ),
    (
        "WITH x AS (SELECT id FROM employees) SELECT x FROM x",
        "column x",
    ),
    (
        "SELECT name FROM teams UNION TABLE employees",
        "every column",
    ),
    ("SELECT e.* FROM employees e", "*"),
    (
        "SELECT name FROM employees UNION SELECT notes FROM one_on_ones",
        "one_on_ones",
    ),
    (
        "SELECT name FROM employees WHERE id IN (SELECT employee_id FROM one_on_ones)",
        "one_on_ones",
    ),
    ("SELECT name FROM other_db.employees", "not allowed"),
    ("SELECT ctid, name FROM employees", "ctid"),
    // Quoting tricks.
    (
        "SELECT name FROM \"EMPLOYEES\"; DROP TABLE x",
        "exactly one statement",
    ),
    ("SELECT name FROM \"pg_shadow\"", "pg_shadow"),
    (
        "SELECT 'x' FROM teams WHERE name = '''; DROP TABLE teams; --'",
        "",
    ),
    // Not SQL at all.
    ("Here is the query you asked for", "does not parse"),
    ("", "exactly one statement"),
];

#[test]
fn the_hostile_corpus_is_refused_for_the_right_reason() {
    for backend in ["sqlite", "postgres"] {
        for (sql, why) in HOSTILE {
            match guard(sql, backend) {
                // A string literal that merely looks like SQL is data, not a statement.
                Ok(s) if why.is_empty() => assert!(s.contains("LIMIT"), "{s}"),
                Ok(s) => panic!("[{backend}] passed: {sql:?} → {s}"),
                Err(r) => assert!(
                    r.0.contains(why) || r.0.contains("does not parse"),
                    "[{backend}] {sql:?} refused for {:?}, expected {why:?}",
                    r.0
                ),
            }
        }
    }
}

#[test]
fn real_questions_pass_and_are_bounded() {
    let ok = [
        "SELECT t.name, COUNT(*) AS closed FROM tickets k JOIN teams t ON t.id = k.team_id WHERE k.status = 'done' GROUP BY t.name ORDER BY closed DESC",
        "SELECT name, title FROM employees WHERE hire_date >= '2024-01-01' ORDER BY hire_date",
        "WITH RECURSIVE chain(id, name, manager_id) AS (SELECT id, name, manager_id FROM employees WHERE name = 'Sofia Rossi' UNION ALL SELECT e.id, e.name, e.manager_id FROM employees e JOIN chain c ON e.id = c.manager_id) SELECT name FROM chain",
        "SELECT service, AVG(resolution_hours) AS avg_hours FROM incidents GROUP BY service HAVING COUNT(*) > 1",
        "SELECT team, SUM(CASE WHEN status = 'failure' THEN 1 ELSE 0 END) AS failed FROM deployments WHERE environment = 'production' GROUP BY team",
        "SELECT name FROM employees LIMIT 10 OFFSET 5",
        "SELECT team, percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_hours) AS median_hours FROM incidents GROUP BY team",
        "SELECT name, RANK() OVER (PARTITION BY team_id ORDER BY hire_date) AS seniority FROM employees",
    ];
    for backend in ["sqlite", "postgres"] {
        for sql in ok {
            let out = guard(sql, backend).unwrap_or_else(|r| panic!("[{backend}] {sql}: {r}"));
            assert!(out.contains("LIMIT"), "{out}");
        }
    }
    assert!(
        guard("SELECT name FROM teams", "sqlite")
            .unwrap()
            .ends_with(&format!("LIMIT {MAX_ROWS}"))
    );
}

/// A statement that would run for ever: the timeout must stop it.
const RUNAWAY: &str =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n";

/// `writes` are statements the store must refuse to run: the guard would stop them first,
/// but this layer has to hold on its own.
async fn read_only_holds(db: &dyn QueryStore, writes: &[&str]) {
    let teams = || async {
        db.query_read_only(
            "SELECT name FROM teams ORDER BY name",
            Duration::from_secs(5),
        )
        .await
        .unwrap()
    };
    let before = teams().await;
    assert!(!before.is_empty());
    for write in writes {
        let err = db
            .query_read_only(write, Duration::from_secs(5))
            .await
            .expect_err(write);
        assert!(
            err.message.contains("read-only") || err.message.contains("readonly"),
            "{write}: {}",
            err.message
        );
    }
    assert_eq!(teams().await, before, "nothing was deleted or renamed");
    let t0 = Instant::now();
    let err = db
        .query_read_only(RUNAWAY, Duration::from_millis(300))
        .await
        .expect_err("runaway statement stopped");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "stopped late: {:?}",
        t0.elapsed()
    );
    assert!(
        err.message.contains("timeout") || err.message.contains("longer than"),
        "{}",
        err.message
    );
    // The connection is usable (and writable for the loader) afterwards.
    db.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_runs_generated_sql_read_only_with_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(&store::sqlite_path(dir.path()), &SQLITE_SCHEMA)
        .await
        .unwrap();
    db.load(
        &snapshot(&dataset::generate(dataset::DEFAULT_SEED, 18)),
        &|_| {},
    )
    .await
    .unwrap();
    read_only_holds(&db, &["DELETE FROM teams", "UPDATE teams SET name = 'x'"]).await;
    // query_only was switched off again: the pool's connections still write.
    db.load(
        &snapshot(&dataset::generate(dataset::DEFAULT_SEED, 18)),
        &|_| {},
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn postgres_runs_generated_sql_read_only_with_a_timeout() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let pg = servers.settings().postgres.unwrap();
    let db = Postgres::connect(&pg, &POSTGRES_SCHEMA).await.unwrap();
    if !db.is_loaded().await.unwrap() {
        db.load(
            &snapshot(&dataset::generate(dataset::DEFAULT_SEED, 18)),
            &|_| {},
        )
        .await
        .unwrap();
    }
    // Statements run wrapped in a subquery (for their rows as JSON), where PostgreSQL does
    // not even parse DML; a function that writes is what the read-only transaction stops.
    read_only_holds(
        &db,
        &[
            "SELECT lo_create(0) AS id",
            "SELECT lo_from_bytea(0, 'x') AS id",
        ],
    )
    .await;
    // Any column type reads (NUMERIC from AVG of an integer column).
    let rows = db
        .query_read_only(
            "SELECT m.name, AVG(t.points) AS avg_points FROM tickets t JOIN teams m ON m.id = t.team_id GROUP BY m.name",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["avg_points"].is_number()), "{rows:?}");
}
