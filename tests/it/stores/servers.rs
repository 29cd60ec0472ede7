//! Smoke tests for the real servers that `scripts/servers.sh` starts (docs/SERVERS.md).
//!
//! Each test reads the seed's variables through `Settings`, exactly as the product does,
//! connects with the crate the product uses for that role and runs one small query whose
//! answer is computed here independently. A server whose variables are unset is skipped
//! visibly (support::require_server), so `cargo test` passes on a machine without servers
//! and fails under CI.

use std::time::Duration;

use crate::support::require_server;

#[tokio::test]
async fn postgres_answers_and_has_pgvector() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let pg = servers.settings().postgres.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&pg.url())
        .await
        .expect("connect to postgres");

    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);

    sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
        .execute(&pool)
        .await
        .unwrap();
    let (a, b) = ([1.0_f64, 2.0, 3.0], [4.0_f64, 6.0, 3.5]);
    let expected = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let text = |v: &[f64]| {
        format!(
            "[{}]",
            v.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
        )
    };
    let distance: f64 =
        sqlx::query_scalar("SELECT ($1::text::vector <-> $2::text::vector)::float8")
            .bind(text(&a))
            .bind(text(&b))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        (distance - expected).abs() < 1e-5,
        "pgvector L2 distance {distance}, expected {expected}"
    );
}

#[tokio::test]
async fn clickhouse_answers_over_http() {
    let Some(servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let ch = servers.settings().clickhouse.unwrap();
    // reqwest is built without a default TLS provider; install one for an https URL.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let sql = |q: &'static str| {
        client
            .post(format!("{}/?database={}", ch.url, ch.database))
            .basic_auth(&ch.user, Some(ch.password.expose()))
            .body(q)
            .send()
    };

    let one = sql("SELECT 1").await.expect("reach clickhouse");
    assert!(
        one.status().is_success(),
        "SELECT 1 answered {}",
        one.status()
    );
    assert_eq!(one.text().await.unwrap().trim(), "1");

    let sum = sql("SELECT sum(number) FROM numbers(100)")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(sum.trim(), (0..100u64).sum::<u64>().to_string());
}

#[tokio::test]
async fn bolt_answers_a_parameterized_query_on_the_named_database() {
    let Some(servers) = require_server("NEO4J_URI") else {
        return;
    };
    let neo = servers.settings().neo4j.unwrap();
    let mut config = neo4rs::ConfigBuilder::default()
        .uri(&neo.uri)
        .user(&neo.user)
        .password(neo.password.expose())
        .max_connections(1);
    if let Some(db) = &neo.database {
        config = config.db(db.as_str());
    }
    let graph = neo4rs::Graph::connect(config.build().unwrap()).expect("bolt config");
    let run = async {
        let mut rows = graph
            .execute(neo4rs::query("RETURN 1 AS one, $x + 1 AS y").param("x", 41_i64))
            .await?;
        let row = rows.next().await?.expect("one row");
        Ok::<_, neo4rs::Error>((row.get::<i64>("one").unwrap(), row.get::<i64>("y").unwrap()))
    };
    let (one, y) = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("bolt query timed out")
        .unwrap();
    assert_eq!((one, y), (1, 41 + 1));
}
