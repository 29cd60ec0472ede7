//! Instances starting at once on empty stores load each store once: two openings of the
//! same PostgreSQL and ClickHouse databases (what two `serve` processes do at the start),
//! run together, leave every table with exactly the organisation's rows — counted by SQL
//! in ClickHouse against the same table in PostgreSQL and in a data dir of its own.
//! Dedicated databases, dropped first: PostgreSQL `eng_intel_test_seeding`, ClickHouse
//! `eng_intel_test_seeding`.

use eng_intel::dataset::{self, METRICS, WhenDown};
use eng_intel::settings::Settings;
use eng_intel::store::{self, QueryStore};
use serde_json::Value;

use crate::support::{Vars, drop_clickhouse_database, require_servers};

const DATABASE: &str = "eng_intel_test_seeding";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_on_empty_stores_load_each_once() {
    let Some(_servers) = require_servers(&["POSTGRES_HOST", "CLICKHOUSE_HOST"]) else {
        return;
    };
    let settings = |dir: &std::path::Path| {
        Vars::new()
            .data_dir(dir)
            .env_of(&["POSTGRES_", "CLICKHOUSE_"])
            .set("POSTGRES_DATABASE", DATABASE)
            .set("CLICKHOUSE_DATABASE", DATABASE)
            .settings()
    };
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    let (a, b) = (settings(dirs[0].path()), settings(dirs[1].path()));
    // PostgreSQL emptied and loaded, and each data dir loaded, by openings without
    // ClickHouse first, so both instances reach the empty ClickHouse within milliseconds
    // of each other: what doubled its rows.
    empty_databases(&a).await;
    for settings in [&a, &b] {
        let mut without_clickhouse = settings.clone();
        without_clickhouse.clickhouse = None;
        dataset::open(&without_clickhouse, &|_| {}).await.unwrap();
    }

    let (one, two) = tokio::join!(
        dataset::open_with(&a, WhenDown::Refuse, &|_| {}),
        dataset::open_with(&b, WhenDown::Refuse, &|_| {}),
    );
    let (one, _two) = (one.unwrap(), two.unwrap());

    let ch = store::ClickHouse::connect(a.clickhouse.as_ref().unwrap(), a.store_timeout, METRICS)
        .await
        .unwrap();
    // The organisation alone in a data dir: what each table should hold.
    let own = dataset::open(&Vars::new().data_dir(dirs[2].path()).settings(), &|_| {})
        .await
        .unwrap();
    for table in ["deployments", "incidents", "commits", "meta"] {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        let in_clickhouse = count(&ch, &sql).await;
        let in_postgres = count(one.relational.as_ref(), &sql).await;
        let alone = count(own.metrics.as_ref(), &sql).await;
        assert!(alone > 0, "{table}");
        assert_eq!((in_clickhouse, in_postgres), (alone, alone), "{table}");
    }
}

async fn count(store: &dyn QueryStore, sql: &str) -> i64 {
    let rows = store.query(sql, &Default::default()).await.unwrap();
    match &rows[0]["n"] {
        Value::Number(n) => n.as_i64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("{other}"),
    }
}

/// Drops and creates the PostgreSQL database, drops the ClickHouse one.
async fn empty_databases(settings: &Settings) {
    let mut pg = settings.postgres.clone().unwrap();
    pg.database = "postgres".into();
    let admin = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {DATABASE}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .unwrap();
    }
    drop_clickhouse_database(settings, DATABASE).await;
}
