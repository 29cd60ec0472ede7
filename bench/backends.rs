//! The real backends against the embedded default:
//!
//! 1. load time of the `--scale 5000` organisation into each store (what `eng-intel seed
//!    --scale 5000` runs: the same `LoadTarget::load`, one store after the other);
//! 2. the question suite's tool calls (the calls the offline model makes for the questions
//!    of tests/it/questions/cases.rs), each tool's calls repeated against the embedded stores and
//!    against the configured servers, p50/p99 per tool.
//!
//! Servers come from the environment (`POSTGRES_*`, `CLICKHOUSE_*`, `NEO4J_*`; `eval "$(bash
//! scripts/servers.sh env)"`); an unset one is skipped with a note. Every server is used
//! on a database of the bench's own, `eng_intel_bench` (PostgreSQL: created when missing;
//! ClickHouse: created by the store; Bolt: must exist, or `BENCH_NEO4J_DATABASE` names
//! another), which ends holding the default demo organisation. `BENCH_SCALE` (5000) and
//! `BENCH_SAMPLES` (200 calls per tool and store) change the sizes. Run: `cargo bench
//! --bench backends` (see bench/README.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eng_intel::compile::{CompiledSet, ToolDef, compile};
use eng_intel::config::spec::StoreRole;
use eng_intel::dataset::{self, LoadTarget};
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};
use eng_intel::settings::Settings;
use eng_intel::toolbox::Toolbox;
use serde_json::Value;

const BENCH_DATABASE: &str = "eng_intel_bench";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn env_num(k: &str, default: usize) -> usize {
    env(k).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn bench() {
    let scale = env_num("BENCH_SCALE", 5000);
    let samples = env_num("BENCH_SAMPLES", 200);
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let embedded_settings = settings(dirs.0.path(), &[]);
    let servers = configured_servers().await;
    let server_settings = settings(dirs.1.path(), &servers);
    println!("load average: {}", load_average());

    // 1. Load times, one store at a time: the embedded SQLite file, then each server.
    let mut targets = dataset::load_targets(&embedded_settings).await.unwrap();
    for server in &servers {
        let one = settings(dirs.1.path(), std::slice::from_ref(server));
        match dataset::load_targets(&one).await {
            Ok(mut t) => targets.push(t.pop().expect("the server's target comes last")),
            Err(e) => println!("note: skipping {server} for the load: {e:#}"),
        }
    }
    let t0 = Instant::now();
    let big = dataset::generate(dataset::DEFAULT_SEED, scale);
    println!(
        "\n## Load of the --scale {scale} organisation ({} employees, {} commits, {} pull requests, {} reviews; generated in {:.1} s)\n",
        big.employees.len(),
        big.commits.len(),
        big.pull_requests.len(),
        big.reviews.len(),
        t0.elapsed().as_secs_f64()
    );
    println!("| store | items written | load time | items/s |\n|---|---:|---:|---:|");
    for t in &targets {
        let items = t.load_size(&big);
        let t0 = Instant::now();
        t.load(&big, &|_| {}).await.unwrap();
        let took = t0.elapsed().as_secs_f64();
        println!(
            "| {} | {items} | {took:.1} s | {:.0} |",
            kind_name(t),
            items as f64 / took
        );
    }

    // 2. Tool latency on the default demo organisation, the one the question suite asks about.
    let demo = dataset::generate(dataset::DEFAULT_SEED, dataset::DEFAULT_EMPLOYEES);
    for t in &targets {
        t.load(&demo, &|_| {}).await.unwrap();
    }
    drop(targets);
    let quiet = |m: &str| eprintln!("{m}");
    let embedded = Toolbox::open(&embedded_settings, &quiet).await.unwrap();
    let real = Toolbox::open(&server_settings, &quiet).await.unwrap();
    let set = tool_set();
    let calls = suite_calls(&embedded).await;
    println!(
        "\n## The question suite's tool calls ({} distinct calls of {} tools), {samples} calls per tool and store\n",
        calls.values().map(Vec::len).sum::<usize>(),
        calls.len()
    );
    println!(
        "| tool | role | calls | embedded | p50 | p99 | server | p50 | p99 |\n|---|---|---:|---|---:|---:|---|---:|---:|"
    );
    for (name, args) in &calls {
        let tool = set.tool(name).unwrap();
        let timed = answered(&embedded, tool, args).await;
        if timed.is_empty() {
            println!(
                "| {name} | {} | 0 of {} | | | | | | |",
                tool.store.name(),
                args.len()
            );
            continue;
        }
        let (e50, e99) = latency(&embedded, tool, &timed, samples).await;
        let (r50, r99) = latency(&real, tool, &timed, samples).await;
        println!(
            "| {name} | {} | {} of {} | {} | {} | {} | {} | {} | {} |",
            tool.store.name(),
            timed.len(),
            args.len(),
            served_by(&embedded, tool.store),
            fmt(e50),
            fmt(e99),
            served_by(&real, tool.store),
            fmt(r50),
            fmt(r99)
        );
    }
}

/// The servers of the environment, each noted when absent; PostgreSQL gets its database.
async fn configured_servers() -> Vec<&'static str> {
    let env_settings = Settings::from_env();
    let mut servers = Vec::new();
    match &env_settings.postgres {
        Some(pg) => {
            create_pg_database(pg).await;
            servers.push("POSTGRES_");
        }
        None => println!("note: POSTGRES_HOST is not set: no PostgreSQL figures"),
    }
    match env_settings.clickhouse {
        Some(_) => servers.push("CLICKHOUSE_"),
        None => println!("note: CLICKHOUSE_HOST is not set: no ClickHouse figures"),
    }
    match env_settings.neo4j {
        Some(_) => servers.push("NEO4J_"),
        None => println!("note: NEO4J_URI is not set: no Bolt figures"),
    }
    servers
}

/// The environment's variables of `servers` (prefixes), on the bench's databases.
fn settings(data_dir: &Path, servers: &[&str]) -> Settings {
    let dir = data_dir.display().to_string();
    let ours = |k: &str| servers.iter().any(|p| k.starts_with(p));
    Settings::from_lookup(|k| match k {
        "DATA_DIR" => Some(dir.clone()),
        "POSTGRES_DATABASE" | "CLICKHOUSE_DATABASE" if ours(k) => Some(BENCH_DATABASE.into()),
        "NEO4J_DATABASE" if ours(k) => {
            Some(env("BENCH_NEO4J_DATABASE").unwrap_or_else(|| BENCH_DATABASE.into()))
        }
        k if ours(k) => env(k),
        _ => None,
    })
}

async fn create_pg_database(pg: &eng_intel::settings::Postgres) {
    use sqlx::{ConnectOptions, postgres::PgConnectOptions};
    let mut conn = PgConnectOptions::new()
        .host(&pg.host)
        .port(pg.port)
        .database(&pg.database)
        .username(&pg.user)
        .password(pg.password.expose())
        .ssl_mode(pg.sslmode.parse().expect("POSTGRES_SSLMODE"))
        .connect()
        .await
        .expect("PostgreSQL of the environment");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(BENCH_DATABASE)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {BENCH_DATABASE}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

fn kind_name(t: &LoadTarget) -> &'static str {
    match t.kind() {
        "sqlite" => "SQLite (embedded)",
        "postgres" => "PostgreSQL",
        "clickhouse" => "ClickHouse",
        _ => "Neo4j (Bolt)",
    }
}

/// The backend(s) serving a tool's role in `stores`.
fn served_by(toolbox: &Toolbox, role: StoreRole) -> String {
    let stores = &toolbox.stores;
    match role {
        StoreRole::Relational => stores.relational.backend().into(),
        StoreRole::Metrics => stores.metrics.backend().into(),
        StoreRole::Graph => match stores.graph.backend() {
            "cypher" => "bolt".into(),
            "embedded" => "petgraph".into(),
            other => other.into(),
        },
        StoreRole::Documents => stores.documents.backend().into(),
        StoreRole::Builtin => {
            let (r, m) = (stores.relational.backend(), stores.metrics.backend());
            if r == m { r.into() } else { format!("{r}+{m}") }
        }
        StoreRole::Pipeline => role.name().into(),
    }
}

fn tool_set() -> CompiledSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).unwrap();
    assert!(!report.has_errors(), "{report}");
    compile(project).unwrap_or_else(|r| panic!("{r}"))
}

/// The questions of the question suite: its string literals that are questions.
fn suite_questions() -> Vec<String> {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/questions/cases.rs"),
    )
    .unwrap();
    let re = regex::Regex::new(r#""([A-Z][^"\\{}]*\?)""#).unwrap();
    let mut qs: Vec<String> = Vec::new();
    for c in re.captures_iter(&src) {
        if !qs.contains(&c[1].to_string()) {
            qs.push(c[1].to_string());
        }
    }
    qs
}

/// The distinct tool calls the suite's questions make (offline model, embedded stores),
/// by tool.
async fn suite_calls(stores: &Toolbox) -> BTreeMap<String, Vec<Value>> {
    let questions = suite_questions();
    assert!(questions.len() >= 30, "{} questions", questions.len());
    let engine = Engine::new(tool_set(), Arc::new(OfflineModel), stores.tools());
    let mut calls: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for q in questions {
        let events = engine
            .run_collect(RunRequest {
                question: q,
                ..Default::default()
            })
            .await;
        for e in events {
            if let Event::ToolStart { tool, args } = e.event {
                let seen = calls.entry(tool).or_default();
                if !seen.contains(&args) {
                    seen.push(args);
                }
            }
        }
    }
    calls
}

/// The calls among `args` that `stores` answers. The suite also asks about unknown
/// people and teams: such a call is refused while its arguments are resolved, before any
/// store is asked, so timing it would not measure the store.
async fn answered(stores: &Toolbox, tool: &ToolDef, args: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for a in args {
        match stores.tools().call(tool, a).await {
            Ok(_) => out.push(a.clone()),
            Err(e) => eprintln!("not timed: {} {a}: {}", tool.name, e.message),
        }
    }
    out
}

/// p50 and p99 of `samples` calls of `tool`, cycling through `args` (which all answer:
/// the warm-up), each of which must answer again.
async fn latency(
    stores: &Toolbox,
    tool: &ToolDef,
    args: &[Value],
    samples: usize,
) -> (Duration, Duration) {
    let runner = stores.tools();
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let a = &args[i % args.len()];
        let t0 = Instant::now();
        let r = runner.call(tool, a).await;
        times.push(t0.elapsed());
        if let Err(e) = r {
            panic!("{} {a}: {}", tool.name, e.message);
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    (at(0.50), at(0.99))
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
