//! Servers that fail under the running service, made unreachable on the wire by a proxy
//! (support::proxy) in front of the real PostgreSQL, ClickHouse and Bolt servers of
//! scripts/servers.sh:
//! each store sits behind its own breaker, so once it has failed a chat that needs it
//! answers at once (the degraded lead sentence) while questions for other stores answer
//! as usual, and after the cooldown a success closes the circuit. A server down at the
//! start is served degraded and taken into service when it returns, without a restart.
//!
//! The service runs as `serve` builds it (`Toolbox::open_with(.., WhenDown::Degrade)`,
//! health from the stores) with `STORE_TIMEOUT_S=3` and `STORE_BREAKER_COOLDOWN_S=2`.
//! Dedicated databases: ClickHouse `eng_intel_test_outages` (dropped first, so the late
//! opening also loads it), PostgreSQL `eng_intel_test_outages` (created empty, loaded by
//! the start), Bolt `eng_intel_test_graph` (shared with other tests: given the demo
//! organisation first). Expected facts come from SQL over the data:
//! ClickHouse and PostgreSQL asked directly, the data dir's SQLite.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eng_intel::dataset::{self, METRICS, WhenDown};
use eng_intel::settings::Settings;
use eng_intel::store::{self, QueryStore};
use eng_intel::toolbox::Toolbox;
use serde_json::{Value, json};

use crate::support::proxy::Proxy;
use crate::support::server::*;
use crate::support::{Vars, env, require_server, wait_for};

const CLICKHOUSE_DATABASE: &str = "eng_intel_test_outages";
const GRAPH_DATABASE: &str = "eng_intel_test_graph";
const POSTGRES_DATABASE: &str = "eng_intel_test_outages";
const STORE_TIMEOUT: Duration = Duration::from_secs(3);
const COOLDOWN: Duration = Duration::from_secs(2);

/// Needs ClickHouse (metrics role).
const INCIDENTS: &str = "Are there any unresolved incidents?";
/// Needs Bolt (graph role).
const DEPENDENTS: &str = "What depends on ledger-service?";
/// Needs only the relational store.
const HEADCOUNT: &str = "How many employees do we have?";

/// A question for another store than the failing one and the check of its answer.
type Other<'a> = (&'a str, &'a dyn Fn(&str));

/// The relational question, with the embedded relational store: its check.
fn counts_employees(answer: &str) {
    assert!(answer.contains(" employees"), "{answer}");
}

/// The settings of a service whose `role` server (`POSTGRES_`, `CLICKHOUSE_` or `NEO4J_`)
/// is reached through `proxy`; the other roles embedded.
fn settings_behind(proxy: &Proxy, role: &str, data_dir: &Path) -> Settings {
    let vars = Vars::new()
        .data_dir(data_dir)
        .env_of(&[role])
        .set("STORE_TIMEOUT_S", STORE_TIMEOUT.as_secs().to_string())
        .set("STORE_BREAKER_COOLDOWN_S", COOLDOWN.as_secs().to_string());
    let port = proxy.addr.port().to_string();
    match role {
        "POSTGRES_" => vars
            .set("POSTGRES_HOST", "127.0.0.1")
            .set("POSTGRES_PORT", port)
            .set("POSTGRES_DATABASE", POSTGRES_DATABASE)
            .set(
                "POSTGRES_CONNECT_TIMEOUT_S",
                STORE_TIMEOUT.as_secs().to_string(),
            ),
        "CLICKHOUSE_" => vars
            .set("CLICKHOUSE_HOST", "127.0.0.1")
            .set("CLICKHOUSE_PORT", port)
            .set("CLICKHOUSE_DATABASE", CLICKHOUSE_DATABASE),
        _ => vars
            .set("NEO4J_URI", format!("bolt://127.0.0.1:{port}"))
            .set("NEO4J_DATABASE", GRAPH_DATABASE),
    }
    .settings()
}

/// The API over the stores `serve` would open with these settings.
async fn serve(settings: Settings, data_dir: &Path) -> Server {
    let toolbox = Arc::new(
        Toolbox::open_with(&settings, WhenDown::Degrade, &|_| {})
            .await
            .expect("opens even with a server down"),
    );
    let mut o = Options::new(data_dir);
    o.settings = settings;
    o.tools = toolbox.tools();
    o.health = Arc::new(move || {
        let toolbox = toolbox.clone();
        async move { toolbox.stores.health().await }
    });
    Server::start(o).await
}

/// A sync chat: its answer, and how long it took.
async fn ask(server: &Server, question: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let (status, body) = send_json(
        client()
            .post(server.url("/api/chat/sync"))
            .json(&json!({"message": question})),
    )
    .await;
    assert_eq!(status, 200, "{question}: {body}");
    let answer = body["response"].as_str().unwrap().to_string();
    (answer, t0.elapsed())
}

async fn health(server: &Server) -> (u16, Value) {
    get_json(server.url("/api/health")).await
}

fn unanswered(answer: &str) -> bool {
    answer.starts_with("**I could not read the data")
}

/// The relational store's answer to `sql` (the data dir's SQLite, the demo organisation).
async fn relational(data_dir: &Path, sql: &str) -> Vec<String> {
    let db = store::sqlite_file(&store::sqlite_path(data_dir), 1)
        .await
        .unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&db)
        .await
        .unwrap()
}

async fn strings(db: &dyn QueryStore, sql: &str) -> Vec<String> {
    db.query(sql, &Default::default())
        .await
        .unwrap()
        .iter()
        .map(|r| r.values().next().unwrap().as_str().unwrap().to_string())
        .collect()
}

/// `role`'s server fails under the running service: after the failures that open its
/// circuit a chat needing it answers in well under the store timeout, saying it could
/// not read the data, health names it `not tried`, the `other` question answers as
/// usual and fast; once the server is back and the cooldown over, `check` holds for an
/// answer and health is healthy again.
async fn breaker_opens_and_closes(
    proxy: &Proxy,
    server: &Server,
    health_name: &str,
    question: &str,
    check: impl Fn(&str),
    (other, other_check): Other<'_>,
) {
    let (answer, _) = ask(server, question).await;
    check(&answer);
    assert_eq!(health(server).await.0, 200);

    proxy.freeze();
    // Each chat fails on the store at most once; the circuit opens after FAILURES.
    let mut slow = 0;
    let fast = loop {
        let (answer, took) = ask(server, question).await;
        assert!(unanswered(&answer), "{answer}");
        if took < STORE_TIMEOUT / 3 && slow > 0 {
            break took;
        }
        slow += 1;
        assert!(
            slow <= store::BREAKER_FAILURES,
            "the circuit never opened: {slow} chats, the last took {took:?}"
        );
    };
    assert!(fast < Duration::from_millis(500), "{fast:?}");
    let (status, body) = health(server).await;
    assert_eq!((status, body["status"].as_str()), (503, Some("degraded")));
    let state = body["databases"][health_name].as_str().unwrap();
    assert!(state.contains("not tried: it failed"), "{body}");
    let (answer, took) = ask(server, other).await;
    other_check(&answer);
    assert!(took < Duration::from_secs(1), "{other}: {took:?}");

    proxy.restore();
    tokio::time::sleep(COOLDOWN).await;
    let (answer, _) = ask(server, question).await;
    check(&answer);
    let (status, body) = health(server).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_fails_fast_behind_its_breaker_and_comes_back() {
    let Some(_servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&clickhouse_upstream()).await;
    let server = serve(
        settings_behind(&proxy, "CLICKHOUSE_", dir.path()),
        dir.path(),
    )
    .await;
    let open = unresolved_incidents().await;
    let check = |answer: &str| {
        assert!(
            answer.contains(&format!("{} incident", open.len())),
            "{answer}"
        );
        for title in &open {
            assert!(answer.contains(title.as_str()), "{title} in {answer}");
        }
    };
    let other: Other = (HEADCOUNT, &counts_employees);
    breaker_opens_and_closes(&proxy, &server, "clickhouse", INCIDENTS, check, other).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bolt_down_fails_fast_behind_its_breaker_and_comes_back() {
    let Some(_servers) = require_server("NEO4J_URI") else {
        return;
    };
    demo_graph_database().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = env("NEO4J_URI").unwrap();
    let upstream = upstream.split("://").last().unwrap().to_string();
    let proxy = Proxy::start(&upstream).await;
    let server = serve(settings_behind(&proxy, "NEO4J_", dir.path()), dir.path()).await;
    let used_by = relational(
        dir.path(),
        "SELECT s.name FROM service_dependencies d JOIN services s ON s.id = d.service_id \
         JOIN services x ON x.id = d.depends_on_id WHERE x.name = 'ledger-service' ORDER BY s.name",
    )
    .await;
    assert!(!used_by.is_empty());
    let check = |answer: &str| {
        let expected = format!("Used directly by: {}", used_by.join(", "));
        assert!(answer.contains(&expected), "{expected} in {answer}");
    };
    let other: Other = (HEADCOUNT, &counts_employees);
    breaker_opens_and_closes(&proxy, &server, "neo4j", DEPENDENTS, check, other).await;
    server.stop().await;
}

/// PostgreSQL (the organisation store) frozen under the running service, connections
/// held open without a byte — the outage that made every chat wait. Health answers
/// within about a second naming every store, PostgreSQL `no answer within 1.0 s`, the
/// others `ok`; then as for the other servers: its circuit opens, a question for it
/// answers at once, and a question for the metrics (the data dir's SQLite) answers
/// right and fast while PostgreSQL stays frozen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_frozen_fails_fast_behind_its_breaker_and_comes_back() {
    let Some(_servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let postgres = empty_postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = format!(
        "{}:{}",
        env("POSTGRES_HOST").unwrap(),
        env("POSTGRES_PORT").unwrap_or_else(|| "5432".into())
    );
    let proxy = Proxy::start(&upstream).await;
    let server = serve(settings_behind(&proxy, "POSTGRES_", dir.path()), dir.path()).await;
    let employees: i64 = sqlx::query_scalar("SELECT count(*) FROM employees")
        .fetch_one(&postgres)
        .await
        .unwrap();
    assert!(employees > 0, "the start loaded the demo organisation");
    let headcount = move |answer: &str| {
        assert!(
            answer.contains(&format!("{employees} employees")),
            "{answer}"
        );
    };
    let open = relational(
        dir.path(),
        "SELECT title FROM incidents WHERE resolved_at IS NULL ORDER BY title",
    )
    .await;
    let incidents = |answer: &str| {
        assert!(
            answer.contains(&format!("{} incident", open.len())),
            "{answer}"
        );
        for title in &open {
            assert!(answer.contains(title.as_str()), "{title} in {answer}");
        }
    };

    proxy.freeze();
    let t0 = Instant::now();
    let (status, body) = health(&server).await;
    let took = t0.elapsed();
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("degraded")),
        "{body}"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let databases = body["databases"].as_object().unwrap();
    assert_eq!(
        databases["postgres"], "error: no answer within 1.0 s",
        "{body}"
    );
    let names: Vec<&str> = databases.keys().map(String::as_str).collect();
    assert_eq!(names, ["bm25", "graph", "postgres", "sqlite", "threads"]);
    for (name, state) in databases {
        assert!(name == "postgres" || state == "ok", "{body}");
    }
    proxy.restore();

    let other: Other = (INCIDENTS, &incidents);
    breaker_opens_and_closes(&proxy, &server, "postgres", HEADCOUNT, headcount, other).await;
    server.stop().await;
}

/// ClickHouse down when the service starts: it starts anyway, degraded, naming it; chats
/// needing it say they could not read the data; once it answers, the first call opens
/// it — creating and loading its empty database as the start would have — and health
/// is healthy and the answer right, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_the_start_is_served_degraded_until_it_returns() {
    let Some(_servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    drop_clickhouse_database().await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(&clickhouse_upstream()).await;
    proxy.cut();
    let server = serve(
        settings_behind(&proxy, "CLICKHOUSE_", dir.path()),
        dir.path(),
    )
    .await;

    let (status, body) = health(&server).await;
    assert_eq!((status, body["status"].as_str()), (503, Some("degraded")));
    let state = body["databases"]["clickhouse"].as_str().unwrap();
    assert!(state.starts_with("error: "), "{body}");
    // The embedded graph is built from the metrics too: it waits with them.
    assert!(
        body["databases"]["graph"]
            .as_str()
            .unwrap()
            .starts_with("error: ")
    );
    let (answer, _) = ask(&server, INCIDENTS).await;
    assert!(unanswered(&answer), "{answer}");
    let (answer, _) = ask(&server, HEADCOUNT).await;
    counts_employees(&answer);

    proxy.restore();
    wait_for(
        "health to turn healthy",
        Duration::from_secs(60),
        || async { health(&server).await.0 == 200 },
    )
    .await;
    let open = unresolved_incidents().await;
    assert!(
        !open.is_empty(),
        "the late opening loaded the demo organisation"
    );
    let (answer, _) = ask(&server, INCIDENTS).await;
    assert!(
        answer.contains(&format!("{} incident", open.len())),
        "{answer}"
    );
    for title in &open {
        assert!(answer.contains(title.as_str()), "{title} in {answer}");
    }
    server.stop().await;
}

fn clickhouse_upstream() -> String {
    format!(
        "{}:{}",
        env("CLICKHOUSE_HOST").unwrap(),
        env("CLICKHOUSE_PORT").unwrap_or_else(|| "8123".into())
    )
}

/// The test database on the real ClickHouse, reached directly.
async fn clickhouse() -> store::ClickHouse {
    let settings = Vars::new()
        .env_of(&["CLICKHOUSE_"])
        .set("CLICKHOUSE_DATABASE", CLICKHOUSE_DATABASE)
        .settings();
    store::ClickHouse::connect(
        settings.clickhouse.as_ref().unwrap(),
        STORE_TIMEOUT,
        METRICS,
    )
    .await
    .unwrap()
}

async fn unresolved_incidents() -> Vec<String> {
    strings(
        &clickhouse().await,
        "SELECT title FROM incidents WHERE resolved_at IS NULL ORDER BY title",
    )
    .await
}

async fn drop_clickhouse_database() {
    let settings = Vars::new().env_of(&["CLICKHOUSE_"]).settings();
    crate::support::drop_clickhouse_database(&settings, CLICKHOUSE_DATABASE).await;
}

/// Drops and creates the PostgreSQL test database, and a pool on it (the real server).
async fn empty_postgres_database() -> sqlx::PgPool {
    let admin = Vars::new()
        .env_of(&["POSTGRES_"])
        .set("POSTGRES_DATABASE", "postgres")
        .settings();
    let admin = sqlx::PgPool::connect(&admin.postgres.unwrap().url())
        .await
        .unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {POSTGRES_DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {POSTGRES_DATABASE}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }
    let db = Vars::new()
        .env_of(&["POSTGRES_"])
        .set("POSTGRES_DATABASE", POSTGRES_DATABASE)
        .settings();
    sqlx::PgPool::connect(&db.postgres.unwrap().url())
        .await
        .unwrap()
}

/// Gives the shared Bolt test database the demo organisation (other tests leave another
/// one there), reached directly.
async fn demo_graph_database() {
    let settings = Vars::new()
        .env_of(&["NEO4J_"])
        .set("NEO4J_DATABASE", GRAPH_DATABASE)
        .settings();
    let graph =
        store::Neo4jGraph::connect(settings.neo4j.as_ref().unwrap(), Duration::from_secs(60))
            .await
            .unwrap();
    let demo = dataset::generate(dataset::DEFAULT_SEED, dataset::DEFAULT_EMPLOYEES);
    graph
        .load(&dataset::snapshot(&demo), &|_| {})
        .await
        .unwrap();
}
