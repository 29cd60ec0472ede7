//! `store::ClickHouse` against a real server (scripts/servers.sh): the same rows as the
//! embedded SQLite metrics, which serve as the expected values. (The builtin tools over
//! ClickHouse are compared with the embedded stores by `stores::backends`.) Uses its own
//! database, whose contents it replaces.

use std::time::Duration;

use eng_intel::dataset;
use eng_intel::store::{ClickHouse, Params, QueryStore, Sqlite, timestamp};
use serde_json::Value;

use crate::support::require_server;

#[tokio::test]
async fn answers_like_the_embedded_metrics_store() {
    let Some(servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let mut settings = servers.settings().clickhouse.unwrap();
    settings.database = "eng_intel_test_metrics".into();
    let org = dataset::generate(7, 0);
    let data = dataset::snapshot(&org);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Sqlite::open(&dir.path().join("m.sqlite"), &dataset::SQLITE_SCHEMA)
        .await
        .unwrap();
    sqlite.load(&data, &|_| {}).await.unwrap();
    let ch = ClickHouse::connect(&settings, Duration::from_secs(30), dataset::METRICS)
        .await
        .unwrap();
    // Empty `meta` with the server's own client: the store has no door for raw statements.
    clickhouse::Client::default()
        .with_url(&settings.url)
        .with_user(&settings.user)
        .with_password(settings.password.expose())
        .with_database(&settings.database)
        .query("TRUNCATE TABLE meta")
        .execute()
        .await
        .unwrap();
    assert!(!ch.is_loaded().await.unwrap());
    // Twice: a re-run replaces, never duplicates.
    ch.load(&data, &|_| {}).await.unwrap();
    ch.load(&data, &|_| {}).await.unwrap();
    assert!(ch.is_loaded().await.unwrap());

    let now = dataset::as_of();
    let mut p = Params::new();
    p.insert("now".into(), timestamp(now).into());
    p.insert(
        "since".into(),
        timestamp(now - chrono::Duration::days(60)).into(),
    );
    p.insert("team".into(), Value::Null);
    p.insert("service".into(), Value::Null);
    let queries = [
        "SELECT COUNT(*) AS n, SUM(additions) AS added, MIN(authored_at) AS first FROM commits",
        "SELECT author, COUNT(*) AS n FROM commits WHERE authored_at >= :since AND (:team IS NULL OR team = :team) \
         GROUP BY author ORDER BY n DESC, author LIMIT 8",
        "SELECT id, reviewer, wait_hours, reviewed_at FROM pr_reviews ORDER BY id LIMIT 40",
        "SELECT i.id, i.severity, d.environment, i.resolution_hours FROM incidents i LEFT JOIN deployments d ON d.id = i.deployment_id \
         ORDER BY i.id",
        "SELECT team, AVG(duration_s) AS avg_s, COUNT(*) AS runs FROM ci_runs WHERE started_at >= :since GROUP BY team ORDER BY team",
    ];
    for q in queries {
        let expected = sqlite.query(q, &p).await.unwrap();
        assert!(!expected.is_empty(), "no rows to compare for {q}");
        assert_eq!(ch.query(q, &p).await.unwrap(), expected, "{q}");
    }

    let err = ch.query("SELECT nope FROM commits", &p).await.unwrap_err();
    assert!(
        !err.retryable && err.message.contains("nope"),
        "{}",
        err.message
    );
}
