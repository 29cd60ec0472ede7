//! The organisation's data, one trait per store role, with an embedded default for each.
//!
//! | role | embedded default | also |
//! |---|---|---|
//! | relational (people, teams, planning) | SQLite file under the data dir | PostgreSQL |
//! | metrics (commits, PRs, deployments, incidents) | the same SQLite file | |
//! | graph (who works with whom, skills, ownership) | in-memory petgraph | |
//! | documents (design docs, postmortems, runbooks) | in-process BM25 index | |
//!
//! The query roles share one contract, [`QueryStore`]: query text with `:name` parameters
//! plus the parameters, giving rows. Each backend says which key of a tool's per-backend
//! `query:` map it reads (`sqlite`, `postgres`, later `clickhouse` and `cypher`; the
//! embedded graph reads `embedded`, the name of an operation). `StoreTools` runs the tools
//! of tools.yaml against them.

mod builtin;
mod directory;
mod documents;
mod graph;
mod load;
mod params;
mod postgres;
pub mod sql;
mod sqlite;
mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use documents::{Bm25Index, DocFilter, DocHit};
pub use graph::MemGraph;
pub use load::{Table, tables};
pub use postgres::Postgres;
pub use sqlite::Sqlite;
pub use tools::StoreTools;

use crate::org;
use crate::settings::Settings;
use crate::tools::ToolRunner;

/// One result row: column name → JSON value.
pub type Row = Map<String, Value>;
/// Query parameters by name.
pub type Params = Map<String, Value>;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
    /// The store was unreachable or timed out (worth retrying), rather than the query wrong.
    pub retryable: bool,
}

impl StoreError {
    pub fn query(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            retryable: false,
        }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            retryable: true,
        }
    }
}

/// A store that answers query text with named parameters bound (never pasted in).
#[async_trait]
pub trait QueryStore: Send + Sync {
    /// The key of a tool's per-backend `query:` map this store reads.
    fn backend(&self) -> &'static str;
    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError>;
    /// A real round trip (e.g. `SELECT 1`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// People, teams, skills, services, projects, tickets, schedules, documents.
pub trait Relational: QueryStore {}
/// Commits, pull requests, reviews, CI runs, deployments, incidents: events over time.
pub trait Metrics: QueryStore {}
/// People, teams, skills and services as a graph.
pub trait Graph: QueryStore {}

/// Retrieval over documents.
#[async_trait]
pub trait Documents: Send + Sync {
    fn backend(&self) -> &'static str;
    async fn search(
        &self,
        query: &str,
        filter: &DocFilter,
        limit: usize,
    ) -> Result<Vec<DocHit>, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The SQLite file of the embedded stores, inside the data dir.
pub fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("eng-intel.sqlite")
}

/// The opened stores, one per role, and the tool runner over them.
pub struct Stores {
    pub relational: Arc<dyn Relational>,
    pub metrics: Arc<dyn Metrics>,
    pub graph: Arc<dyn Graph>,
    pub documents: Arc<dyn Documents>,
    tools: Arc<StoreTools>,
}

impl Stores {
    /// The runner the engine calls tools through.
    pub fn tools(&self) -> Arc<dyn ToolRunner> {
        self.tools.clone()
    }

    /// A real ping of every distinct store, named by backend.
    pub async fn health(&self) -> Vec<(String, Result<(), String>)> {
        let mut out: Vec<(String, Result<(), String>)> = Vec::new();
        let mut push = |name: &str, r: Result<(), StoreError>| {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_string(), r.map_err(|e| e.message)));
            }
        };
        push(self.relational.backend(), self.relational.ping().await);
        push(self.metrics.backend(), self.metrics.ping().await);
        push(
            graph_health_name(self.graph.backend()),
            self.graph.ping().await,
        );
        push(self.documents.backend(), self.documents.ping().await);
        out
    }

    /// Builds the stores from already opened query stores: the graph and the document
    /// index are derived from their data.
    pub async fn assemble(
        relational: Arc<dyn Relational>,
        metrics: Arc<dyn Metrics>,
    ) -> anyhow::Result<Stores> {
        let graph: Arc<dyn Graph> =
            Arc::new(MemGraph::build(relational.as_ref(), metrics.as_ref()).await?);
        let documents: Arc<dyn Documents> = Arc::new(Bm25Index::build(relational.as_ref()).await?);
        let tools = Arc::new(
            StoreTools::new(
                relational.clone(),
                metrics.clone(),
                graph.clone(),
                documents.clone(),
            )
            .await?,
        );
        Ok(Stores {
            relational,
            metrics,
            graph,
            documents,
            tools,
        })
    }
}

fn graph_health_name(backend: &str) -> &str {
    if backend == "embedded" {
        "graph"
    } else {
        backend
    }
}

/// Opens the configured stores. With an empty data dir, generates the demo organisation
/// (default seed and size), loads it and says so through `announce`. When PostgreSQL is
/// configured it serves the relational role (loaded with the demo data if empty); the
/// metrics role stays on the embedded SQLite file.
pub async fn open(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<Stores> {
    let sqlite = Arc::new(Sqlite::open(&sqlite_path(&settings.data_dir)).await?);
    let mut demo: Option<org::Org> = None;
    if !sqlite.is_loaded().await? {
        let o = org::generate(org::DEFAULT_SEED, org::DEFAULT_EMPLOYEES);
        sqlite.load(&o, &|_| {}).await?;
        announce(&format!(
            "empty data directory {}: created the demo organisation ({} employees, {} teams)",
            settings.data_dir.display(),
            o.employees.len(),
            o.teams.len()
        ));
        demo = Some(o);
    }
    let relational: Arc<dyn Relational> = match &settings.postgres {
        None => sqlite.clone(),
        Some(pg) => {
            let p = Postgres::connect(pg).await?;
            if !p.is_loaded().await? {
                let o = match demo {
                    Some(o) => o,
                    None => org::generate(org::DEFAULT_SEED, org::DEFAULT_EMPLOYEES),
                };
                p.load(&o, &|_| {}).await?;
                announce(&format!(
                    "empty PostgreSQL database {}: loaded the demo organisation ({} employees, {} teams)",
                    pg.database,
                    o.employees.len(),
                    o.teams.len()
                ));
            }
            Arc::new(p)
        }
    };
    Stores::assemble(relational, sqlite).await
}
