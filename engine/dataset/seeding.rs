//! The stores a generated organisation is loaded into: the SQLite file under the data dir
//! always, and each server the settings configure (PostgreSQL, ClickHouse, Neo4j). One
//! list, so `eng-intel seed` and the backends benchmark treat every store alike.

use super::open::{Organisation, organisation};
use super::org::Org;
use super::tables::{METRICS, POSTGRES_SCHEMA, SQLITE_SCHEMA, snapshot};
use crate::settings::Settings;
use crate::store::{ClickHouse, Neo4jGraph, Postgres, QueryStore, Sqlite, sqlite_path};

enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
    // Boxed: the HTTP client is several times larger than the other stores.
    ClickHouse(Box<ClickHouse>),
    Neo4j(Neo4jGraph),
}

/// One store to load, connected.
pub struct LoadTarget {
    name: String,
    store: Store,
}

/// The SQLite file of `settings.data_dir`, then every configured server, connected (and
/// their schemas created). A server that cannot be reached is an error naming it.
pub async fn load_targets(settings: &Settings) -> anyhow::Result<Vec<LoadTarget>> {
    let path = sqlite_path(&settings.data_dir);
    let mut targets = vec![LoadTarget {
        name: path.display().to_string(),
        store: Store::Sqlite(Sqlite::open(&path, &SQLITE_SCHEMA).await?),
    }];
    if let Some(pg) = &settings.postgres {
        targets.push(LoadTarget {
            name: format!("PostgreSQL {}:{}/{}", pg.host, pg.port, pg.database),
            store: Store::Postgres(Postgres::connect(pg, &POSTGRES_SCHEMA).await?),
        });
    }
    if let Some(ch) = &settings.clickhouse {
        targets.push(LoadTarget {
            name: format!("ClickHouse {} (database {})", ch.url, ch.database),
            store: Store::ClickHouse(Box::new(
                ClickHouse::connect(ch, settings.store_timeout, METRICS).await?,
            )),
        });
    }
    if let Some(n) = &settings.neo4j {
        targets.push(LoadTarget {
            name: format!(
                "Neo4j {} (database {})",
                n.uri,
                n.database.as_deref().unwrap_or("default")
            ),
            store: Store::Neo4j(Neo4jGraph::connect(n, settings.store_timeout).await?),
        });
    }
    Ok(targets)
}

impl LoadTarget {
    /// The store, for people: a path or the server and database.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `sqlite`, `postgres`, `clickhouse` or `neo4j`.
    pub fn kind(&self) -> &'static str {
        match self.store {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
            Store::ClickHouse(_) => "clickhouse",
            Store::Neo4j(_) => "neo4j",
        }
    }

    fn query_store(&self) -> &dyn QueryStore {
        match &self.store {
            Store::Sqlite(s) => s,
            Store::Postgres(s) => s,
            Store::ClickHouse(s) => s.as_ref(),
            Store::Neo4j(s) => s,
        }
    }

    /// Whether the store already holds the organisation of this seed and size (from its
    /// `meta` rows, written last by every load, so a half-done load never counts).
    pub async fn holds(&self, seed: u64, employees: usize) -> anyhow::Result<bool> {
        let held = organisation(self.query_store())
            .await
            .map_err(|e| anyhow::anyhow!("reading what {} holds: {e}", self.name))?;
        Ok(held
            == Organisation {
                seed: Some(seed.to_string()),
                employees: Some(employees.to_string()),
            })
    }

    /// The items [`LoadTarget::load`] reports for `org`: rows, or nodes and relationships.
    pub fn load_size(&self, org: &Org) -> u64 {
        let data = snapshot(org);
        match &self.store {
            Store::Sqlite(_) | Store::Postgres(_) => data.rows(),
            Store::ClickHouse(s) => s.load_size(&data),
            Store::Neo4j(_) => Neo4jGraph::load_size(&data),
        }
    }

    /// Replaces the store's organisation with `org`, in batches; `progress` gets the items
    /// written so far.
    pub async fn load(&self, org: &Org, progress: &(dyn Fn(u64) + Sync)) -> anyhow::Result<()> {
        let data = snapshot(org);
        let done = match &self.store {
            Store::Sqlite(s) => s.load(&data, progress).await,
            Store::Postgres(s) => s.load(&data, progress).await,
            Store::ClickHouse(s) => s.load(&data, progress).await.map_err(Into::into),
            Store::Neo4j(s) => s.load(&data, progress).await.map_err(Into::into),
        };
        done.map_err(|e| anyhow::anyhow!("loading {}: {e:#}", self.name))
    }
}
