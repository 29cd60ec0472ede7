//! The organisation's data stores: the contracts (one trait per store role, rows,
//! parameters, errors, the tables a load writes) and the backends that fulfil them, with
//! an embedded default for each role.
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
//! embedded graph reads `embedded`, the name of an operation). What the stores hold — the
//! tables, the demo organisation, seeding — is the `dataset` module's; running tools over
//! them is the `toolbox`'s.

mod breaking;
mod clickhouse;
mod contract;
mod deferred;
mod documents;
mod embed_cache;
mod graph;
mod hybrid;
mod neo4j;
mod pgvector;
mod postgres;
pub use postgres::migrate_pending;
mod rank;
pub mod sql;
pub mod sql_guard;
mod sqlite;
mod stores;
mod table;

pub use breaking::{Breaking, FAILURES as BREAKER_FAILURES};
pub use clickhouse::ClickHouse;
pub use contract::{
    DocFilter, DocHit, Documents, Graph, Match, Metrics, Params, QueryStore, Relational, Row,
    StoreError,
};
pub use deferred::{Deferred, Open};
pub use documents::{Bm25Index, passage, tokens};
pub use embed_cache::EmbedCache;
pub use graph::MemGraph;
pub use hybrid::{HybridIndex, open as open_hybrid};
pub use neo4j::Neo4jGraph;
pub use pgvector::PgDocuments;
pub use postgres::{Exclusive, Postgres};
pub use rank::rrf;
pub use sql_guard::SqlGuard;
pub use sqlite::{Sqlite, open_file as sqlite_file, sqlite_path};
pub use stores::{PING_TIMEOUT, Stores};
pub use table::{Cell, GraphRows, META, Snapshot, Table, TableDef, Ty, timestamp};
