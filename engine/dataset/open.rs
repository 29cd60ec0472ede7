//! Opening the configured stores with the dataset in them: an empty store is loaded with
//! the demo organisation, a server holding another organisation than the relational store
//! is announced, and with an embedder the documents are embedded for hybrid search.

use std::sync::Arc;

use serde_json::Value;

use super::org::{DEFAULT_EMPLOYEES, DEFAULT_SEED, Org, generate};
use super::tables::{METRICS, POSTGRES_SCHEMA, SQLITE_SCHEMA, snapshot};
use crate::settings::Settings;
use crate::store::{
    ClickHouse, Documents, Graph, Metrics, Neo4jGraph, Params, Postgres, QueryStore, Relational,
    Sqlite, StoreError, Stores, open_hybrid, sqlite_path,
};

/// Opens the configured stores. With an empty data dir, generates the demo organisation
/// (default seed and size), loads it and says so through `announce`. Each role configured
/// in the settings is served by its server — relational by PostgreSQL, metrics by
/// ClickHouse, graph by Neo4j — which is loaded with the demo organisation when empty;
/// the other roles stay embedded. A server holding another organisation than the
/// relational store (another seed or size) is announced as a warning.
pub async fn open(settings: &Settings, announce: &dyn Fn(&str)) -> anyhow::Result<Stores> {
    let sqlite = Arc::new(Sqlite::open(&sqlite_path(&settings.data_dir), &SQLITE_SCHEMA).await?);
    // The demo organisation, generated at most once for all the stores that load it.
    let demo = std::sync::OnceLock::new();
    let demo_org = || demo.get_or_init(|| generate(DEFAULT_SEED, DEFAULT_EMPLOYEES));
    if !sqlite.is_loaded().await? {
        let o = demo_org();
        sqlite.load(&snapshot(o), &|_| {}).await?;
        announce(&format!(
            "empty data directory {}: created the demo organisation ({} employees, {} teams)",
            settings.data_dir.display(),
            o.employees.len(),
            o.teams.len()
        ));
    }
    let loaded = |what: String, o: &Org| {
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
            let p = Postgres::connect(pg, &POSTGRES_SCHEMA).await?;
            pg_pool = Some(p.pool().clone());
            if !p.is_loaded().await? {
                let o = demo_org();
                p.load(&snapshot(o), &|_| {}).await?;
                loaded(format!("PostgreSQL database {}", pg.database), o);
            }
            Arc::new(p)
        }
    };
    let metrics: Arc<dyn Metrics> = match &settings.clickhouse {
        None => sqlite.clone(),
        Some(ch) => {
            let c = ClickHouse::connect(ch, settings.store_timeout, METRICS).await?;
            if !c.is_loaded().await? {
                let o = demo_org();
                c.load(&snapshot(o), &|_| {}).await?;
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
                g.load(&snapshot(o), &|_| {}).await?;
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
