//! Importing into PostgreSQL + ClickHouse + Bolt gives the same answers as the embedded
//! stores. Needs the servers (`eval "$(bash scripts/servers.sh env)"`); skipped visibly
//! without them. The servers get databases of this test's own (PostgreSQL and ClickHouse
//! `eng_intel_test_import`; Bolt the graph test database, which every graph test reloads).

use std::sync::Arc;

use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};
use eng_intel::toolbox::Toolbox;

use super::{bundle, clone_into, config_for, imported, run_import_with};
use crate::support::{Vars, config, require_servers};

const DATABASE: &str = "eng_intel_test_import";

async fn answer(engine: &Engine, q: &str) -> (Vec<String>, String) {
    let mut tools = Vec::new();
    let mut answer = String::new();
    for e in engine
        .run_collect(RunRequest {
            question: q.into(),
            ..Default::default()
        })
        .await
    {
        match e.event {
            Event::ToolStart { tool, args } => tools.push(format!("{tool} {args}")),
            Event::Response { content } => answer = content,
            _ => {}
        }
    }
    (tools, answer)
}

#[tokio::test]
async fn importing_into_the_servers_answers_as_embedded() {
    let Some(servers) = require_servers(&["CLICKHOUSE_HOST", "NEO4J_URI", "POSTGRES_HOST"]) else {
        return;
    };
    let Some(bundle) = bundle() else { return };
    let Some(embedded) = imported() else { return };
    let dir = tempfile::tempdir().unwrap();
    clone_into(&bundle, dir.path());
    let config_file = config_for(dir.path(), "");
    let data = dir.path().join("data");
    let mut vars = Vars::new()
        .data_dir(&data)
        .env_of(&["POSTGRES_", "CLICKHOUSE_", "NEO4J_"])
        .set("CLICKHOUSE_DATABASE", DATABASE)
        .set("NEO4J_DATABASE", "eng_intel_test_graph");
    if let Some(pg) = servers.settings().postgres {
        let admin = sqlx::PgPool::connect(&pg.url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
        )))
        .execute(&admin)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
            .execute(&admin)
            .await
            .unwrap();
        vars = vars.set("POSTGRES_DATABASE", DATABASE);
    }
    // This test's ClickHouse database starts empty too (servers keep their data between
    // runs), so the first import loads it.
    if let Some(ch) = servers.settings().clickhouse {
        clickhouse::Client::default()
            .with_url(&ch.url)
            .with_user(&ch.user)
            .with_password(ch.password.expose())
            .query(&format!("DROP DATABASE IF EXISTS {DATABASE}"))
            .execute()
            .await
            .unwrap();
    }
    // The shared graph test database holds whatever the last graph test loaded; the demo
    // organisation there makes sure it is not this import, so the import loads it.
    if let Some(mut neo) = servers.settings().neo4j {
        neo.database = Some("eng_intel_test_graph".into());
        let graph = eng_intel::store::Neo4jGraph::connect(&neo, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let demo = eng_intel::dataset::generate(11, 0);
        graph
            .load(&eng_intel::dataset::snapshot(&demo), &|_| {})
            .await
            .unwrap();
    }
    let settings = vars.settings();
    let summary = run_import_with(&config_file, &settings).await;
    let servers_loaded = usize::from(settings.postgres.is_some())
        + usize::from(settings.clickhouse.is_some())
        + usize::from(settings.neo4j.is_some());
    assert_eq!(
        summary.loaded.len(),
        1 + servers_loaded,
        "{:?}",
        summary.loaded
    );
    // A second import changes nothing anywhere.
    let again = run_import_with(&config_file, &settings).await;
    assert!(again.loaded.is_empty(), "{:?}", again.loaded);

    let open = |s: eng_intel::settings::Settings| async move {
        Toolbox::open(&s, &|m| panic!("the import was already loaded, yet: {m}"))
            .await
            .unwrap()
    };
    let on_servers = open(settings.clone()).await;
    let on_embedded = open(Vars::new().data_dir(&embedded.data).settings()).await;
    let a = Engine::new(config(), Arc::new(OfflineModel), on_embedded.tools());
    let b = Engine::new(config(), Arc::new(OfflineModel), on_servers.tools());
    let top = &summary.org.employee(summary.org.commits[0].author_id).name;
    // Collaboration comes from COLLABORATES_WITH on Bolt, from the table embedded.
    let pair = &summary.stats.co_authors[0].0;
    let questions = [
        "Who knows axum-extra best?".to_string(),
        "Which crate depends on one person?".into(),
        "Who are the experts on Rust?".into(),
        "How many employees do we have?".into(),
        "Who owns axum-core?".into(),
        "What are the DORA metrics for axum?".into(),
        format!("What has {top} been working on lately?"),
        format!("How many commits did {top} make in the last 365 days?"),
        format!("Who does {pair} work with most?"),
    ];
    let mut diffs = Vec::new();
    for q in &questions {
        let (e, g) = (answer(&a, q).await, answer(&b, q).await);
        if e != g {
            diffs.push(format!("{q}:\n  embedded {e:?}\n  servers  {g:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));

    let (_, collaborators) = answer(&b, &questions[questions.len() - 1]).await;
    assert!(
        collaborators.contains("works most closely with **"),
        "{collaborators}"
    );

    // ClickHouse holds the collaborations table too, row for row.
    if let Some(mut ch) = servers.settings().clickhouse {
        use eng_intel::store::QueryStore;
        ch.database = DATABASE.into();
        let store = eng_intel::store::ClickHouse::connect(
            &ch,
            std::time::Duration::from_secs(60),
            eng_intel::dataset::METRICS,
        )
        .await
        .unwrap();
        let on_clickhouse: Vec<(i64, i64, String, i64, String)> = store
            .query(
                "SELECT employee_id, other_id, kind, weight, last_at FROM collaborations \
                 ORDER BY employee_id, other_id, kind",
                &eng_intel::store::Params::new(),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let i = |k: &str| r[k].as_i64().unwrap_or_else(|| panic!("{k} in {r:?}"));
                let s = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} in {r:?}"));
                (
                    i("employee_id"),
                    i("other_id"),
                    s("kind").to_string(),
                    i("weight"),
                    s("last_at").to_string(),
                )
            })
            .collect();
        let on_embedded: Vec<(i64, i64, String, i64, String)> = sqlx::query_as(
            "SELECT employee_id, other_id, kind, weight, last_at FROM collaborations \
             ORDER BY employee_id, other_id, kind",
        )
        .fetch_all(&super::db(&embedded.data).await)
        .await
        .unwrap();
        assert!(!on_embedded.is_empty());
        assert_eq!(on_clickhouse.len(), on_embedded.len());
        let first = on_clickhouse
            .iter()
            .zip(&on_embedded)
            .position(|(c, e)| c != e);
        assert_eq!(
            first.map(|i| (&on_clickhouse[i], &on_embedded[i])),
            None,
            "ClickHouse vs embedded"
        );
    }
}
