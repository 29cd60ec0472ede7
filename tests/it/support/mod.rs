//! Written once for every theme: the project under test, settings built from given
//! variables, the demo organisation in a data dir, waiting for a condition, and (in the
//! submodules) the fake OpenAI and embeddings servers, the API server harness, a TCP
//! proxy that makes a real server unreachable on the wire, and the visible skip of tests
//! whose server is missing.

pub mod fake_embeddings;
pub mod fake_github;
pub mod fake_openai;
pub mod proxy;
pub mod server;
mod skip;
pub mod tiny_bert;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use eng_intel::compile::CompiledSet;
use eng_intel::run::Envelope;
use eng_intel::settings::Settings;
use eng_intel::store::{Metrics, Relational, Stores};
use eng_intel::toolbox::Toolbox;

pub use skip::{require_server, require_servers, skip};

/// The built `eng-intel` binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_eng-intel");

/// The repository: its graphs/, prompts/ and tools.yaml are the project under test.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The project in `dir`, validated (no errors) and compiled.
pub fn compiled(dir: &Path) -> CompiledSet {
    match eng_intel::compile::load(dir) {
        Ok((set, _warnings)) => set,
        Err(r) => panic!("{}", eng_intel::validate::diagnostic::Report::from(r)),
    }
}

/// The repository's own configuration, compiled.
pub fn config() -> CompiledSet {
    compiled(repo())
}

/// The names of a run's events, node_start and node_end left out.
pub fn event_names(events: &[Envelope]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| e.name())
        .filter(|n| !matches!(*n, "node_start" | "node_end"))
        .collect()
}

/// Writes `text` to `root/rel`, creating the directories on the way.
pub fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// An environment variable, unless it is unset or blank.
pub fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// The variables a test's `Settings` are built from: only those given (never the
/// environment as a whole, never a `.env`); a later value of a name wins.
#[derive(Debug, Clone, Default)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    pub fn set(mut self, k: &str, v: impl Into<String>) -> Vars {
        self.0.push((k.to_string(), v.into()));
        self
    }

    pub fn data_dir(self, dir: &Path) -> Vars {
        self.set("DATA_DIR", dir.display().to_string())
    }

    /// The environment's variables named `PREFIX…` for each prefix (a server's, as
    /// `POSTGRES_`); set what must differ after this.
    pub fn env_of(mut self, prefixes: &[&str]) -> Vars {
        let mut found: Vec<(String, String)> = std::env::vars()
            .filter(|(k, v)| prefixes.iter().any(|p| k.starts_with(p)) && !v.trim().is_empty())
            .collect();
        found.sort();
        self.0.extend(found);
        self
    }

    pub fn get(&self, k: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }

    pub fn settings(&self) -> Settings {
        Settings::from_lookup(|k| self.get(k))
    }
}

/// Settings from exactly these variables.
pub fn settings<V: AsRef<str>>(vars: &[(&str, V)]) -> Settings {
    vars.iter()
        .fold(Vars::new(), |v, (k, val)| v.set(k, val.as_ref()))
        .settings()
}

/// The stores of a data dir and nothing else, opened as the server opens them: an empty
/// dir gets the demo organisation.
pub async fn demo_stores(dir: &Path) -> Toolbox {
    Toolbox::open(&Vars::new().data_dir(dir).settings(), &|_| {})
        .await
        .unwrap()
}

/// The stores assembled from these query stores (the graph and documents derived from
/// their data) with the tool runner over them.
pub async fn assembled(
    relational: std::sync::Arc<dyn Relational>,
    metrics: std::sync::Arc<dyn Metrics>,
) -> Toolbox {
    let stores = Stores::assemble(relational, metrics).await.unwrap();
    Toolbox::new(stores).await.unwrap()
}

/// A router served over real HTTP on 127.0.0.1 (a free port) until dropped: the fake
/// servers' network side.
pub struct Served {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    pub async fn start(app: axum::Router) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Served { addr, task }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `cond` every few milliseconds until it holds; fails naming `what` after `within`.
pub async fn wait_for<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !cond().await {
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// [`wait_for`] with a condition that needs no waiting to evaluate.
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    wait_for(what, within, || std::future::ready(cond())).await;
}

/// Drops `database` on the ClickHouse of `settings` over its HTTP interface, so the next
/// opening finds it missing.
pub async fn drop_clickhouse_database(settings: &Settings, database: &str) {
    let ch = settings.clickhouse.as_ref().expect("ClickHouse configured");
    let res = server::client()
        .post(&ch.url)
        .basic_auth(&ch.user, Some(ch.password.expose()))
        .body(format!("DROP DATABASE IF EXISTS {database}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}
