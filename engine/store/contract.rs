//! The contracts every backend fulfils: rows and parameters, the one error type, and a
//! trait per store role. `Relational`, `Metrics` and `Graph` share [`QueryStore`] (query
//! text with `:name` parameters bound, never pasted in, giving rows); `Documents` is
//! retrieval.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Map, Value};

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

#[derive(Debug, Clone, Default)]
pub struct DocFilter {
    /// design_doc, postmortem, runbook or onboarding (loosely spelled: "design docs" works).
    pub kind: Option<String>,
    pub team: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocHit {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub team: Option<String>,
    pub service: Option<String>,
    pub author: String,
    pub created_at: String,
    pub score: f64,
    /// The sentence that best matches the query.
    pub snippet: String,
    /// How a hybrid search found it; absent when words alone rank (BM25 without embeddings).
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub found_by: Option<Match>,
}

/// What found a document in a hybrid search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Its words (BM25, or PostgreSQL full-text search).
    Text,
    /// Its meaning (the nearest vectors).
    Vector,
    Both,
}
