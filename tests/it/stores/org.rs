//! The stores behind the tools: loading is idempotent, opening an empty data dir creates
//! the demo organisation once, arguments are bound (never pasted), a scaled organisation
//! loads and answers, and PostgreSQL answers every tool exactly as SQLite does
//! (only when POSTGRES_HOST is set; otherwise it is skipped visibly).

use std::collections::BTreeMap;
use std::sync::Arc;

use eng_intel::dataset::{self, POSTGRES_SCHEMA, SQLITE_SCHEMA, snapshot};
use eng_intel::store::{self, Metrics, Postgres, QueryStore, Relational, Sqlite, Stores};
use eng_intel::toolbox::Toolbox;
use serde_json::{Value, json};

use crate::support::{Vars, assembled, config as project, demo_stores, require_server};

async fn count(db: &dyn QueryStore, table: &str) -> i64 {
    let rows = db
        .query(
            &format!("SELECT COUNT(*) AS n FROM {table}"),
            &Default::default(),
        )
        .await
        .unwrap();
    rows[0]["n"].as_i64().unwrap()
}

#[tokio::test]
async fn loading_twice_replaces_rows_instead_of_duplicating() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(&store::sqlite_path(dir.path()), &SQLITE_SCHEMA)
        .await
        .unwrap();
    assert!(!db.is_loaded().await.unwrap());
    let o = dataset::generate(5, 18);
    let expected = [
        ("employees", o.employees.len()),
        ("commits", o.commits.len()),
        ("pr_reviews", o.reviews.len()),
        ("deployments", o.deployments.len()),
        ("incidents", o.incidents.len()),
        ("tickets", o.tickets.len()),
        ("documents", o.documents.len()),
    ];
    let data = snapshot(&o);
    let total = data.rows();
    for _ in 0..2 {
        let last = std::sync::Mutex::new(0u64);
        db.load(&data, &|n| *last.lock().unwrap() = n)
            .await
            .unwrap();
        assert_eq!(*last.lock().unwrap(), total, "progress reaches every row");
        for (table, n) in expected {
            assert_eq!(count(&db, table).await, n as i64, "{table}");
        }
    }
    let meta = db.meta().await.unwrap();
    assert_eq!(meta["seed"], "5");
    assert_eq!(meta["as_of"], "2025-06-30T00:00:00Z");
}

#[tokio::test]
async fn an_empty_data_dir_gets_the_demo_organisation_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("nested/data");
    let settings = Vars::new().data_dir(&d).settings();
    let said = std::sync::Mutex::new(Vec::<String>::new());
    let stores = Toolbox::open(&settings, &|m| said.lock().unwrap().push(m.into()))
        .await
        .unwrap();
    let first = said.lock().unwrap().clone();
    assert_eq!(
        first,
        [format!(
            "empty data directory {}: created the demo organisation (18 employees, 4 teams)",
            d.display()
        )]
    );
    let health = stores.stores.health().await;
    assert_eq!(
        health.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["sqlite", "graph", "bm25"]
    );
    assert!(health.iter().all(|(_, r)| r.is_ok()), "{health:?}");
    drop(stores);
    dataset::open(&settings, &|m| panic!("announced again: {m}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn arguments_are_bound_never_pasted_into_queries() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let set = project();
    let tools = stores.tools();
    let tool = set.tool("project_status").unwrap();
    let all = tools.call(tool, &json!({})).await.unwrap();
    assert!(all.as_array().unwrap().len() >= 8);
    // Pasted, this would match every project; bound, it matches no name.
    let injected = tools
        .call(tool, &json!({"project": "x%' OR '1'='1"}))
        .await
        .unwrap();
    assert_eq!(injected, json!([]));
    assert_eq!(
        count(stores.stores.relational.as_ref(), "projects").await,
        all.as_array().unwrap().len() as i64
    );
}

#[tokio::test]
async fn misdeclared_tools_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let tool = |store: &str, query: Option<&str>| {
        let spec: eng_intel::config::spec::ToolSpec = serde_json::from_value(json!({
            "description": "test", "args": {"type": "object"}, "store": store, "query": query,
        }))
        .unwrap();
        eng_intel::compile::ToolDef::compile("probe", &spec, &Default::default()).unwrap()
    };
    let call = |t| {
        let tools = stores.tools();
        async move { tools.call(&t, &json!({})).await.unwrap_err().message }
    };
    assert_eq!(
        call(tool("pipeline", None)).await,
        "tool probe uses store \"pipeline\", which the store runner does not serve"
    );
    assert_eq!(
        call(tool("relational", None)).await,
        "tool probe has no query for the sqlite backend; add `sqlite:` to its query in tools.yaml"
    );
    assert!(
        call(tool("metrics", Some("SELECT nope FROM nowhere")))
            .await
            .starts_with("sqlite: no such table: nowhere")
    );
    assert!(
        call(tool("graph", Some("shortest_path")))
            .await
            .starts_with("the embedded graph has no operation \"shortest_path\"")
    );
}

#[tokio::test]
async fn a_scaled_organisation_loads_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Sqlite::open(&store::sqlite_path(dir.path()), &SQLITE_SCHEMA)
            .await
            .unwrap(),
    );
    let o = dataset::generate(11, 300);
    db.load(&snapshot(&o), &|_| {}).await.unwrap();
    let stores = assembled(db.clone(), db.clone()).await;
    let set = project();
    let tools = stores.tools();
    let headcount = tools
        .call(set.tool("headcount").unwrap(), &json!({}))
        .await
        .unwrap();
    let rows = headcount.as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert_eq!(
        rows.iter()
            .map(|r| r["employees"].as_i64().unwrap())
            .sum::<i64>(),
        300
    );
    let dora = tools
        .call(
            set.tool("dora_metrics").unwrap(),
            &json!({"team": "Growth"}),
        )
        .await
        .unwrap();
    assert!(dora["deployments"].as_u64().unwrap() > 0, "{dora}");
    let work = tools
        .call(set.tool("workload").unwrap(), &json!({}))
        .await
        .unwrap();
    assert_eq!(work["people_in_scope"], 300);
    assert_eq!(
        work["overloaded"],
        json!(["Sofia Rossi"]),
        "the plant survives scaling"
    );
    let silos = tools
        .call(set.tool("knowledge_silos").unwrap(), &json!({"limit": 1}))
        .await
        .unwrap();
    assert_eq!(silos[0]["service"], "ledger-service");
}

/// Sample arguments for a tool's required args.
fn sample_args(schema: &Value) -> Value {
    let mut args = serde_json::Map::new();
    for name in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let v = match name {
            "person" => json!("Sofia Rossi"),
            "team" => json!("Payments"),
            "service" => json!("payments-api"),
            "skills" => json!("Python"),
            "topic" => json!("Kafka"),
            "query" => json!("payments"),
            "text" => json!("How is Sofia Rossi connected to payments-api?"),
            "question" => json!("Who is the engineering manager of Payments?"),
            "sql" => json!(
                "SELECT t.name, COUNT(*) AS n FROM tickets k JOIN teams t ON t.id = k.team_id GROUP BY t.name ORDER BY t.name"
            ),
            "documents" => {
                json!([{"title": "Runbook: payments-api", "snippet": "Roll back payments."}])
            }
            other => panic!("no sample for required arg {other}"),
        };
        args.insert(name.into(), v);
    }
    Value::Object(args)
}

/// Floats to 6 decimals, so that the two databases' float formatting does not matter.
fn normalise(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => json!((n.as_f64().unwrap() * 1e6).round() / 1e6),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}

#[tokio::test]
async fn postgres_answers_every_tool_as_sqlite_does() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let mut pg = servers.settings().postgres.unwrap();
    // A database of our own, so the data you work with is never touched.
    let admin = sqlx::PgPool::connect(&pg.url())
        .await
        .expect("connect to the configured PostgreSQL");
    let test_db = "eng_intel_test_relational";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {test_db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {test_db}")))
        .execute(&admin)
        .await
        .unwrap();
    pg.database = test_db.into();

    let o = dataset::generate(dataset::DEFAULT_SEED, dataset::DEFAULT_EMPLOYEES);
    let data = snapshot(&o);
    let pg_store = Arc::new(Postgres::connect(&pg, &POSTGRES_SCHEMA).await.unwrap());
    assert!(!pg_store.is_loaded().await.unwrap());
    pg_store.load(&data, &|_| {}).await.unwrap();
    pg_store.load(&data, &|_| {}).await.unwrap();
    assert_eq!(
        count(pg_store.as_ref(), "employees").await,
        18,
        "a second load replaces the rows"
    );
    pg_store.ping().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let lite = Arc::new(
        Sqlite::open(&store::sqlite_path(dir.path()), &SQLITE_SCHEMA)
            .await
            .unwrap(),
    );
    lite.load(&data, &|_| {}).await.unwrap();
    let mixed = Stores::assemble(
        pg_store.clone() as Arc<dyn Relational>,
        lite.clone() as Arc<dyn Metrics>,
    )
    .await
    .unwrap();
    assert_eq!(
        mixed
            .health()
            .await
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["postgres", "sqlite", "graph", "bm25"]
    );
    drop(mixed);
    // Every tool, metrics and builtins included, with PostgreSQL in both SQL roles.
    let on_pg = assembled(pg_store.clone(), pg_store.clone()).await;
    let on_lite = assembled(lite.clone(), lite.clone()).await;

    let set = project();
    let mut compared = BTreeMap::new();
    // Pipeline tools run graphs in the engine, not queries in a store; sql_schema names
    // the relational store's dialect, which differs by design.
    let compares = |t: &&std::sync::Arc<eng_intel::compile::ToolDef>| {
        t.pipeline.is_none() && t.name != "sql_schema"
    };
    for tool in set.tools().filter(compares) {
        let mut variants = vec![sample_args(&tool.args_schema)];
        if tool.args_schema["properties"].get("team").is_some() && variants[0].get("team").is_none()
        {
            let mut with_team = variants[0].clone();
            with_team["team"] = json!("Payments");
            variants.push(with_team);
        }
        for args in variants {
            let a = on_pg
                .tools()
                .call(tool, &args)
                .await
                .unwrap_or_else(|e| panic!("{} {args} on postgres: {e}", tool.name));
            let b = on_lite
                .tools()
                .call(tool, &args)
                .await
                .unwrap_or_else(|e| panic!("{} {args} on sqlite: {e}", tool.name));
            assert_eq!(normalise(a), normalise(b), "{} {args}", tool.name);
            *compared.entry(tool.name.clone()).or_insert(0) += 1;
        }
    }
    assert_eq!(
        compared.len(),
        set.tools().filter(compares).count(),
        "{compared:?}"
    );
    println!(
        "postgres matched sqlite on {} tools: {compared:?}",
        compared.len()
    );
    drop((on_pg, pg_store));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {test_db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
