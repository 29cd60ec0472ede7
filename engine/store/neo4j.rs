//! Neo4j over Bolt for the graph role (neo4rs): the embedded graph's model (graph.rs) as
//! labelled nodes and typed relationships, loaded from a snapshot's Cypher statements and
//! queried with the tools' `cypher:` text.
//!
//! | node | properties | relationships (with properties) |
//! |---|---|---|
//! | `Person` | id, name, title, team | `MEMBER_OF` Team, `REPORTS_TO` Person, `HAS_SKILL` Skill {proficiency}, `COMMITS_TO` Service {commits}, `REVIEWED` Person {reviews}, `COLLABORATES_WITH` Person {kind, weight} (both ways) |
//! | `Team` | name | `OWNS` Service |
//! | `Service` | id, name, team, owner, tier | `DEPENDS_ON` Service, `USES` Skill |
//! | `Skill` | name | |
//! | `Meta` | key, value | |
//!
//! Queries are parameterized Cypher only (`$name`; a parameter the query names but the call
//! lacks is bound as null, as the SQL backends do). A query that returns a map column
//! named `row` gives that map as the row, so one query can return rows of two shapes (a
//! `UNION` needs the same columns); its other columns only serve `ORDER BY`. The database
//! is always named when configured (`NEO4J_DATABASE`). Every call is bounded by a timeout:
//! neo4rs retries transient errors for up to a minute, and a dead server must become a
//! tool error, not a hung request.

use std::time::Duration;

use async_trait::async_trait;
use neo4rs::{BoltType, ConfigBuilder, Query};
use serde_json::{Value, json};

use super::contract::{Graph, Params, QueryStore, Row, StoreError};
use super::table::Snapshot;

/// Rows per `UNWIND $rows` statement.
const BATCH: usize = 2_000;

/// The labels this backend owns; a load deletes only these.
const LABELS: &[&str] = &["Person", "Team", "Service", "Skill", "Meta"];

const CONSTRAINTS: &[&str] = &[
    "CREATE CONSTRAINT eng_intel_person_id IF NOT EXISTS FOR (n:Person) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT eng_intel_service_id IF NOT EXISTS FOR (n:Service) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT eng_intel_team_name IF NOT EXISTS FOR (n:Team) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT eng_intel_skill_name IF NOT EXISTS FOR (n:Skill) REQUIRE n.name IS UNIQUE",
    "CREATE INDEX eng_intel_person_name IF NOT EXISTS FOR (n:Person) ON (n.name)",
    "CREATE INDEX eng_intel_service_name IF NOT EXISTS FOR (n:Service) ON (n.name)",
];

pub struct Neo4jGraph {
    graph: neo4rs::Graph,
    timeout: Duration,
}

impl Neo4jGraph {
    /// Connects (a real round trip) and creates the constraints and indexes.
    pub async fn connect(
        settings: &crate::settings::Neo4j,
        timeout: Duration,
    ) -> anyhow::Result<Neo4jGraph> {
        let mut config = ConfigBuilder::default()
            .uri(&settings.uri)
            .user(&settings.user)
            .password(settings.password.expose())
            .max_connections(settings.pool_size);
        if let Some(db) = &settings.database {
            config = config.db(db.as_str());
        }
        let at = || {
            format!(
                "Neo4j at {} (database {})",
                settings.uri,
                settings.database.as_deref().unwrap_or("default")
            )
        };
        let graph = neo4rs::Graph::connect(config.build()?)
            .map_err(|e| anyhow::anyhow!("cannot configure {}: {e}", at()))?;
        let store = Neo4jGraph { graph, timeout };
        store
            .ping()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {}", at(), e.message))?;
        for c in CONSTRAINTS {
            store
                .run(neo4rs::query(c))
                .await
                .map_err(|e| anyhow::anyhow!("{}: {c}: {}", at(), e.message))?;
        }
        Ok(store)
    }

    /// The nodes and relationships [`Neo4jGraph::load`] writes of `data`.
    pub fn load_size(data: &Snapshot<'_>) -> u64 {
        (data.graph)()
            .iter()
            .map(|(_, rows)| rows.len() as u64)
            .sum()
    }

    pub async fn is_loaded(&self) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "MATCH (m:Meta {key: 'as_of'}) RETURN count(m) AS n",
                &Params::new(),
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("n"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0)
    }

    /// Replaces this backend's nodes with the snapshot's graph, in `UNWIND` batches.
    /// `Meta` is deleted first and written last, so `is_loaded` is false while a load is
    /// incomplete; a re-run starts again from nothing. `progress` gets items written so far.
    pub async fn load(
        &self,
        data: &Snapshot<'_>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        for label in LABELS.iter().rev() {
            self.run(neo4rs::query(&format!("MATCH (n:{label}) DETACH DELETE n")))
                .await?;
        }
        let mut done = 0u64;
        for (cypher, rows) in (data.graph)() {
            for chunk in rows.chunks(BATCH) {
                let rows = BoltType::try_from(Value::Array(chunk.to_vec()))
                    .map_err(|e| StoreError::query(format!("neo4j: {e}")))?;
                self.run(neo4rs::query(cypher).param("rows", rows)).await?;
                done += chunk.len() as u64;
                progress(done);
            }
        }
        let meta: Vec<Value> = data
            .meta
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let rows = BoltType::try_from(Value::Array(meta))
            .map_err(|e| StoreError::query(format!("neo4j: {e}")))?;
        self.run(
            neo4rs::query("UNWIND $rows AS r CREATE (:Meta {key: r.key, value: r.value})")
                .param("rows", rows),
        )
        .await
    }

    async fn run(&self, q: Query) -> Result<(), StoreError> {
        self.bounded(self.graph.run(q)).await.map(|_| ())
    }

    async fn bounded<T>(
        &self,
        f: impl Future<Output = Result<T, neo4rs::Error>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(neo4j_error),
            Err(_) => Err(StoreError::unavailable(format!(
                "neo4j: no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

/// The `$name`s a query mentions (a `$` inside a string literal only adds an unused null).
fn parameter_names(cypher: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = cypher;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && !names.contains(&&rest[..end]) {
            names.push(&rest[..end]);
        }
        rest = &rest[end..];
    }
    names
}

fn flatten(mut row: Row) -> Row {
    match row.remove("row") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            row.insert("row".into(), other);
            row
        }
        None => row,
    }
}

#[async_trait]
impl QueryStore for Neo4jGraph {
    fn backend(&self) -> &'static str {
        "cypher"
    }

    async fn query(&self, cypher: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        let mut q = neo4rs::query(cypher);
        for name in parameter_names(cypher) {
            let v = params.get(name).cloned().unwrap_or(Value::Null);
            let v = BoltType::try_from(v)
                .map_err(|e| StoreError::query(format!("neo4j: parameter ${name}: {e}")))?;
            q = q.param(name, v);
        }
        self.bounded(async {
            let mut stream = self.graph.execute_read(q).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok(rows)
        })
        .await?
        .into_iter()
        .map(|r| {
            r.to::<Row>()
                .map(flatten)
                .map_err(|e| StoreError::query(format!("neo4j: unreadable row: {e}")))
        })
        .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(neo4rs::query("RETURN 1")).await
    }
}

impl Graph for Neo4jGraph {}

fn neo4j_error(e: neo4rs::Error) -> StoreError {
    use neo4rs::{Error, Neo4jErrorKind};
    match &e {
        Error::IOError { .. }
        | Error::ConnectionError
        | Error::ConnectionTimedOut
        | Error::IncompleteBoltExchange
        | Error::ServerUnavailableError(_) => StoreError::unavailable(format!("neo4j: {e}")),
        Error::Neo4j(n) if n.kind() == Neo4jErrorKind::Transient => {
            StoreError::unavailable(format!("neo4j: {e}"))
        }
        _ => StoreError::query(format!("neo4j: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_the_dollar_names_once_each() {
        assert_eq!(
            parameter_names(
                "MATCH (p {name: $person}) WHERE $team IS NULL OR p.team = $team RETURN p LIMIT $limit"
            ),
            ["person", "team", "limit"]
        );
        assert!(parameter_names("RETURN 1").is_empty());
    }

    #[test]
    fn a_row_column_holding_a_map_is_the_row() {
        let r = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            flatten(r(json!({"row": {"a": 1}, "score": 3}))),
            r(json!({"a": 1}))
        );
        assert_eq!(
            flatten(r(json!({"row": 2, "b": 1}))),
            r(json!({"row": 2, "b": 1}))
        );
        assert_eq!(flatten(r(json!({"b": 1}))), r(json!({"b": 1})));
    }
}
