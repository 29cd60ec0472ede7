//! The opened stores, one per role.

use std::sync::Arc;

use super::contract::{Documents, Graph, Metrics, Relational, StoreError};
use super::documents::Bm25Index;
use super::graph::MemGraph;

/// The opened stores, one per role.
pub struct Stores {
    pub relational: Arc<dyn Relational>,
    pub metrics: Arc<dyn Metrics>,
    pub graph: Arc<dyn Graph>,
    pub documents: Arc<dyn Documents>,
}

impl Stores {
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
        Ok(Stores {
            relational,
            metrics,
            graph,
            documents,
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
