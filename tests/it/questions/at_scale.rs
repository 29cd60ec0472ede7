//! Answers over a large organisation (200 employees: about 40 teams and 80 services) list
//! the first 20 rows in the answer's own order and say how many more there are, while
//! their totals still count every row. The expected rows and counts are computed by SQL
//! over the same SQLite file.

use std::sync::Arc;

use eng_intel::dataset::{self, DEFAULT_SEED};
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::Engine;
use eng_intel::store::{Params, QueryStore, Row, Sqlite};
use serde_json::Value;

use super::ask;
use crate::support::{assembled, config};

async fn rows(s: &Sqlite, sql: &str) -> Vec<Row> {
    s.query(sql, &Params::new())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn text(r: &Row, k: &str) -> String {
    match &r[k] {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The lines of a Markdown list of names in bold ("- **name** …").
fn listed(answer: &str) -> Vec<&str> {
    answer.lines().filter(|l| l.starts_with("- **")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_a_large_organisation_list_twenty_rows_and_count_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let org = dataset::generate(DEFAULT_SEED, 200);
    let s = Arc::new(
        Sqlite::open(&dir.path().join("org.sqlite"), &dataset::SQLITE_SCHEMA)
            .await
            .unwrap(),
    );
    s.load(&dataset::snapshot(&org), &|_| {}).await.unwrap();
    let toolbox = assembled(s.clone(), s.clone()).await;
    let engine = Engine::new(config(), Arc::new(OfflineModel), toolbox.tools());
    let now = text(
        &rows(&s, "SELECT value FROM meta WHERE key = 'as_of'").await[0],
        "value",
    );
    let since = |days: i64| {
        let t = chrono::DateTime::parse_from_rfc3339(&now).unwrap() - chrono::Duration::days(days);
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    };

    // CI per service, flakiest first: the first 20 services in that order, then the rest counted.
    let o = ask(&engine, "Which ci pipelines are flakiest?").await;
    assert_eq!(o.calls[0].0, "ci_health", "{:?}", o.calls);
    let flakiest = rows(
        &s,
        &format!(
            "SELECT service, team, SUM(status = 'failure') AS failures, COUNT(*) AS runs FROM ci_runs \
             WHERE started_at >= '{}' AND started_at < '{now}' GROUP BY service, team \
             ORDER BY 1.0 * SUM(status = 'failure') / COUNT(*) DESC, service",
            since(30)
        ),
    )
    .await;
    assert!(
        flakiest.len() > 25,
        "only {} services ran CI",
        flakiest.len()
    );
    let shown = listed(&o.answer);
    assert_eq!(shown.len(), 20, "{}", o.answer);
    for (line, r) in shown.iter().zip(&flakiest) {
        let expected = format!(
            "- **{}** ({}): {} of {} runs failed",
            text(r, "service"),
            text(r, "team"),
            text(r, "failures"),
            text(r, "runs")
        );
        assert!(
            line.starts_with(&expected),
            "{line:?}, expected {expected:?}"
        );
    }
    let more = format!("- … and {} more services", flakiest.len() - 20);
    assert!(o.answer.contains(&more), "lacks {more:?}:\n{}", o.answer);

    // Incidents per team: the total counts every team, the list shows 20 of them.
    let o = ask(
        &engine,
        "How many incidents did each team have in the last 365 days?",
    )
    .await;
    assert_eq!(o.calls[0].0, "incident_stats", "{:?}", o.calls);
    let teams = rows(
        &s,
        &format!(
            "SELECT team, COUNT(*) AS n FROM incidents WHERE opened_at >= '{}' AND opened_at < '{now}' \
             GROUP BY team ORDER BY n DESC, team",
            since(365)
        ),
    )
    .await;
    assert!(teams.len() > 25, "only {} teams had incidents", teams.len());
    let all: i64 = teams.iter().map(|r| r["n"].as_i64().unwrap()).sum();
    let total = format!("{all} incidents in the last 365 days");
    assert!(o.answer.contains(&total), "lacks {total:?}:\n{}", o.answer);
    let shown = listed(&o.answer);
    assert_eq!(shown.len(), 20, "{}", o.answer);
    for (line, r) in shown.iter().zip(&teams) {
        let expected = format!("- **{}**: {} incident", text(r, "team"), text(r, "n"));
        assert!(
            line.starts_with(&expected),
            "{line:?}, expected {expected:?}"
        );
    }
    let more = format!("- … and {} more teams", teams.len() - 20);
    assert!(o.answer.contains(&more), "lacks {more:?}:\n{}", o.answer);
}
