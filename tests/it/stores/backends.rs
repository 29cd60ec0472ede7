//! The real backends (PostgreSQL, ClickHouse, Neo4j over Bolt) against the embedded
//! default: every tool of tools.yaml and every question of the question suite must give
//! the same result through `Toolbox::open` with the servers of the environment as with none.
//! The embedded answers are the expected values. Also a fault: ClickHouse stopped mid-run
//! is a tool error and a down health entry, and answers again once restarted (after its
//! breaker's cooldown).
//!
//! Needs the servers of scripts/servers.sh (`eval "$(bash scripts/servers.sh env)"`);
//! without `CLICKHOUSE_HOST`, `NEO4J_URI` or `POSTGRES_HOST` each test is skipped visibly
//! (support::require_server), and server tests run one at a time, so stopping one here
//! disturbs no other. Uses dedicated databases where the backend allows it: ClickHouse
//! `eng_intel_test_backends` and ArcadeDB `eng_intel_test_graph`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eng_intel::compile::ToolDef;
use eng_intel::dataset::{self, DEFAULT_EMPLOYEES, DEFAULT_SEED, snapshot};
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};
use eng_intel::settings::Settings;
use eng_intel::store::{self, Neo4jGraph};
use eng_intel::toolbox::Toolbox;
use serde_json::{Map, Value, json};

use crate::questions::CASES;
use crate::support::{Vars, config as tool_set, repo, require_server, require_servers};

const CLICKHOUSE_DATABASE: &str = "eng_intel_test_backends";
const GRAPH_DATABASE: &str = "eng_intel_test_graph";
/// How long a server store's open circuit refuses calls here (`STORE_BREAKER_COOLDOWN_S`).
const COOLDOWN: Duration = Duration::from_secs(1);

fn embedded_settings(dir: &Path) -> Settings {
    Vars::new().data_dir(dir).settings()
}

/// The environment's servers (only those in `roles`), on dedicated databases.
fn backend_settings(dir: &Path, roles: &[&str]) -> Settings {
    Vars::new()
        .data_dir(dir)
        .env_of(roles)
        .set("CLICKHOUSE_DATABASE", CLICKHOUSE_DATABASE)
        .set("NEO4J_DATABASE", GRAPH_DATABASE)
        .set("STORE_BREAKER_COOLDOWN_S", COOLDOWN.as_secs().to_string())
        .settings()
}

/// Opens the stores of `settings`, first giving the shared graph test database the demo
/// organisation (the graph backend's own test leaves another one there).
async fn open(settings: &Settings) -> Toolbox {
    if let Some(n) = &settings.neo4j {
        let g = Neo4jGraph::connect(n, Duration::from_secs(60))
            .await
            .unwrap();
        let demo = dataset::generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
        g.load(&snapshot(&demo), &|_| {}).await.unwrap();
    }
    Toolbox::open(settings, &|m| eprintln!("{m}"))
        .await
        .unwrap()
}

/// Argument sets for a tool: every combination below whose names the tool takes and
/// which has its required ones, drawn from the demo organisation's names.
fn arg_sets(tool: &ToolDef, names: &Map<String, Value>) -> Vec<Value> {
    let props = tool.args_schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = tool.args_schema["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let candidates = [
        json!({}),
        json!({"team": names["team"]}),
        json!({"team": names["team"], "days": 365}),
        json!({"service": names["service"]}),
        json!({"service": names["service"], "days": 365}),
        json!({"person": names["person"]}),
        json!({"person": names["person"], "days": 365}),
        json!({"topic": names["skill"]}),
        json!({"topic": names["service"]}),
        json!({"skills": [names["skill"]]}),
        json!({"skill": names["skill"]}),
        json!({"days": 365}),
        json!({"status": "fail", "days": 365}),
        json!({"limit": 50}),
        json!({"query": "postmortem"}),
        json!({"period": "next week"}),
    ];
    let mut out: Vec<Value> = Vec::new();
    for c in candidates {
        let c = c.as_object().unwrap();
        let fits =
            c.keys().all(|k| props.contains_key(k)) && required.iter().all(|r| c.contains_key(*r));
        let v = Value::Object(c.clone());
        if fits && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Equal, with floats equal to 1e-9 relative (a server may sum in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The questions of the question suite.
fn suite_questions() -> Vec<String> {
    let mut qs: Vec<String> = Vec::new();
    for c in CASES {
        if !qs.iter().any(|q| q == c.question) {
            qs.push(c.question.to_string());
        }
    }
    qs
}

/// The tool calls (name, args, result ok) and the answer of one question.
async fn ask(engine: &Engine, q: &str) -> (Vec<(String, Value)>, Vec<bool>, String) {
    let mut calls = Vec::new();
    let mut oks = Vec::new();
    let mut answer = String::new();
    for e in engine
        .run_collect(RunRequest {
            question: q.into(),
            ..Default::default()
        })
        .await
    {
        match e.event {
            Event::ToolStart { tool, args } => calls.push((tool, args)),
            Event::ToolEnd { ok, .. } => oks.push(ok),
            Event::Response { content } => answer = content,
            _ => {}
        }
    }
    (calls, oks, answer)
}

#[tokio::test]
async fn every_tool_and_question_answers_as_embedded() {
    let Some(_servers) = require_servers(&["CLICKHOUSE_HOST", "NEO4J_URI", "POSTGRES_HOST"]) else {
        return;
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let embedded = open(&embedded_settings(a.path())).await;
    let settings = backend_settings(b.path(), &["POSTGRES_", "CLICKHOUSE_", "NEO4J_"]);
    let real = open(&settings).await;

    // Health names each configured server, up.
    let health = real.stores.health().await;
    let mut expected_names = Vec::new();
    if settings.postgres.is_some() {
        expected_names.push("postgres");
    }
    if settings.clickhouse.is_some() {
        expected_names.push("clickhouse");
    }
    if settings.neo4j.is_some() {
        expected_names.push("neo4j");
    }
    for name in &expected_names {
        let entry = health.iter().find(|(n, _)| n == name);
        assert!(matches!(entry, Some((_, Ok(())))), "{name} in {health:?}");
    }

    let demo = dataset::generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    // Someone with commits, and the first team, service and skill.
    let names = json!({
        "person": demo.employee(demo.commits[0].author_id).name,
        "team": demo.teams[0].name,
        "service": demo.services[0].name,
        "skill": demo.skills[0].name,
    })
    .as_object()
    .cloned()
    .unwrap();

    let set = tool_set();
    let mut calls = 0;
    let mut diffs = Vec::new();
    // Pipeline tools run graphs in the engine, not queries in a store; sql_schema names
    // the relational store's dialect, which differs by design.
    for tool in set
        .tools()
        .filter(|t| t.pipeline.is_none() && t.name != "sql_schema")
    {
        for args in arg_sets(tool, &names) {
            let expected = embedded.tools().call(tool, &args).await;
            let got = real.tools().call(tool, &args).await;
            calls += 1;
            match (&expected, &got) {
                (Ok(e), Ok(g)) if same(e, g) => {}
                (Err(e), Err(g)) if e.message == g.message => {}
                _ => diffs.push(format!(
                    "{} {args}:\n  embedded {expected:?}\n  backends {got:?}",
                    tool.name
                )),
            }
        }
    }
    assert!(calls > set.tools().count(), "only {calls} calls");

    let questions = suite_questions();
    assert!(questions.len() >= 30, "{} questions", questions.len());
    let on_embedded = Engine::new(tool_set(), Arc::new(OfflineModel), embedded.tools());
    let on_real = Engine::new(tool_set(), Arc::new(OfflineModel), real.tools());
    for q in &questions {
        let e = ask(&on_embedded, q).await;
        let g = ask(&on_real, q).await;
        if e != g {
            diffs.push(format!(
                "question {q:?}:\n  embedded {e:?}\n  backends {g:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {calls} tool calls and {} questions differ:\n{}",
        diffs.len(),
        questions.len(),
        diffs.join("\n")
    );
}

/// Restarts a server of scripts/servers.sh when dropped, so a failing test leaves it running.
struct Restart(&'static str);

impl Drop for Restart {
    fn drop(&mut self) {
        servers("start", self.0);
    }
}

fn servers(cmd: &str, name: &str) {
    let status = std::process::Command::new("bash")
        .args(["scripts/servers.sh", cmd, name])
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success(), "servers.sh {cmd} {name}: {status}");
}

/// Stops `server` while `stores` serve `tool` from it (as `health_name`): the call becomes
/// a retryable tool error within the timeout, health says it is down and the embedded
/// roles up, a question needing it still gets an answer; once restarted and its breaker's
/// cooldown over, it answers again.
async fn survives_restart(
    stores: &Toolbox,
    server: &'static str,
    health_name: &str,
    tool: &str,
    args: Value,
    question: &str,
) {
    let set = tool_set();
    let tool = set.tool(tool).unwrap();
    let before = stores.tools().call(tool, &args).await.unwrap();
    assert!(!before.as_array().unwrap().is_empty(), "{before}");
    let engine = Engine::new(tool_set(), Arc::new(OfflineModel), stores.tools());

    let restart = Restart(server);
    servers("stop", server);
    let err = tokio::time::timeout(Duration::from_secs(60), stores.tools().call(tool, &args))
        .await
        .expect("a stopped server answers a tool call within a minute")
        .unwrap_err();
    assert!(
        err.retryable && err.message.contains(health_name),
        "{}",
        err.message
    );
    let health = stores.stores.health().await;
    let status = |name: &str| {
        health
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.is_ok())
    };
    assert_eq!(status(health_name), Some(false), "{health:?}");
    assert_eq!(status("sqlite"), Some(true), "{health:?}");
    let (calls, oks, answer) =
        tokio::time::timeout(Duration::from_secs(120), ask(&engine, question))
            .await
            .expect("a run with a stopped server ends");
    assert_eq!(
        calls.first().map(|c| c.0.as_str()),
        Some(tool.name.as_str())
    );
    assert_eq!(oks.first(), Some(&false), "{answer}");
    assert!(!answer.is_empty());

    drop(restart);
    // The failures above opened the store's circuit: it is asked again after the cooldown.
    tokio::time::sleep(COOLDOWN).await;
    let after = stores.tools().call(tool, &args).await.unwrap();
    assert!(same(&after, &before), "{after} vs {before}");
    let health = stores.stores.health().await;
    assert!(health.iter().all(|(_, r)| r.is_ok()), "{health:?}");
}

#[tokio::test]
async fn clickhouse_down_is_a_tool_error_and_comes_back() {
    let Some(_servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stores = open(&backend_settings(dir.path(), &["CLICKHOUSE_"])).await;
    survives_restart(
        &stores,
        "clickhouse",
        "clickhouse",
        "incident_stats",
        json!({"days": 365}),
        "How many incidents did each team have in the last 90 days?",
    )
    .await;
}

#[tokio::test]
async fn bolt_down_is_a_tool_error_and_comes_back() {
    let Some(_servers) = require_server("NEO4J_URI") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stores = open(&backend_settings(dir.path(), &["NEO4J_"])).await;
    survives_restart(
        &stores,
        "arcadedb",
        "neo4j",
        "experts",
        json!({"topic": "Kafka"}),
        "Who are the experts on Kafka?",
    )
    .await;
}

#[tokio::test]
async fn a_server_holding_another_organisation_is_announced() {
    let Some(_servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let settings = backend_settings(dir.path(), &["CLICKHOUSE_"]);
    let ch = store::ClickHouse::connect(
        settings.clickhouse.as_ref().unwrap(),
        Duration::from_secs(60),
        dataset::METRICS,
    )
    .await
    .unwrap();
    let other = dataset::generate(7, 0);
    ch.load(&snapshot(&other), &|_| {}).await.unwrap();
    let announced = std::sync::Mutex::new(Vec::new());
    let opened = dataset::open(&settings, &|m| {
        announced.lock().unwrap().push(m.to_string())
    })
    .await;
    // Leave the demo organisation there for the other tests, whatever happened.
    let demo = dataset::generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    ch.load(&snapshot(&demo), &|_| {}).await.unwrap();
    opened.unwrap();
    let announced = announced.into_inner().unwrap();
    let warning = format!(
        "ClickHouse holds another organisation (seed 7, {} employees) than the relational store (seed {}, {} employees)",
        other.employees.len(),
        DEFAULT_SEED,
        demo.employees.len()
    );
    assert!(
        announced.iter().any(|m| m.contains(&warning)),
        "{announced:?}"
    );

    // With the same organisation everywhere, nothing to warn about.
    let announced = std::sync::Mutex::new(Vec::new());
    dataset::open(&settings, &|m| {
        announced.lock().unwrap().push(m.to_string())
    })
    .await
    .unwrap();
    let announced = announced.into_inner().unwrap();
    assert!(announced.is_empty(), "{announced:?}");
}
