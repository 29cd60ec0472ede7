//! `store::Neo4jGraph` against a real Bolt server (scripts/servers.sh): every operation of
//! the embedded graph, answered in Cypher, gives the embedded graph's rows, which are the
//! expected values. Uses its own database, whose contents it replaces.

use std::path::Path;
use std::time::Duration;

use eng_intel::dataset;
use eng_intel::store::{MemGraph, Neo4jGraph, Params, QueryStore, Row, Sqlite};
use serde_json::{Value, json};

use crate::support::require_server;

/// The `cypher:` query of a tool of tools.yaml: the embedded graph's operation of the
/// same name in Cypher.
fn cypher(tool: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (set, _) = eng_intel::compile::load(root)
        .unwrap_or_else(|r| panic!("{}", eng_intel::core::Report::from(r)));
    let def = set.tool(tool).unwrap();
    def.query
        .as_ref()
        .and_then(|q| q.for_backend("cypher"))
        .unwrap_or_else(|| panic!("{tool} has no cypher query"))
        .to_string()
}

/// The embedded graph lists shared services in edge order; compare them as sets.
fn normalized(mut rows: Vec<Row>) -> Vec<Row> {
    for r in &mut rows {
        if let Some(Value::Array(a)) = r.get_mut("shared_services") {
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        }
    }
    rows
}

#[tokio::test]
async fn answers_like_the_embedded_graph() {
    let Some(servers) = require_server("NEO4J_URI") else {
        return;
    };
    let mut settings = servers.settings().neo4j.unwrap();
    settings.database = Some("eng_intel_test_graph".into());
    let org = dataset::generate(11, 0);
    let data = dataset::snapshot(&org);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Sqlite::open(&dir.path().join("g.sqlite"), &dataset::SQLITE_SCHEMA)
        .await
        .unwrap();
    sqlite.load(&data, &|_| {}).await.unwrap();
    let mem = MemGraph::build(&sqlite, &sqlite).await.unwrap();
    let neo = Neo4jGraph::connect(&settings, Duration::from_secs(60))
        .await
        .unwrap();
    // Twice: a re-run replaces, never duplicates.
    neo.load(&data, &|_| {}).await.unwrap();
    neo.load(&data, &|_| {}).await.unwrap();
    assert!(neo.is_loaded().await.unwrap());
    let count = neo
        .query(
            "MATCH (n) WHERE n:Person OR n:Team OR n:Skill OR n:Service RETURN count(n) AS n",
            &Params::new(),
        )
        .await
        .unwrap();
    let nodes = org.employees.len() + org.teams.len() + org.skills.len() + org.services.len();
    assert_eq!(count[0]["n"], json!(nodes));

    let p = |pairs: &[(&str, Value)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Params>()
    };
    let (collaborators, experts) = (cypher("collaborators"), cypher("experts"));
    let (dependencies, silos) = (cypher("service_dependencies"), cypher("knowledge_silos"));
    let mut cases: Vec<(&str, &str, Params)> = Vec::new();
    for e in org.employees.iter().take(6) {
        cases.push((
            "collaborators",
            &collaborators,
            p(&[("person", json!(e.name))]),
        ));
    }
    for k in org.skills.iter().take(6) {
        cases.push((
            "experts",
            &experts,
            p(&[("topic", json!(k.name)), ("limit", json!(5))]),
        ));
    }
    for s in &org.services {
        cases.push(("experts", &experts, p(&[("topic", json!(s.name))])));
        cases.push((
            "service_dependencies",
            &dependencies,
            p(&[("service", json!(s.name))]),
        ));
    }
    cases.push(("knowledge_silos", &silos, p(&[("limit", json!(50))])));
    cases.push((
        "knowledge_silos",
        &silos,
        p(&[("team", json!(org.teams[0].name.to_uppercase()))]),
    ));
    for (op, cypher, params) in cases {
        let expected = normalized(mem.query(op, &params).await.unwrap());
        assert!(
            !expected.is_empty(),
            "{op} {params:?} gives no rows to compare"
        );
        assert_eq!(
            normalized(neo.query(cypher, &params).await.unwrap()),
            expected,
            "{op} {params:?}"
        );
    }

    let err = neo
        .query("MATCH (n:Person RETURN n", &Params::new())
        .await
        .unwrap_err();
    assert!(
        !err.retryable && err.message.contains("neo4j"),
        "{}",
        err.message
    );
}
