//! Opening the configured stores with the dataset in them: an empty store is loaded with
//! the demo organisation, a server holding another organisation than the relational store
//! is announced, and with an embedder the documents are embedded for hybrid search.

use std::sync::Arc;

use futures::FutureExt;
use serde_json::Value;

use super::org::{DEFAULT_EMPLOYEES, DEFAULT_SEED, Org, generate};
use super::tables::{METRICS, POSTGRES_SCHEMA, SQLITE_SCHEMA, snapshot};
use crate::settings::Settings;
use crate::store::{
    Breaking, ClickHouse, Deferred, Documents, Exclusive, Graph, MemGraph, Metrics, Neo4jGraph,
    Params, Postgres, QueryStore, Relational, Sqlite, StoreError, Stores, open_hybrid, sqlite_path,
};

/// [`open_with`] refusing a server that is down.
pub async fn open(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<Stores> {
    open_with(settings, WhenDown::Refuse, announce).await
}

/// What opening does about a configured server that does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDown {
    /// Fail, naming it (`seed`, `migrate`, the CLI).
    Refuse,
    /// Say so and serve without it until it answers (`serve`): its tools fail and health
    /// names it; the first call that finds it up opens (and loads) it.
    Degrade,
}

/// Opens the configured stores. With an empty data dir, generates the demo organisation
/// (default seed and size), loads it and says so through `announce`. Each role configured
/// in the settings is served by its server — relational by PostgreSQL, metrics by
/// ClickHouse, graph by Neo4j — which is loaded with the demo organisation when empty;
/// the other roles stay embedded. A server holding another organisation than the
/// relational store (another seed or size) is announced as a warning. Each server sits
/// behind a circuit breaker (`store::Breaking`). ClickHouse and Neo4j down is `when_down`'s
/// call; the relational store must answer (the vocabulary and the documents come from it).
pub async fn open_with(
    settings: &Settings,
    when_down: WhenDown,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Stores> {
    let sqlite = Arc::new(Sqlite::open(&sqlite_path(&settings.data_dir), &SQLITE_SCHEMA).await?);
    if !sqlite.is_loaded().await? {
        let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
        sqlite.load(&snapshot(&o), &|_| {}).await?;
        announce(&format!(
            "empty data directory {}: created the demo organisation ({} employees, {} teams)",
            settings.data_dir.display(),
            o.employees.len(),
            o.teams.len()
        ));
    }
    let pg = match &settings.postgres {
        Some(pg) => {
            let p = Postgres::connect(pg, &POSTGRES_SCHEMA).await?;
            Some(Arc::new(p.bounded_by(settings.store_timeout)))
        }
        None => None,
    };
    // Kept for pgvector document search.
    let pg_pool = pg.as_ref().map(|p| p.pool().clone());
    let relational: Arc<dyn Relational> = match (&pg, &settings.postgres) {
        (Some(p), Some(s)) => {
            let _alone = exclusive(&pg).await?;
            if !p.is_loaded().await? {
                let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
                p.load(&snapshot(&o), &|_| {}).await?;
                loaded(&format!("PostgreSQL database {}", s.database), &o, announce);
            }
            Arc::new(Breaking::new(p.clone(), settings.store_cooldown))
        }
        _ => sqlite.clone(),
    };
    let server = |s: Server| server_store(s, settings, &relational, &pg, when_down, announce);
    let metrics: Arc<dyn Metrics> = match &settings.clickhouse {
        None => sqlite.clone(),
        Some(_) => server(Server::ClickHouse).await?,
    };
    let graph: Arc<dyn Graph> = match &settings.neo4j {
        Some(_) => server(Server::Neo4j).await?,
        None => embedded_graph(&relational, &metrics, when_down, announce).await?,
    };
    let documents = embedded_documents(settings, pg_pool, relational.as_ref(), announce).await?;
    Stores::assemble_with_documents(relational, metrics, Some(graph), documents).await
}

/// A server for one role.
#[derive(Debug, Clone, Copy)]
enum Server {
    ClickHouse,
    Neo4j,
}

/// `server` behind its breaker: opened now, or when down and `when_down` allows, opened by
/// the first call that finds it up.
async fn server_store(
    server: Server,
    settings: &Settings,
    relational: &Arc<dyn Relational>,
    pg: &Option<Arc<Postgres>>,
    when_down: WhenDown,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Arc<Breaking>> {
    let store: Arc<dyn QueryStore> =
        match open_server(server, settings, relational.as_ref(), pg, announce).await {
            Ok(opened) => opened,
            Err(e) if when_down == WhenDown::Degrade => {
                announce(&format!(
                    "warning: {e:#}; serving without it (health says degraded) until it answers"
                ));
                let (settings, relational, pg) = (settings.clone(), relational.clone(), pg.clone());
                let backend = match server {
                    Server::ClickHouse => "clickhouse",
                    Server::Neo4j => "cypher",
                };
                Arc::new(Deferred::new(
                    backend,
                    Box::new(move || {
                        let (settings, relational) = (settings.clone(), relational.clone());
                        let pg = pg.clone();
                        async move {
                            open_server(server, &settings, relational.as_ref(), &pg, &log)
                                .await
                                .map_err(|e| StoreError::unavailable(format!("{e:#}")))
                        }
                        .boxed()
                    }),
                ))
            }
            Err(e) => return Err(e),
        };
    Ok(Arc::new(Breaking::new(store, settings.store_cooldown)))
}

/// Connects `server`, loads the demo organisation into it when empty, and warns when it
/// holds another organisation than the relational store.
async fn open_server<A: Fn(&str) + ?Sized>(
    server: Server,
    settings: &Settings,
    relational: &dyn QueryStore,
    pg: &Option<Arc<Postgres>>,
    announce: &A,
) -> anyhow::Result<Arc<dyn QueryStore>> {
    let (store, name): (Arc<dyn QueryStore>, &str) = match server {
        Server::ClickHouse => {
            let ch = settings.clickhouse.as_ref().expect("ClickHouse configured");
            let c = ClickHouse::connect(ch, settings.store_timeout, METRICS).await?;
            let _alone = exclusive(pg).await?;
            if !c.is_loaded().await? {
                let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
                c.load(&snapshot(&o), &|_| {}).await?;
                loaded(
                    &format!("ClickHouse database {}", ch.database),
                    &o,
                    announce,
                );
            }
            (Arc::new(c), "ClickHouse")
        }
        Server::Neo4j => {
            let n = settings.neo4j.as_ref().expect("Neo4j configured");
            let g = Neo4jGraph::connect(n, settings.store_timeout).await?;
            let _alone = exclusive(pg).await?;
            if !g.is_loaded().await? {
                let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
                g.load(&snapshot(&o), &|_| {}).await?;
                let database = n.database.as_deref().unwrap_or("(default)");
                loaded(&format!("Neo4j database {database}"), &o, announce);
            }
            (Arc::new(g), "Neo4j")
        }
    };
    // A server seeded apart from the others gives answers that do not fit together.
    let (held, expected) = (
        organisation(store.as_ref()).await?,
        organisation(relational).await?,
    );
    if held != expected {
        announce(&format!(
            "warning: {name} holds another organisation ({}) than the relational store ({}): \
             run `eng-intel seed --force` to load the same one into every store",
            held.describe(),
            expected.describe()
        ));
    }
    Ok(store)
}

/// The embedded graph, built from the relational and metrics stores; with metrics down
/// and `when_down` allowing it, built by the first call that finds them up.
async fn embedded_graph(
    relational: &Arc<dyn Relational>,
    metrics: &Arc<dyn Metrics>,
    when_down: WhenDown,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Arc<dyn Graph>> {
    match MemGraph::build(relational.as_ref(), metrics.as_ref()).await {
        Ok(g) => Ok(Arc::new(g)),
        Err(e) if when_down == WhenDown::Degrade => {
            announce(&format!(
                "warning: the embedded graph waits for its data: {e}"
            ));
            let (relational, metrics) = (relational.clone(), metrics.clone());
            Ok(Arc::new(Deferred::new(
                "embedded",
                Box::new(move || {
                    let (relational, metrics) = (relational.clone(), metrics.clone());
                    async move {
                        let g = MemGraph::build(relational.as_ref(), metrics.as_ref()).await?;
                        Ok(Arc::new(g) as Arc<dyn QueryStore>)
                    }
                    .boxed()
                }),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Instances that share a PostgreSQL database (as several must) load an empty store one at
/// a time: the check that it is empty and the load run under one advisory lock, so the
/// next instance finds it loaded rather than loading it again (ClickHouse and Neo4j have
/// no transaction that would make two loads one). Alone, no lock is needed.
async fn exclusive(pg: &Option<Arc<Postgres>>) -> Result<Option<Exclusive>, StoreError> {
    /// "eng-seed" in ASCII: the advisory lock key of loading.
    const LOADING: i64 = 0x656e_672d_7365_6564;
    match pg {
        Some(p) => Ok(Some(p.exclusive(LOADING).await?)),
        None => Ok(None),
    }
}

fn loaded<A: Fn(&str) + ?Sized>(what: &str, o: &Org, announce: &A) {
    announce(&format!(
        "empty {what}: loaded the demo organisation ({} employees, {} teams)",
        o.employees.len(),
        o.teams.len()
    ))
}

/// Where a server opened after the start reports: the log.
fn log(msg: &str) {
    if msg.starts_with("warning") {
        tracing::warn!("{msg}");
    } else {
        tracing::info!("{msg}");
    }
}

/// With an embedder, document search is hybrid (words and meaning): the documents without
/// a vector are embedded and kept (in the data dir, or pgvector with PostgreSQL). None
/// without an embedder, or one that cannot be set up (saying why): BM25 alone.
async fn embedded_documents(
    settings: &Settings,
    pg_pool: Option<sqlx::PgPool>,
    relational: &dyn QueryStore,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Option<Arc<dyn Documents>>> {
    match crate::embed::from_settings(settings) {
        Ok(Some(e)) => open_hybrid(e, pg_pool, &settings.data_dir, relational, announce).await,
        Ok(None) => Ok(None),
        Err(e) => {
            announce(&format!(
                "warning: document search ranks by words alone (BM25): {}",
                e.message
            ));
            Ok(None)
        }
    }
}

/// Embeds the documents of the (already loaded) relational store that have no vector yet
/// and keeps the vectors, opening only that store: what `eng-intel seed` does last.
pub async fn embed_documents(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<()> {
    match &settings.postgres {
        Some(pg) => {
            let p = Postgres::connect(pg, &POSTGRES_SCHEMA).await?;
            let pool = p.pool().clone();
            embedded_documents(settings, Some(pool), &p, announce).await?;
        }
        None => {
            let sqlite = Sqlite::open(&sqlite_path(&settings.data_dir), &SQLITE_SCHEMA).await?;
            embedded_documents(settings, None, &sqlite, announce).await?;
        }
    }
    Ok(())
}

/// Which generated organisation a store holds, from its `meta` rows.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Organisation {
    pub(super) seed: Option<String>,
    pub(super) employees: Option<String>,
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

pub(super) async fn organisation(store: &dyn QueryStore) -> Result<Organisation, StoreError> {
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
