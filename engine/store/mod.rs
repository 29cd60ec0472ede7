//! The organisation's data, one trait per store role, with an embedded default for each.
//!
//! | role | embedded default | also |
//! |---|---|---|
//! | relational (people, teams, planning) | SQLite file under the data dir | PostgreSQL |
//! | metrics (commits, PRs, deployments, incidents) | the same SQLite file | ClickHouse |
//! | graph (who works with whom, skills, ownership) | in-memory petgraph | Neo4j (Bolt) |
//! | documents (design docs, postmortems, runbooks) | in-process BM25 index | BM25 fused with vectors when embeddings are configured (`hybrid`); PostgreSQL full text + pgvector (`pgvector`) |
//!
//! The query roles share one contract, [`QueryStore`]: query text with `:name` parameters
//! plus the parameters, giving rows. Each backend says which key of a tool's per-backend
//! `query:` map it reads (`sqlite`, `postgres`, `clickhouse` and `cypher`; the
//! embedded graph reads `embedded`, the name of an operation). `StoreTools` runs the tools
//! of tools.yaml against them.

pub mod anomaly;
mod builtin;
mod clickhouse;
mod directory;
mod documents;
mod embed_cache;
mod graph;
mod hybrid;
mod load;
mod neo4j;
mod nl_sql;
mod params;
pub use params::period_bounds;
mod pgvector;
mod postgres;
mod rerank;
mod seeding;
pub mod sql;
pub mod sql_guard;
mod sqlite;
mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use clickhouse::ClickHouse;
pub use documents::{Bm25Index, DocFilter, DocHit, Match};
pub use embed_cache::EmbedCache;
pub use graph::MemGraph;
pub use hybrid::{HybridIndex, rrf};
pub use load::{Table, tables};
pub use neo4j::Neo4jGraph;
pub use pgvector::PgDocuments;
pub use postgres::Postgres;
pub use seeding::{LoadTarget, load_targets};
pub use sqlite::{Sqlite, open_file as sqlite_file};
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
    /// Runs a statement that must not write, in a read-only transaction bounded by
    /// `timeout` (the NL→SQL pipeline's last line of defence after `sql_guard`).
    async fn query_read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        let _ = (text, timeout);
        Err(StoreError::query(format!(
            "the {} backend does not run generated SQL",
            self.backend()
        )))
    }
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
        Stores::assemble_with_graph(relational, metrics, None).await
    }

    /// [`Stores::assemble`] with a ready graph store (e.g. Neo4j) when given; the document
    /// index, and the graph otherwise, are derived from the query stores' data.
    pub async fn assemble_with_graph(
        relational: Arc<dyn Relational>,
        metrics: Arc<dyn Metrics>,
        graph: Option<Arc<dyn Graph>>,
    ) -> anyhow::Result<Stores> {
        Stores::assemble_with_documents(relational, metrics, graph, None).await
    }

    /// [`Stores::assemble_with_graph`] with a ready document store (e.g. hybrid search)
    /// when given; BM25 over the relational store's documents otherwise.
    pub async fn assemble_with_documents(
        relational: Arc<dyn Relational>,
        metrics: Arc<dyn Metrics>,
        graph: Option<Arc<dyn Graph>>,
        documents: Option<Arc<dyn Documents>>,
    ) -> anyhow::Result<Stores> {
        let graph: Arc<dyn Graph> = match graph {
            Some(g) => g,
            None => Arc::new(MemGraph::build(relational.as_ref(), metrics.as_ref()).await?),
        };
        let documents: Arc<dyn Documents> = match documents {
            Some(d) => d,
            None => Arc::new(Bm25Index::build(relational.as_ref()).await?),
        };
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

/// Health names the graph by its server, not by its query language.
fn graph_health_name(backend: &str) -> &str {
    match backend {
        "embedded" => "graph",
        "cypher" => "neo4j",
        other => other,
    }
}

/// Opens the configured stores. With an empty data dir, generates the demo organisation
/// (default seed and size), loads it and says so through `announce`. Each role configured
/// in the settings is served by its server — relational by PostgreSQL, metrics by
/// ClickHouse, graph by Neo4j — which is loaded with the demo organisation when empty;
/// the other roles stay embedded. A server holding another organisation than the
/// relational store (another seed or size) is announced as a warning.
pub async fn open(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<Stores> {
    let sqlite = Arc::new(Sqlite::open(&sqlite_path(&settings.data_dir)).await?);
    // The demo organisation, generated at most once for all the stores that load it.
    let demo = std::sync::OnceLock::new();
    let demo_org = || demo.get_or_init(|| org::generate(org::DEFAULT_SEED, org::DEFAULT_EMPLOYEES));
    if !sqlite.is_loaded().await? {
        let o = demo_org();
        sqlite.load(o, &|_| {}).await?;
        announce(&format!(
            "empty data directory {}: created the demo organisation ({} employees, {} teams)",
            settings.data_dir.display(),
            o.employees.len(),
            o.teams.len()
        ));
    }
    let loaded = |what: String, o: &org::Org| {
        announce(&format!(
            "empty {what}: loaded the demo organisation ({} employees, {} teams)",
            o.employees.len(),
            o.teams.len()
        ))
    };
    // Kept for pgvector document search.
    let mut pg_pool = None;
    let relational: Arc<dyn Relational> = match &settings.postgres {
        None => sqlite.clone(),
        Some(pg) => {
            let p = Postgres::connect(pg).await?;
            pg_pool = Some(p.pool().clone());
            if !p.is_loaded().await? {
                let o = demo_org();
                p.load(o, &|_| {}).await?;
                loaded(format!("PostgreSQL database {}", pg.database), o);
            }
            Arc::new(p)
        }
    };
    let metrics: Arc<dyn Metrics> = match &settings.clickhouse {
        None => sqlite.clone(),
        Some(ch) => {
            let c = ClickHouse::connect(ch, settings.store_timeout).await?;
            if !c.is_loaded().await? {
                let o = demo_org();
                c.load(o, &|_| {}).await?;
                loaded(format!("ClickHouse database {}", ch.database), o);
            }
            Arc::new(c)
        }
    };
    let graph: Option<Arc<dyn Graph>> = match &settings.neo4j {
        None => None,
        Some(n) => {
            let g = Neo4jGraph::connect(n, settings.store_timeout).await?;
            if !g.is_loaded().await? {
                let o = demo_org();
                g.load(o, &|_| {}).await?;
                loaded(
                    format!(
                        "Neo4j database {}",
                        n.database.as_deref().unwrap_or("(default)")
                    ),
                    o,
                );
            }
            Some(Arc::new(g))
        }
    };
    // A server seeded apart from the others gives answers that do not fit together.
    let expected = organisation(relational.as_ref()).await?;
    let others: [(&str, Option<&dyn QueryStore>); 2] = [
        (
            "ClickHouse",
            settings
                .clickhouse
                .as_ref()
                .map(|_| metrics.as_ref() as &dyn QueryStore),
        ),
        ("Neo4j", graph.as_deref().map(|g| g as &dyn QueryStore)),
    ];
    for (name, store) in others {
        if let Some(store) = store {
            let held = organisation(store).await?;
            if held != expected {
                announce(&format!(
                    "warning: {name} holds another organisation ({}) than the relational store ({}): \
                     run `eng-intel seed --force` to load the same one into every store",
                    held.describe(),
                    expected.describe()
                ));
            }
        }
    }
    let documents = embedded_documents(settings, pg_pool, relational.as_ref(), announce).await?;
    Stores::assemble_with_documents(relational, metrics, graph, documents).await
}

/// With an embedder, document search is hybrid (words and meaning): the documents without
/// a vector are embedded and kept (in the data dir, or pgvector with PostgreSQL). None
/// without an embedder: BM25 alone.
async fn embedded_documents(
    settings: &Settings,
    pg_pool: Option<sqlx::PgPool>,
    relational: &dyn QueryStore,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Option<Arc<dyn Documents>>> {
    match crate::embed::from_settings(settings)? {
        None => Ok(None),
        Some(e) => hybrid::open(e, pg_pool, &settings.data_dir, relational, announce).await,
    }
}

/// Embeds the documents of the (already loaded) relational store that have no vector yet
/// and keeps the vectors, opening only that store: what `eng-intel seed` does last.
pub async fn embed_documents(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<()> {
    match &settings.postgres {
        Some(pg) => {
            let p = Postgres::connect(pg).await?;
            let pool = p.pool().clone();
            embedded_documents(settings, Some(pool), &p, announce).await?;
        }
        None => {
            let sqlite = Sqlite::open(&sqlite_path(&settings.data_dir)).await?;
            embedded_documents(settings, None, &sqlite, announce).await?;
        }
    }
    Ok(())
}

/// Which generated organisation a store holds, from its `meta` rows.
#[derive(Debug, PartialEq, Eq)]
struct Organisation {
    seed: Option<String>,
    employees: Option<String>,
}

impl Organisation {
    fn describe(&self) -> String {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
        format!(
            "seed {}, {} employees",
            or_unknown(&self.seed),
            or_unknown(&self.employees)
        )
    }
}

async fn organisation(store: &dyn QueryStore) -> Result<Organisation, StoreError> {
    let text = if store.backend() == "cypher" {
        "MATCH (m:Meta) RETURN m.key AS key, m.value AS value"
    } else {
        "SELECT key, value FROM meta"
    };
    let rows = store.query(text, &Params::new()).await?;
    let get = |key: &str| {
        rows.iter()
            .find(|r| r.get("key").and_then(Value::as_str) == Some(key))
            .and_then(|r| r.get("value").and_then(Value::as_str))
            .map(str::to_string)
    };
    Ok(Organisation {
        seed: get("seed"),
        employees: get("employees"),
    })
}
