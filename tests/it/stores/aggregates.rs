//! The delivery builtins' SQL (`toolbox::aggregates` and the anomaly series of
//! `toolbox::anomalies`, per metrics dialect) against the Rust they replaced, kept as the
//! oracle: `analytics::dora::compute`, the weekly lead-time trend and every anomaly series
//! built event by event from the raw rows, read here with plain SELECTs from an embedded
//! copy of the same organisation. Organisations are random (seed and size drawn
//! from a seeded `Rng`; `ENG_INTEL_PROPTEST_SEED` picks another draw), and so are the
//! windows and scopes asked about; the figures must be equal to the last bit, on SQLite
//! always and on PostgreSQL and ClickHouse when their servers are configured.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use eng_intel::analytics::anomaly::{Series, Thresholds};
use eng_intel::analytics::dora::{self, Change, Deploy, IncidentRef, Window};
use eng_intel::compile::CompiledSet;
use eng_intel::dataset::{self, Org, Rng};
use eng_intel::store::{
    Cell, ClickHouse, Metrics, Params, Postgres, QueryStore, Relational, Row, Snapshot, Sqlite,
    Stores,
};
use eng_intel::toolbox::Toolbox;
use eng_intel::toolbox::anomalies::{Metric, report};
use serde_json::{Value, json};

use crate::support::{config, env, require_server};

/// The organisations to try: (seed, employees), drawn from a seeded `Rng`; the first is
/// large enough to have more teams (about one per five people) than an answer lists.
fn organisations(n: usize) -> Vec<(u64, usize)> {
    let seed = env("ENG_INTEL_PROPTEST_SEED").map_or(16, |s| s.parse().expect("a u64 seed"));
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let employees = if i == 0 {
                130
            } else {
                rng.range(18, 90) as usize
            };
            (rng.next_u64() % 10_000, employees)
        })
        .collect()
}

/// The org in an embedded SQLite file: the oracle's rows, and the relational store.
async fn embedded(org: &Org, dir: &std::path::Path) -> Arc<Sqlite> {
    let s = Sqlite::open(&dir.join("org.sqlite"), &dataset::SQLITE_SCHEMA)
        .await
        .unwrap();
    s.load(&dataset::snapshot(org), &|_| {}).await.unwrap();
    Arc::new(s)
}

async fn rows(s: &Sqlite, sql: &str) -> Vec<Row> {
    s.query(sql, &Params::new()).await.unwrap()
}

fn at(r: &Row, k: &str) -> Option<DateTime<Utc>> {
    r.get(k)
        .and_then(Value::as_str)
        .map(|s| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

/// Every production deployment, change and incident of the org with the deployment's
/// team and service, as the oracle takes them.
struct Raw {
    deploys: Vec<(Deploy, String, String)>,
    /// Deployments whose status is `failure` (not merely unsuccessful).
    failures: HashSet<i64>,
    changes: Vec<Change>,
    incidents: Vec<IncidentRef>,
    /// Incidents opened, pull requests merged, commits, completed reviews (with their wait
    /// in hours): the anomaly series' events.
    opened: Vec<Event>,
    merged: Vec<Event>,
    commits: Vec<Event>,
    reviews: Vec<Event>,
    /// The first pull request opened and review requested: where their series may start.
    first_pr: Option<DateTime<Utc>>,
    first_review: Option<DateTime<Utc>>,
}

/// Values with the instant they were observed.
type Timed = Vec<(DateTime<Utc>, f64)>;

/// An event of an anomaly series: when, whose, and its value.
struct Event {
    at: DateTime<Utc>,
    team: String,
    service: String,
    value: f64,
}

/// The events of `sql`, whose columns are `at`, `team`, `service` and optionally `value`;
/// rows without `at` are no event.
async fn events(s: &Sqlite, sql: &str) -> Vec<Event> {
    rows(s, sql)
        .await
        .iter()
        .filter_map(|r| {
            Some(Event {
                at: at(r, "at")?,
                team: r["team"].as_str().unwrap().to_string(),
                service: r["service"].as_str().unwrap().to_string(),
                value: r.get("value").and_then(Value::as_f64).unwrap_or(1.0),
            })
        })
        .collect()
}

async fn earliest(s: &Sqlite, sql: &str) -> Option<DateTime<Utc>> {
    rows(s, sql).await.iter().filter_map(|r| at(r, "at")).min()
}

async fn raw(s: &Sqlite) -> Raw {
    let deploys = rows(
        s,
        "SELECT id, team, service, environment, status, finished_at FROM deployments",
    )
    .await
    .iter()
    .map(|r| {
        let d = Deploy {
            id: r["id"].as_i64().unwrap(),
            production: r["environment"] == "production",
            success: r["status"] == "success",
            finished_at: at(r, "finished_at").unwrap(),
        };
        let name = |k: &str| r[k].as_str().unwrap().to_string();
        (d, name("team"), name("service"))
    })
    .collect();
    let changes = rows(
        s,
        "SELECT deployment_id, first_commit_at FROM pull_requests WHERE deployment_id IS NOT NULL",
    )
    .await
    .iter()
    .map(|r| Change {
        deployment_id: r["deployment_id"].as_i64().unwrap(),
        first_commit_at: at(r, "first_commit_at").unwrap(),
    })
    .collect();
    let incidents = rows(s, "SELECT deployment_id, resolved_at FROM incidents")
        .await
        .iter()
        .map(|r| IncidentRef {
            deployment_id: r["deployment_id"].as_i64(),
            resolved_at: at(r, "resolved_at"),
        })
        .collect();
    let failures = rows(s, "SELECT id, status FROM deployments")
        .await
        .iter()
        .filter(|r| r["status"] == "failure")
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    Raw {
        deploys,
        failures,
        changes,
        incidents,
        opened: events(s, "SELECT opened_at AS at, team, service FROM incidents").await,
        merged: events(
            s,
            "SELECT merged_at AS at, team, service FROM pull_requests",
        )
        .await,
        commits: events(s, "SELECT authored_at AS at, team, service FROM commits").await,
        reviews: events(
            s,
            "SELECT requested_at AS at, reviewer_team AS team, service, wait_hours AS value \
             FROM pr_reviews WHERE reviewed_at IS NOT NULL AND wait_hours IS NOT NULL",
        )
        .await,
        first_pr: earliest(s, "SELECT opened_at AS at FROM pull_requests").await,
        first_review: earliest(s, "SELECT requested_at AS at FROM pr_reviews").await,
    }
}

impl Raw {
    /// The deployments in scope (a team or a service, or all).
    fn scoped(&self, team: Option<&str>, service: Option<&str>) -> Vec<Deploy> {
        self.deploys
            .iter()
            .filter(|(_, t, s)| team.is_none_or(|x| x == t) && service.is_none_or(|x| x == s))
            .map(|(d, _, _)| d.clone())
            .collect()
    }

    /// DORA as `analytics::dora::compute` gives it over every row.
    fn dora(&self, w: Window, team: Option<&str>, service: Option<&str>) -> Value {
        let d = self.scoped(team, service);
        serde_json::to_value(dora::compute(w, &d, &self.changes, &self.incidents)).unwrap()
    }

    /// The lead-time trend as the Rust builtin computed it before the database did.
    fn trend(&self, w: Window, recent_start: DateTime<Utc>, team: Option<&str>) -> Value {
        let mut by_team: BTreeMap<String, Vec<Deploy>> = BTreeMap::new();
        for (d, t, _) in &self.deploys {
            if d.production && w.contains(d.finished_at) && team.is_none_or(|x| x == t) {
                by_team.entry(t.clone()).or_default().push(d.clone());
            }
        }
        let mut teams = Vec::new();
        for (team, ds) in &by_team {
            let finished: HashMap<i64, DateTime<Utc>> = ds
                .iter()
                .filter(|d| d.success)
                .map(|d| (d.id, d.finished_at))
                .collect();
            let ids: HashSet<i64> = ds.iter().map(|d| d.id).collect();
            let mine: Vec<Change> = self
                .changes
                .iter()
                .filter(|c| ids.contains(&c.deployment_id))
                .cloned()
                .collect();
            let (mut recent, mut earlier) = (Vec::new(), Vec::new());
            for x in &mine {
                if let Some(f) = finished.get(&x.deployment_id) {
                    let h = (*f - x.first_commit_at).num_seconds() as f64 / 3600.0;
                    if *f >= recent_start {
                        recent.push(h)
                    } else {
                        earlier.push(h)
                    }
                }
            }
            let (r, e) = (dora::median(recent), dora::median(earlier));
            let (ratio, trend) = dora::trend(r, e);
            let weekly: Vec<Value> = dora::weekly_lead_time(w, ds, &mine)
                .into_iter()
                .map(|(week, m, n)| json!({"week": week.format("%Y-%m-%d").to_string(), "median_hours": m, "changes": n}))
                .collect();
            teams.push(json!({
                "team": team, "recent_median_hours": r, "earlier_median_hours": e,
                "change_ratio": ratio, "trend": trend, "weekly": weekly,
            }));
        }
        teams.sort_by(|a, b| {
            let k = |v: &Value| v["change_ratio"].as_f64().unwrap_or(f64::MIN);
            k(b).total_cmp(&k(a))
        });
        // Weeks are read for the teams an answer can list.
        for t in teams.iter_mut().skip(eng_intel::core::SHOWN_ROWS) {
            t.as_object_mut().unwrap().remove("weekly");
        }
        let degrading: Vec<Value> = teams
            .iter()
            .filter(|t| t["trend"] == "degrading")
            .map(|t| t["team"].clone())
            .collect();
        json!({"teams": teams, "degrading": degrading})
    }
}

impl Raw {
    /// The daily series `metric_anomalies` scores over the last `days` before `now`, built
    /// event by event as the builtin did before the database grouped it.
    fn series(
        &self,
        metric: Metric,
        now: DateTime<Utc>,
        days: i64,
        team: Option<&str>,
        service: Option<&str>,
    ) -> Series {
        let mine = |t: &str, s: &str| team.is_none_or(|x| x == t) && service.is_none_or(|x| x == s);
        let production = || self.deploys.iter().filter(|(d, ..)| d.production);
        let shipped: HashMap<i64, DateTime<Utc>> = production()
            .filter(|(d, t, s)| d.success && mine(t, s))
            .map(|(d, ..)| (d.id, d.finished_at))
            .collect();
        let caused: HashSet<i64> = self
            .incidents
            .iter()
            .filter_map(|i| i.deployment_id)
            .collect();
        let of = |es: &[Event]| -> Timed {
            es.iter()
                .filter(|e| mine(&e.team, &e.service))
                .map(|e| (e.at, e.value))
                .collect()
        };
        let (first, events): (Option<DateTime<Utc>>, Timed) = match metric {
            Metric::Commits => (self.commits.iter().map(|e| e.at).min(), of(&self.commits)),
            Metric::MergedPrs => (self.first_pr, of(&self.merged)),
            Metric::ReviewWaitHours => (self.first_review, of(&self.reviews)),
            Metric::Incidents => (
                production().map(|(d, ..)| d.finished_at).min(),
                of(&self.opened),
            ),
            _ => {
                let events = match metric {
                    Metric::Deployments => shipped.values().map(|&f| (f, 1.0)).collect(),
                    Metric::ChangeFailureRate => shipped
                        .iter()
                        .map(|(id, &f)| (f, f64::from(u8::from(caused.contains(id)))))
                        .collect(),
                    Metric::FailedDeployments => production()
                        .filter(|(d, t, s)| self.failures.contains(&d.id) && mine(t, s))
                        .map(|(d, ..)| (d.finished_at, 1.0))
                        .collect(),
                    _ => self
                        .changes
                        .iter()
                        .filter_map(|c| {
                            let f = *shipped.get(&c.deployment_id)?;
                            Some((f, (f - c.first_commit_at).num_seconds() as f64 / 3600.0))
                        })
                        .collect(),
                };
                (production().map(|(d, ..)| d.finished_at).min(), events)
            }
        };
        let today = now.date_naive();
        let mut start = today - chrono::Duration::days(days.max(1));
        if let Some(first) = first {
            start = start.max(first.date_naive());
        }
        let mut series = Series::new(metric.kind(), start, today);
        for (t, value) in events {
            if t >= midnight(start) && t < now {
                series.add(t.date_naive(), value);
            }
        }
        series
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// Asks `dora_metrics` and `lead_time_trend` about random windows and scopes of `org`
/// through `metrics`, and compares every answer with the oracle's; returns the number
/// of questions asked.
async fn check(
    set: &CompiledSet,
    org: &Org,
    oracle: &Raw,
    relational: Arc<Sqlite>,
    metrics: Arc<dyn Metrics>,
    rng: &mut Rng,
) -> usize {
    let backend = metrics.backend();
    let stores = Stores::assemble(relational as Arc<dyn Relational>, metrics)
        .await
        .unwrap();
    let tools = Toolbox::new(stores).await.unwrap().tools();
    let tool = |n: &str| {
        set.tool(n)
            .unwrap_or_else(|| panic!("no tool {n}"))
            .as_ref()
    };
    let now = org.as_of.unwrap_or_else(dataset::as_of);
    let start = dataset::history_start().date_naive();
    let mut asked = 0;
    for _ in 0..6 {
        let team = rng.chance(0.5).then(|| rng.pick(&org.teams).name.clone());
        let service =
            (team.is_none() && rng.chance(0.4)).then(|| rng.pick(&org.services).name.clone());
        let mut args = json!({"team": team, "service": service});
        // Half the windows are the last `days`, half explicit days anywhere in the history.
        let w = if rng.chance(0.5) {
            let days = rng.range(1, 365);
            args["days"] = json!(days);
            Window::last_days(now, days)
        } else {
            let first = start + chrono::Duration::days(rng.range(0, 170));
            let last = first + chrono::Duration::days(rng.range(0, 60));
            args["since"] = json!(day(first));
            args["until"] = json!(day(last));
            Window {
                start: midnight(first),
                end: midnight(last) + chrono::Duration::days(1),
            }
        };
        let mut got = tools.call(tool("dora_metrics"), &args).await.unwrap();
        let got = got.as_object_mut().unwrap();
        got.remove("scope");
        got.remove("window");
        let expected = oracle.dora(w, team.as_deref(), service.as_deref());
        assert_eq!(
            Value::Object(got.clone()),
            expected,
            "dora_metrics on {backend}, org seed {}, args {args}",
            org.seed
        );

        let weeks = rng.range(4, 26);
        let args = json!({"team": team, "weeks": weeks});
        let got = tools.call(tool("lead_time_trend"), &args).await.unwrap();
        let w = Window::last_days(now, weeks * 7);
        let expected = oracle.trend(w, now - chrono::Duration::weeks(3), team.as_deref());
        assert_eq!(
            (&got["teams"], &got["degrading"]),
            (&expected["teams"], &expected["degrading"]),
            "lead_time_trend on {backend}, org seed {}, args {args}",
            org.seed
        );
        let metric = *rng.pick(&Metric::ALL);
        let days = rng.range(28, 400);
        let sensitivity = *rng.pick(&["low", "medium", "high"]);
        let args = json!({"metric": metric.name(), "team": team, "service": service,
            "days": days, "sensitivity": sensitivity});
        let got = tools.call(tool("metric_anomalies"), &args).await.unwrap();
        let p = args.as_object().unwrap().clone();
        let th = Thresholds::for_sensitivity(sensitivity).unwrap();
        let series = oracle.series(metric, now, days, team.as_deref(), service.as_deref());
        assert_eq!(
            got,
            report(metric, &p, sensitivity, th, &series),
            "metric_anomalies on {backend}, org seed {}, args {args}",
            org.seed
        );
        asked += 3;
    }
    asked
}

#[tokio::test]
async fn delivery_sql_on_sqlite_gives_the_rust_oracle_s_figures() {
    let set = config();
    let mut rng = Rng::new(1);
    let mut asked = 0;
    for (seed, employees) in organisations(5) {
        let org = dataset::generate(seed, employees);
        let dir = tempfile::tempdir().unwrap();
        let s = embedded(&org, dir.path()).await;
        let oracle = raw(&s).await;
        asked += check(&set, &org, &oracle, s.clone(), s, &mut rng).await;
    }
    assert_eq!(asked, 90);
}

#[tokio::test]
async fn delivery_sql_on_postgres_gives_the_rust_oracle_s_figures() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let mut settings = servers.settings().postgres.unwrap();
    settings.database = create_database(&settings, "eng_intel_test_aggregates").await;
    let set = config();
    let mut rng = Rng::new(2);
    for (seed, employees) in organisations(2) {
        let org = dataset::generate(seed, employees);
        let dir = tempfile::tempdir().unwrap();
        let s = embedded(&org, dir.path()).await;
        let oracle = raw(&s).await;
        let pg = Postgres::connect(&settings, &dataset::POSTGRES_SCHEMA)
            .await
            .unwrap();
        pg.load(&dataset::snapshot(&org), &|_| {}).await.unwrap();
        check(&set, &org, &oracle, s, Arc::new(pg), &mut rng).await;
    }
}

#[tokio::test]
async fn delivery_sql_on_clickhouse_gives_the_rust_oracle_s_figures() {
    let Some(servers) = require_server("CLICKHOUSE_HOST") else {
        return;
    };
    let mut settings = servers.settings().clickhouse.unwrap();
    settings.database = "eng_intel_test_aggregates".into();
    let set = config();
    let mut rng = Rng::new(3);
    for (i, (seed, employees)) in organisations(2).into_iter().enumerate() {
        let org = dataset::generate(seed, employees);
        let dir = tempfile::tempdir().unwrap();
        let s = embedded(&org, dir.path()).await;
        let oracle = raw(&s).await;
        let ch = ClickHouse::connect(&settings, Duration::from_secs(60), dataset::METRICS)
            .await
            .unwrap();
        // The second as a load from before the derived columns left the tables: those
        // columns empty, and no `derived_columns` in `meta` (the statements join).
        let snapshot = match i {
            0 => dataset::snapshot(&org),
            _ => before_derived_columns(dataset::snapshot(&org)),
        };
        ch.load(&snapshot, &|_| {}).await.unwrap();
        check(&set, &org, &oracle, s, Arc::new(ch), &mut rng).await;
    }
}

/// `s` without the columns a load derives from other tables: NULL in every row, and not
/// said in `meta`.
fn before_derived_columns(mut s: Snapshot<'_>) -> Snapshot<'_> {
    let derived: Vec<&str> = dataset::DERIVED_COLUMNS.split(' ').collect();
    for t in &mut s.tables {
        let blank: Vec<usize> = (t.def.columns.iter().enumerate())
            .filter(|(_, (c, _))| derived.contains(&format!("{}.{c}", t.def.name).as_str()))
            .map(|(i, _)| i)
            .collect();
        if blank.is_empty() {
            continue;
        }
        let row = std::mem::replace(&mut t.row, Box::new(|_| Vec::new()));
        t.row = Box::new(move |i| {
            let mut cells = row(i);
            for &c in &blank {
                cells[c] = match cells[c] {
                    Cell::Int(_) => Cell::Int(None),
                    Cell::Real(_) => Cell::Real(None),
                    Cell::Text(_) => Cell::Text(None),
                };
            }
            cells
        });
    }
    s.meta.retain(|(k, _)| *k != "derived_columns");
    s
}

/// A database of the test's own on the shared server (created when missing): its name,
/// `name` and a fingerprint of this build's PostgreSQL migrations. The server keeps its
/// databases between runs, and a database migrated by another branch's schema (another
/// migration under the same version number) would otherwise stay behind, missing tables.
pub(super) async fn create_database(
    settings: &eng_intel::settings::Postgres,
    name: &str,
) -> String {
    use sqlx::Connection;
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for m in dataset::POSTGRES_SCHEMA.iter() {
        (m.version, &m.checksum[..]).hash(&mut h);
    }
    let name = &format!("{name}_{:08x}", h.finish() as u32);
    let mut conn = sqlx::PgConnection::connect(&settings.url()).await.unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    name.to_string()
}
