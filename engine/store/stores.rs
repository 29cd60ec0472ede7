//! The opened stores, one per role.

use std::sync::Arc;
use std::time::Duration;

use super::contract::{Documents, Graph, Metrics, Relational, StoreError};
use super::documents::Bm25Index;
use super::graph::MemGraph;

/// How long one store's ping may take before health reports it down: a store that
/// stops answering turns health unhealthy within a second.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The opened stores, one per role.
pub struct Stores {
    pub relational: Arc<dyn Relational>,
    pub metrics: Arc<dyn Metrics>,
    pub graph: Arc<dyn Graph>,
    pub documents: Arc<dyn Documents>,
}

impl Stores {
    /// A real ping of every distinct store, named by backend; all at once, each within
    /// [`PING_TIMEOUT`], so one slow store cannot hide the others' state.
    pub async fn health(&self) -> Vec<(String, Result<(), String>)> {
        self.health_within(PING_TIMEOUT).await
    }

    /// [`Stores::health`] with each ping given `limit`.
    pub async fn health_within(&self, limit: Duration) -> Vec<(String, Result<(), String>)> {
        let checks = tokio::join!(
            timed(self.relational.backend(), limit, self.relational.ping()),
            timed(self.metrics.backend(), limit, self.metrics.ping()),
            timed(
                graph_health_name(self.graph.backend()),
                limit,
                self.graph.ping()
            ),
            timed(self.documents.backend(), limit, self.documents.ping()),
        );
        let mut out: Vec<(String, Result<(), String>)> = Vec::new();
        for (name, r) in [checks.0, checks.1, checks.2, checks.3] {
            // A store in two roles (SQLite for both) is reported once.
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, r));
            }
        }
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
        Ok(Stores {
            relational,
            metrics,
            graph,
            documents,
        })
    }
}

/// Health names the graph by its server, not by its query language.
/// One store's ping, named, bounded by `limit`.
async fn timed(
    name: &str,
    limit: Duration,
    ping: impl std::future::Future<Output = Result<(), StoreError>>,
) -> (String, Result<(), String>) {
    let r = match tokio::time::timeout(limit, ping).await {
        Ok(r) => r.map_err(|e| e.message),
        Err(_) => Err(format!("no answer within {:.1} s", limit.as_secs_f64())),
    };
    (name.to_string(), r)
}

fn graph_health_name(backend: &str) -> &str {
    match backend {
        "embedded" => "graph",
        "cypher" => "neo4j",
        other => other,
    }
}

#[cfg(test)]
mod health_tests {
    use async_trait::async_trait;

    use super::*;
    use crate::store::contract::{DocFilter, DocHit, Params, QueryStore, Row};

    /// A store named `name` whose ping answers, or never does.
    struct Fake(&'static str, bool);

    #[async_trait]
    impl QueryStore for Fake {
        fn backend(&self) -> &'static str {
            self.0
        }
        async fn query(&self, _: &str, _: &Params) -> Result<Vec<Row>, StoreError> {
            Ok(vec![])
        }
        async fn ping(&self) -> Result<(), StoreError> {
            if self.1 {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }
    impl Relational for Fake {}
    impl Metrics for Fake {}
    impl Graph for Fake {}

    #[async_trait]
    impl Documents for Fake {
        fn backend(&self) -> &'static str {
            self.0
        }
        async fn search(
            &self,
            _: &str,
            _: &DocFilter,
            _: usize,
        ) -> Result<Vec<DocHit>, StoreError> {
            Ok(vec![])
        }
        async fn ping(&self) -> Result<(), StoreError> {
            QueryStore::ping(self).await
        }
    }

    #[tokio::test]
    async fn a_hanging_store_is_named_beside_the_others() {
        let stores = Stores {
            relational: Arc::new(Fake("postgres", false)),
            metrics: Arc::new(Fake("clickhouse", true)),
            graph: Arc::new(Fake("cypher", false)),
            documents: Arc::new(Fake("bm25", false)),
        };
        let health = stores.health_within(Duration::from_millis(50)).await;
        let names: Vec<&str> = health.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["postgres", "clickhouse", "neo4j", "bm25"]);
        assert!(health[0].1.is_ok() && health[2].1.is_ok());
        assert!(
            health[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("no answer within")
        );
    }
}
