//! Delivery builtins: DORA metrics (as `analytics::dora` defines them) over the metrics
//! store's deployments, changes and incidents, the weekly lead-time trend per team, and
//! workload, which joins the relational store (tickets) with the metrics store (pending
//! reviews). The metrics store computes the figures (`aggregates`, one statement set per
//! dialect); the bands, the frequency medians over weeks and months and the answer's
//! shape are Rust.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::try_join;
use serde_json::{Value, json};

use super::aggregates::{DoraSql, HISTORY_SPAN, LeadAt, TrendSql};
use super::context::{Ctx, scope};
use super::params::midnight;
use crate::analytics::dora::{self, Dora, Window};
use crate::core::SHOWN_ROWS;
use crate::store::{Params, Row, StoreError, timestamp};

fn text<'a>(r: &'a Row, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn int(r: &Row, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or_default()
}

fn count(r: &Row, k: &str) -> usize {
    usize::try_from(int(r, k)).unwrap_or_default()
}

/// A `median_s` row's median in hours, when it counted any value.
fn median_hours(r: &Row) -> Option<f64> {
    median_hours_of(r, "n", "median_s")
}

/// The median in column `median` in hours, when column `n` counted any value.
fn median_hours_of(r: &Row, n: &str, median: &str) -> Option<f64> {
    (int(r, n) > 0).then(|| dora::hours(int(r, median)))
}

/// The window `params::prepare` derived (`:since`/`:until`), else the last `days`.
fn window(p: &Params, now: DateTime<Utc>) -> Window {
    let at = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (at("since"), at("until")) {
        (Some(start), Some(end)) if start < end => Window { start, end },
        _ => Window::last_days(now, p.get("days").and_then(Value::as_i64).unwrap_or(90)),
    }
}

/// `p` with `:since`/`:until` set to the window's bounds.
fn bounded(p: &Params, w: Window) -> Params {
    let mut q = p.clone();
    q.insert("since".into(), timestamp(w.start).into());
    q.insert("until".into(), timestamp(w.end).into());
    q
}

/// Whether the question is the whole organisation's (no team, no service).
fn whole_org(q: &Params) -> bool {
    ["team", "service"]
        .iter()
        .all(|k| q.get(*k).is_none_or(Value::is_null))
}

/// `q` with the window's whole UTC days (`WholeOrg`'s parameters): from the first midnight
/// at or after its start to the last at or before its end; none when that is no day.
fn with_whole_days(mut q: Params, w: Window) -> Params {
    let first = match midnight(w.start.date_naive()) {
        m if m < w.start => m + Duration::days(1),
        m => m,
    };
    let last = midnight(w.end.date_naive());
    let (from, until) = if first < last {
        (first, last)
    } else {
        (w.end, w.end)
    };
    q.insert(
        "whole_from".into(),
        from.format("%Y-%m-%d").to_string().into(),
    );
    q.insert(
        "whole_until".into(),
        until.format("%Y-%m-%d").to_string().into(),
    );
    q.insert("whole_from_at".into(), timestamp(from).into());
    q.insert("whole_until_at".into(), timestamp(until).into());
    q
}

/// The DORA metrics of the window, from the figures the metrics store computes.
async fn dora_figures(cx: &Ctx<'_>, p: &Params, w: Window) -> Result<Dora, StoreError> {
    let metrics = cx.metrics;
    let sql = DoraSql::new(cx.dialect.clone()?);
    let q = with_whole_days(bounded(p, w), w);
    let (days_sql, count_sql) = match &sql.whole_org {
        Some(o) if whole_org(&q) => (&o.days, &o.changes),
        _ => (&sql.days, &sql.lead),
    };
    let (days, lead, caused, recovery) = try_join!(
        metrics.query(days_sql, &q),
        metrics.query(count_sql, &q),
        metrics.query(&sql.caused, &q),
        metrics.query(&sql.recovery, &q),
    )?;
    let mut deployed = BTreeSet::new();
    let (mut ok, mut failed) = (0, 0);
    for r in &days {
        let day = text(r, "day")
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| StoreError::query("a deployment day is not YYYY-MM-DD"))?;
        ok += count(r, "ok");
        failed += count(r, "failed");
        if int(r, "ok") > 0 {
            deployed.insert(day);
        }
    }
    let none = Row::new();
    let one = |rows: &[Row]| rows.first().cloned().unwrap_or_else(|| none.clone());
    let (lead, caused, recovery) = (one(&lead), one(&caused), one(&recovery));
    let changes = count(&lead, "n");
    let lead_hours = match &sql.lead_at {
        Some(at) => lower_median(metrics, at, &q, w, changes).await?,
        None => median_hours(&lead),
    };
    Ok(Dora {
        deployments: ok,
        failed_deployments: failed,
        deployment_frequency: dora::frequency_of_days(w, &deployed),
        lead_time: dora::lead_time_of(lead_hours, changes),
        change_failure_rate: dora::failure_rate_of(count(&caused, "failed"), ok),
        recovery_time: dora::recovery_of(
            median_hours(&recovery),
            count(&recovery, "n"),
            count(&caused, "unresolved"),
        ),
    })
}

/// The lower median of the window's `n` lead times, in hours: the one at offset
/// (n − 1) / 2 in order, walked to through the lead-time index when the question is the
/// whole organisation's and its window spans at least an eighth of the history (measured at
/// `--scale 5000`: the walk costs about a tenth of the sort per entry it reads), else sorted.
async fn lower_median(
    metrics: &dyn crate::store::QueryStore,
    at: &LeadAt,
    q: &Params,
    w: Window,
    n: usize,
) -> Result<Option<f64>, StoreError> {
    if n == 0 {
        return Ok(None);
    }
    let statement = match &at.walked {
        Some(walked) if whole_org(q) && spans_an_eighth(metrics, w).await? => walked,
        _ => &at.sorted,
    };
    let mut q = q.clone();
    q.insert("k".into(), json!((n - 1) / 2));
    let rows = metrics.query(statement, &q).await?;
    Ok(rows
        .first()
        .and_then(|r| r.get("s"))
        .and_then(Value::as_i64)
        .map(dora::hours))
}

/// Whether `w` covers at least an eighth of the time from the first change shipped to the last.
async fn spans_an_eighth(
    metrics: &dyn crate::store::QueryStore,
    w: Window,
) -> Result<bool, StoreError> {
    let rows = metrics.query(HISTORY_SPAN, &Params::new()).await?;
    let at = |k: &str| {
        rows.first()
            .and_then(|r| text(r, k))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(first), Some(last)) = (at("first"), at("last")) else {
        return Ok(false);
    };
    let history = (last - first).num_seconds().max(1);
    let covered = (w.end.min(last) - w.start.max(first)).num_seconds();
    Ok(covered * 8 >= history)
}

pub(super) async fn dora_metrics(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let w = window(p, cx.now);
    let metrics = dora_figures(cx, p, w).await?;
    let mut out = serde_json::to_value(&metrics).expect("metrics serialize");
    out["scope"] = json!(scope(p));
    out["window"] = json!({
        "days": (w.end - w.start).num_days(),
        "start": w.start.format("%Y-%m-%d").to_string(),
        "end": w.end.format("%Y-%m-%d").to_string(),
    });
    Ok(out)
}

/// Teams with a production deployment in the window (the trend's rows).
pub(super) const TREND_TEAMS: &str = "SELECT DISTINCT team FROM deployments \
    WHERE environment = 'production' AND finished_at >= :since AND finished_at < :until \
    AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service)";

/// Weekly median lead time per team, and how the last three weeks compare with the weeks
/// before. Every team in scope is compared; the week-by-week medians are read for the
/// [`SHOWN_ROWS`] teams an answer lists (those whose lead time rose most), since a week
/// and team each for a thousand teams is most of the work and no answer shows it.
pub(super) async fn lead_time_trend(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let weeks = p.get("weeks").and_then(Value::as_i64).unwrap_or(12);
    let w = Window::last_days(cx.now, weeks * 7);
    let mut q = bounded(p, w);
    q.insert(
        "recent".into(),
        timestamp(cx.now - Duration::weeks(3)).into(),
    );
    let sql = TrendSql::new(cx.dialect.clone()?);
    let (names, halves) = try_join!(
        cx.metrics.query(TREND_TEAMS, &q),
        cx.metrics.query(&sql.halves, &q),
    )?;
    let half: HashMap<&str, &Row> = halves
        .iter()
        .filter_map(|r| Some((text(r, "team")?, r)))
        .collect();
    let mut teams: Vec<(&str, Option<f64>, Option<f64>)> = names
        .iter()
        .filter_map(|r| text(r, "team"))
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .map(|team| match half.get(team) {
            Some(h) => (
                team,
                median_hours_of(h, "n_recent", "median_s_recent"),
                median_hours_of(h, "n_earlier", "median_s_earlier"),
            ),
            None => (team, None, None),
        })
        .collect();
    let ratio = |r, e| dora::trend(r, e).0.unwrap_or(f64::MIN);
    teams.sort_by(|a, b| ratio(b.1, b.2).total_cmp(&ratio(a.1, a.2)));

    let detailed = &teams[..teams.len().min(SHOWN_ROWS)];
    for (i, (team, ..)) in detailed.iter().enumerate() {
        q.insert(format!("trend_team_{i}"), json!(team));
    }
    let weekly = match detailed.len() {
        0 => Vec::new(),
        n => cx.metrics.query(&sql.weekly(n), &q).await?,
    };
    let by_week: HashMap<(&str, &str), (Option<f64>, usize)> = weekly
        .iter()
        .filter_map(|r| {
            let key = (text(r, "team")?, text(r, "week")?);
            Some((key, (median_hours(r), count(r, "n"))))
        })
        .collect();
    let mondays: Vec<String> = w
        .mondays()
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    let mut out = Vec::new();
    for (i, &(team, r, e)) in teams.iter().enumerate() {
        let (ratio, trend) = dora::trend(r, e);
        let mut t = json!({
            "team": team,
            "recent_median_hours": r,
            "earlier_median_hours": e,
            "change_ratio": ratio,
            "trend": trend,
        });
        if i < SHOWN_ROWS {
            t["weekly"] = mondays
                .iter()
                .map(|week| {
                    let (m, n) = by_week
                        .get(&(team, week.as_str()))
                        .copied()
                        .unwrap_or((None, 0));
                    json!({"week": week, "median_hours": m, "changes": n})
                })
                .collect();
        }
        out.push(t);
    }
    let degrading: Vec<Value> = out
        .iter()
        .filter(|t| t["trend"] == "degrading")
        .map(|t| t["team"].clone())
        .collect();
    Ok(json!({"weeks": weeks, "recent_weeks": 3, "teams": out, "degrading": degrading}))
}

pub(super) const OPEN_WORK: &str = "SELECT e.id, e.name, e.title, t.name AS team, e.is_manager, COUNT(k.id) AS open_tickets, \
    COALESCE(SUM(k.points), 0) AS open_points \
    FROM employees e JOIN teams t ON t.id = e.team_id \
    LEFT JOIN tickets k ON k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review') \
    WHERE (:team IS NULL OR t.name = :team) \
    GROUP BY e.id, e.name, e.title, t.name, e.is_manager";
pub(super) const PENDING_REVIEWS: &str = "SELECT reviewer_id, COUNT(*) AS pending_reviews FROM pr_reviews \
    WHERE reviewed_at IS NULL AND (:team IS NULL OR reviewer_team = :team) GROUP BY reviewer_id";

/// A load that is a lot in any team: more than a whole sprint's commitment (8–13 points).
const OVERLOAD_FLOOR: f64 = 20.0;

/// Open story points plus two points per pending review; overloaded = at least three times
/// the median load of the engineers in scope, and at least [`OVERLOAD_FLOOR`] (so that a
/// quiet team with a median near zero does not flag everyone).
pub(super) async fn workload(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let limit = p.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    let work = cx.relational.query(OPEN_WORK, p).await?;
    let pending: HashMap<i64, i64> = cx
        .metrics
        .query(PENDING_REVIEWS, p)
        .await?
        .iter()
        .map(|r| {
            (
                r.get("reviewer_id")
                    .and_then(Value::as_i64)
                    .unwrap_or_default(),
                r.get("pending_reviews")
                    .and_then(Value::as_i64)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut people: Vec<Value> = work
        .iter()
        .map(|r| {
            let id = r.get("id").and_then(Value::as_i64).unwrap_or_default();
            let points = r
                .get("open_points")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let reviews = pending.get(&id).copied().unwrap_or_default();
            json!({
                "name": r.get("name"),
                "title": r.get("title"),
                "team": r.get("team"),
                "is_manager": r.get("is_manager").and_then(Value::as_i64) == Some(1),
                "open_tickets": r.get("open_tickets"),
                "open_points": points,
                "pending_reviews": reviews,
                "load": points + 2 * reviews,
            })
        })
        .collect();
    let engineers: Vec<f64> = people
        .iter()
        .filter(|x| x["is_manager"] == false)
        .filter_map(|x| x["load"].as_f64())
        .collect();
    let median = dora::median(engineers).unwrap_or(0.0);
    let threshold = (3.0 * median).max(OVERLOAD_FLOOR);
    for x in &mut people {
        x["overloaded"] = json!(x["load"].as_f64().unwrap_or(0.0) >= threshold);
    }
    people.sort_by(|a, b| {
        b["load"]
            .as_i64()
            .cmp(&a["load"].as_i64())
            .then(a["name"].as_str().cmp(&b["name"].as_str()))
    });
    let overloaded: Vec<Value> = people
        .iter()
        .filter(|x| x["overloaded"] == true)
        .map(|x| x["name"].clone())
        .collect();
    let total = people.len();
    people.truncate(limit);
    Ok(json!({
        "scope": scope(p),
        "people_in_scope": total,
        "median_load": median,
        "overload_threshold": threshold,
        "overloaded": overloaded,
        "people": people,
    }))
}
