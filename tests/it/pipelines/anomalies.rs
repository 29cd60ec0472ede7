//! `metric_anomalies`: the detection measured on synthetic series with planted anomalies
//! (precision, recall, false alarms on clean series), then the tool on the demo
//! organisation — it finds the planted failing week and Payments' degrading lead time and
//! stays quiet on clean series — and, with the servers of scripts/servers.sh, the same
//! answers from ClickHouse and PostgreSQL as from SQLite.
//!
//! `cargo test --test it anomalies -- --nocapture` prints the figures.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use eng_intel::analytics::anomaly::{Anomaly, Direction, Granularity, Series, Thresholds, detect};
use eng_intel::compile::CompiledSet;
use eng_intel::dataset::{self, Rng};
use eng_intel::store::{Postgres, Stores};
use eng_intel::toolbox::Toolbox;
use serde_json::{Value, json};

use crate::support::{Vars, config as project, demo_stores, require_servers};

// ── Synthetic series ─────────────────────────────────────────────────────────────────

const WEEKS: usize = 26;
/// Workday levels with room for planted drops and spikes of 6–9 noise units.
const BUSY: (f64, f64) = (8.0, 60.0);
/// From a failure every few weeks to a busy repository.
const ALL_LEVELS: (f64, f64) = (0.1, 60.0);
/// Workdays busy, weekends nearly idle, Friday quieter: the shape of delivery metrics.
const WEEKDAY: [f64; 7] = [1.0, 1.1, 1.05, 1.0, 0.8, 0.12, 0.05];

fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 6).unwrap()
}

fn poisson(rng: &mut Rng, mean: f64) -> f64 {
    // Knuth's method on slices of at most 25, so that e^-mean does not underflow.
    let mut left = mean.max(0.0);
    let mut k = 0u32;
    while left > 0.0 {
        let part = left.min(25.0);
        left -= part;
        let limit = (-part).exp();
        let mut p = rng.f64();
        while p > limit {
            k += 1;
            p *= rng.f64();
        }
    }
    f64::from(k)
}

/// The count scale the detector scores on (Poisson noise has unit spread there).
fn anscombe(x: f64) -> f64 {
    2.0 * (x + 0.375).sqrt()
}

fn from_anscombe(t: f64) -> f64 {
    ((t / 2.0).powi(2) - 0.375).max(0.0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Plant {
    granularity: Granularity,
    /// Day index (day plants) or week index (week plants).
    at: usize,
    direction: Direction,
}

/// A daily count series: a level in `levels` on workdays with the weekday pattern, a gentle
/// trend (±10 % over the half year) and Poisson noise. With `magnitude` (noise units on the
/// count scale), it gets three single-day plants in distinct weeks (a spike, or a drop where
/// the day is busy enough to fall that far) and one week shifted as a whole.
fn synthetic(
    seed: u64,
    levels: (f64, f64),
    magnitude: Option<(f64, f64)>,
) -> (Vec<f64>, Vec<Plant>) {
    let mut rng = Rng::new(seed);
    // Log-uniform, so that sparse series (failures, incidents) are as common as busy ones.
    let level = (levels.0.ln() + (levels.1 / levels.0).ln() * rng.f64()).exp();
    let trend = 0.2 * rng.f64() - 0.1;
    let days = WEEKS * 7;
    let mean: Vec<f64> = (0..days)
        .map(|d| level * WEEKDAY[d % 7] * (1.0 + trend * d as f64 / days as f64))
        .collect();
    let mut x: Vec<f64> = mean.iter().map(|&m| poisson(&mut rng, m)).collect();
    let mut plants = Vec::new();
    let Some((lo, hi)) = magnitude else {
        return (x, plants);
    };
    let weeks = rng.sample(WEEKS, 4);
    for &w in &weeks[..3] {
        let d = w * 7 + rng.range(0, 4) as usize;
        let delta = lo + (hi - lo) * rng.f64();
        let drop = rng.chance(0.5) && anscombe(mean[d]) - delta >= anscombe(0.0);
        x[d] = if drop {
            from_anscombe(anscombe(mean[d]) - delta).round()
        } else {
            from_anscombe(anscombe(mean[d]) + delta).round()
        };
        plants.push(Plant {
            granularity: Granularity::Day,
            at: d,
            direction: if drop {
                Direction::Drop
            } else {
                Direction::Spike
            },
        });
    }
    let w = weeks[3];
    let delta = lo + (hi - lo) * rng.f64();
    let total: f64 = mean[w * 7..w * 7 + 7].iter().sum();
    let up = rng.chance(0.5);
    let factor = (1.0 + if up { delta } else { -delta } / total.sqrt()).max(0.0);
    for d in w * 7..w * 7 + 7 {
        x[d] = poisson(&mut rng, mean[d] * factor);
    }
    plants.push(Plant {
        granularity: Granularity::Week,
        at: w,
        direction: if up {
            Direction::Spike
        } else {
            Direction::Drop
        },
    });
    (x, plants)
}

fn day_index(a: &Anomaly) -> usize {
    (a.period - monday()).num_days() as usize
}

/// Whether a reported anomaly is explained by a plant: it is the planted day or week, or
/// its period holds one (a planted day moves its week; a planted week holds its days).
fn explained(a: &Anomaly, plants: &[Plant]) -> bool {
    let (first, last) = (
        day_index(a),
        day_index(a) + (a.end - a.period).num_days() as usize,
    );
    plants.iter().any(|p| {
        let (p_first, p_last) = match p.granularity {
            Granularity::Week => (p.at * 7, p.at * 7 + 6),
            _ => (p.at, p.at),
        };
        p_first <= last && first <= p_last
    })
}

/// Whether a plant was reported at its own granularity, in its direction.
fn recalled(p: &Plant, found: &[Anomaly]) -> bool {
    found.iter().any(|a| {
        a.granularity == p.granularity
            && a.direction == p.direction
            && match p.granularity {
                Granularity::Week => day_index(a) == p.at * 7,
                _ => day_index(a) == p.at,
            }
    })
}

struct Figures {
    precision: f64,
    recall_days: f64,
    recall_weeks: f64,
    recall: f64,
}

fn measure(seeds: std::ops::Range<u64>, magnitude: (f64, f64)) -> Figures {
    let (mut tp, mut fp) = (0usize, 0usize);
    let (mut days, mut days_found, mut weeks, mut weeks_found) = (0, 0, 0, 0);
    for seed in seeds {
        let (x, plants) = synthetic(seed, BUSY, Some(magnitude));
        let found = detect(&Series::counts(monday(), &x), Thresholds::default()).anomalies;
        for a in &found {
            if explained(a, &plants) {
                tp += 1
            } else {
                fp += 1
            }
        }
        for p in &plants {
            let hit = recalled(p, &found);
            match p.granularity {
                Granularity::Week => {
                    (weeks, weeks_found) = (weeks + 1, weeks_found + usize::from(hit))
                }
                _ => (days, days_found) = (days + 1, days_found + usize::from(hit)),
            }
        }
    }
    Figures {
        precision: tp as f64 / (tp + fp).max(1) as f64,
        recall_days: days_found as f64 / days as f64,
        recall_weeks: weeks_found as f64 / weeks as f64,
        recall: (days_found + weeks_found) as f64 / (days + weeks) as f64,
    }
}

#[test]
fn planted_anomalies_are_found_with_high_precision_and_recall() {
    // Plants 6–9 noise units from the usual value; 200 series, 800 plants.
    let f = measure(0..200, (6.0, 9.0));
    println!(
        "200 synthetic series, plants of 6–9 noise units: precision {:.3}, recall {:.3} (days {:.3}, weeks {:.3})",
        f.precision, f.recall, f.recall_days, f.recall_weeks
    );
    for lo in [3.0, 4.0, 5.0, 6.0, 7.0, 8.0] {
        let g = measure(1000..1200, (lo, lo + 1.0));
        println!(
            "  plants of {lo}–{} units: precision {:.3}, recall days {:.3}, weeks {:.3}",
            lo + 1.0,
            g.precision,
            g.recall_days,
            g.recall_weeks
        );
    }
    assert!(f.precision >= 0.9, "precision {:.3}", f.precision);
    assert!(f.recall >= 0.9, "recall {:.3}", f.recall);
    assert!(
        f.recall_days >= 0.9 && f.recall_weeks >= 0.9,
        "days {:.3}, weeks {:.3}",
        f.recall_days,
        f.recall_weeks
    );
}

#[test]
fn clean_series_rarely_raise_an_alarm() {
    // Sparse to busy: 0.1 to 60 a workday.
    let series = 400;
    let mut alarmed = 0;
    let mut alarms = 0;
    for seed in 5000..5000 + series {
        let (x, _) = synthetic(seed, ALL_LEVELS, None);
        let found = detect(&Series::counts(monday(), &x), Thresholds::default()).anomalies;
        alarmed += usize::from(!found.is_empty());
        alarms += found.len();
    }
    let rate = alarmed as f64 / series as f64;
    println!(
        "{series} clean series: {alarmed} with an alarm ({:.1} %), {alarms} alarms in all ({:.3} per series)",
        100.0 * rate,
        alarms as f64 / series as f64
    );
    assert!(
        rate <= 0.08,
        "{alarmed} of {series} clean series raised an alarm"
    );
}

#[test]
fn sensitivity_moves_the_thresholds() {
    let low = Thresholds::for_sensitivity("low").unwrap();
    let high = Thresholds::for_sensitivity("high").unwrap();
    let medium = Thresholds::default();
    assert!(low.week > medium.week && medium.week > high.week);
    assert!(
        medium.day > medium.week,
        "days are tested seven times as often"
    );
    assert_eq!(Thresholds::for_sensitivity("extreme"), None);
    // A moderate spike: found at high sensitivity, and at the others exactly when its
    // score reaches their day threshold.
    let (mut x, _) = synthetic(77, BUSY, None);
    let d = 7 * 13 + 2;
    let mut usual: Vec<f64> = (0..WEEKS)
        .filter(|w| w * 7 + 2 != d)
        .map(|w| x[w * 7 + 2])
        .collect();
    usual.sort_by(f64::total_cmp);
    x[d] = from_anscombe(anscombe(usual[usual.len() / 2]) + 4.5).round();
    let score = |th: Thresholds| {
        detect(&Series::counts(monday(), &x), th)
            .anomalies
            .iter()
            .find(|a| a.granularity == Granularity::Day && day_index(a) == d)
            .map(|a| a.score)
    };
    let z = score(high).expect("found at high sensitivity");
    assert!(z < low.day, "a moderate spike, not {z}");
    assert_eq!(score(low), None);
    assert_eq!(score(medium).is_some(), z >= medium.day);
}

// ── The demo organisation ────────────────────────────────────────────────────────────

async fn anomalies(stores: &Toolbox, set: &CompiledSet, args: Value) -> Value {
    let tool = set.tool("metric_anomalies").unwrap();
    let out = stores
        .tools()
        .call(tool, &args)
        .await
        .unwrap_or_else(|e| panic!("metric_anomalies {args}: {}", e.message));
    let list: Vec<String> = out["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} vs {} (z {}, {})",
                a["label"], a["direction"], a["value"], a["expected"], a["score"], a["severity"]
            )
        })
        .collect();
    println!(
        "{args}: {} — {}",
        out["scope"],
        if list.is_empty() {
            "none".into()
        } else {
            list.join("; ")
        }
    );
    out
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// (start, last day, direction) of each anomaly.
fn periods(out: &Value) -> Vec<(NaiveDate, NaiveDate, String, String)> {
    out["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                date(a["period"].as_str().unwrap()),
                date(a["end"].as_str().unwrap()),
                a["direction"].as_str().unwrap().to_string(),
                a["granularity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_demo_plants_are_found_and_clean_series_stay_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let set = project();
    // Planted: the week of 12 May 2025 (week 19 of the history) fails 60 % of production
    // deployments; Payments' lead time degrades over the last 6 weeks (docs/DATA.md).
    let failing = dataset::history_start().date_naive() + Duration::weeks(19);
    assert_eq!(failing, date("2025-05-12"));
    let failing_days = failing..=failing + Duration::days(6);
    let last_six = dataset::as_of().date_naive() - Duration::weeks(6);

    let out = anomalies(&stores, &set, json!({"metric": "failed_deployments"})).await;
    assert_eq!(
        out["window"],
        json!({"start": "2024-12-30", "end": "2025-06-29", "days": 182, "weeks": 26})
    );
    let top = &out["anomalies"][0];
    assert_eq!(
        (
            &top["granularity"],
            &top["period"],
            &top["direction"],
            &top["severity"]
        ),
        (
            &json!("week"),
            &json!("2025-05-12"),
            &json!("spike"),
            &json!("high")
        ),
        "{out}"
    );
    assert!(
        periods(&out)
            .iter()
            .all(|(s, e, _, _)| failing_days.contains(s) && failing_days.contains(e)),
        "only the failing week is unusual: {out}"
    );
    for team in ["Platform", "Mobile"] {
        let out = anomalies(
            &stores,
            &set,
            json!({"metric": "failed_deployments", "team": team}),
        )
        .await;
        assert!(
            periods(&out)
                .iter()
                .any(|(s, _, d, _)| *s == failing && d == "spike"),
            "{out}"
        );
    }

    let out = anomalies(&stores, &set, json!({"metric": "change_failure_rate"})).await;
    let p = periods(&out);
    assert!(
        p.iter()
            .any(|(s, _, d, g)| *s == failing && d == "spike" && g == "week"),
        "{out}"
    );
    assert!(
        p.iter().all(|(s, _, _, _)| failing_days.contains(s)),
        "{out}"
    );

    // Payments: the lead time rises over the last weeks, and nothing before them is unusual.
    let out = anomalies(
        &stores,
        &set,
        json!({"metric": "lead_time_hours", "team": "Payments"}),
    )
    .await;
    let p = periods(&out);
    assert!(!p.is_empty(), "{out}");
    assert!(
        p.iter().all(|(s, _, d, _)| *s >= last_six && d == "spike"),
        "{out}"
    );
    assert!(
        p.iter().any(|(_, _, _, g)| g == "recent_weeks"),
        "a sustained rise: {out}"
    );
    // Its cause, reviews waiting longer, and its other face, fewer deployments.
    let out = anomalies(
        &stores,
        &set,
        json!({"metric": "review_wait_hours", "team": "Payments"}),
    )
    .await;
    let p = periods(&out);
    assert!(
        !p.is_empty() && p.iter().all(|(s, _, d, _)| *s >= last_six && d == "spike"),
        "{out}"
    );
    let out = anomalies(
        &stores,
        &set,
        json!({"metric": "deployments", "team": "Payments"}),
    )
    .await;
    // A drop over the recent weeks up to the end; it may begin with the failing week, whose
    // failures left Payments few successful deployments too.
    let last_day = dataset::as_of().date_naive() - Duration::days(1);
    let p = periods(&out);
    assert!(
        p.iter().any(|(s, e, d, g)| g == "recent_weeks"
            && d == "drop"
            && *e == last_day
            && (failing..=last_six).contains(s)),
        "{out}"
    );

    // Clean series: the organisation's commits, merged pull requests and successful
    // deployments day by day and week by week, and the other teams' lead times.
    for args in [
        json!({"metric": "commits"}),
        json!({"metric": "merged_prs"}),
        json!({"metric": "lead_time_hours", "team": "Platform"}),
        json!({"metric": "lead_time_hours", "team": "Data"}),
        json!({"metric": "lead_time_hours", "team": "Mobile"}),
    ] {
        let out = anomalies(&stores, &set, args.clone()).await;
        assert_eq!(out["anomalies"], json!([]), "{args}: {out}");
        assert!(
            out["series_points"].as_u64().unwrap() == 182
                && out["weekly"].as_array().unwrap().len() == 26
        );
    }
}

/// Every metric for the organisation and each team: whatever is reported traces to a plant
/// — the failing week, or from it on the Payments degradation and its echo in the
/// organisation's figures (a recent run of up to 8 weeks may begin a week before it). The other teams' series are clean outside the failing week.
#[tokio::test]
async fn every_demo_anomaly_traces_to_a_plant() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let set = project();
    let failing = date("2025-05-12");
    let failing_week = failing..=failing + Duration::days(6);
    let metrics = set.tool("metric_anomalies").unwrap().args_schema["properties"]["metric"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    let mut reported = 0;
    for metric in &metrics {
        for team in [
            None,
            Some("Platform"),
            Some("Data"),
            Some("Mobile"),
            Some("Payments"),
        ] {
            let mut args = json!({"metric": metric});
            if let Some(t) = team {
                args["team"] = json!(t);
            }
            let out = anomalies(&stores, &set, args.clone()).await;
            for (s, e, _, g) in periods(&out) {
                reported += 1;
                let in_failing_week = failing_week.contains(&s) && failing_week.contains(&e);
                let payments_or_all = matches!(team, None | Some("Payments"));
                assert!(
                    in_failing_week || (payments_or_all && (s >= failing || g == "recent_weeks")),
                    "{args}: {s}–{e} traces to no plant: {out}"
                );
            }
        }
    }
    println!(
        "{reported} anomalies in {} series, all planted",
        metrics.len() * 5
    );
    assert!(reported > 0);
}

#[tokio::test]
async fn bad_arguments_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let set = project();
    let tool = set.tool("metric_anomalies").unwrap();
    let err = stores
        .tools()
        .call(
            tool,
            &json!({"metric": "failed_deployments", "team": "Paymnts"}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("Payments"), "{}", err.message);
    // A window too short to score says so instead of claiming all is well.
    let out = anomalies(&stores, &set, json!({"metric": "commits", "days": 28})).await;
    assert_eq!(out["anomalies"], json!([]));
    let notes = out["notes"].to_string();
    assert!(
        notes.contains("weeks not scored") && notes.contains("days not scored"),
        "{notes}"
    );
}

// ── The servers ──────────────────────────────────────────────────────────────────────

/// Every metric, for the organisation, a team and a service, over the default window and a
/// year (longer than the history): the same answer from `b` as from `a`.
async fn same_answers(a: &Toolbox, b: &Toolbox, backend: &str) {
    let set = project();
    let tool = set.tool("metric_anomalies").unwrap();
    let metrics = tool.args_schema["properties"]["metric"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    let mut compared = BTreeSet::new();
    for metric in &metrics {
        for scope in [
            json!({}),
            json!({"team": "Payments"}),
            json!({"service": "payments-api", "days": 365}),
        ] {
            let mut args = scope.clone();
            args["metric"] = metric.clone();
            let x = a.tools().call(tool, &args).await.unwrap();
            let y = b
                .tools()
                .call(tool, &args)
                .await
                .unwrap_or_else(|e| panic!("{args} on {backend}: {}", e.message));
            assert_eq!(x, y, "{args} on {backend}");
            compared.insert(metric.as_str().unwrap().to_string());
        }
    }
    assert_eq!(compared.len(), 8);
    println!(
        "{backend} answered {} metrics as SQLite does",
        compared.len()
    );
}

#[tokio::test]
async fn clickhouse_and_postgres_answer_as_sqlite_does() {
    let Some(servers) = require_servers(&["CLICKHOUSE_HOST", "POSTGRES_HOST"]) else {
        return;
    };
    let lite_dir = tempfile::tempdir().unwrap();
    let lite = demo_stores(lite_dir.path()).await;
    if servers.settings().clickhouse.is_some() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Vars::new()
            .data_dir(dir.path())
            .env_of(&["CLICKHOUSE_"])
            .set("CLICKHOUSE_DATABASE", "eng_intel_test_anomalies")
            .settings();
        let ch = Toolbox::open(&settings, &|m| eprintln!("{m}"))
            .await
            .unwrap();
        same_answers(&lite, &ch, "ClickHouse").await;
    }
    if let Some(mut pg) = servers.settings().postgres {
        let admin = sqlx::PgPool::connect(&pg.url())
            .await
            .expect("connect to PostgreSQL");
        let db = "eng_intel_test_anomalies";
        for sql in [
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await
                .unwrap();
        }
        pg.database = db.into();
        let store = Arc::new(
            Postgres::connect(&pg, &dataset::POSTGRES_SCHEMA)
                .await
                .unwrap(),
        );
        let demo = dataset::generate(dataset::DEFAULT_SEED, dataset::DEFAULT_EMPLOYEES);
        store
            .load(&dataset::snapshot(&demo), &|_| {})
            .await
            .unwrap();
        let on_pg = Toolbox::new(
            Stores::assemble(store.clone(), store.clone())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        same_answers(&lite, &on_pg, "PostgreSQL").await;
        drop((on_pg, store));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .execute(&admin)
        .await
        .unwrap();
    }
}
