//! Delivery builtins: DORA metrics (as `analytics::dora` defines them) over the metrics
//! store's deployments, changes and incidents, the weekly lead-time trend per team, and
//! workload, which joins the relational store (tickets) with the metrics store (pending
//! reviews).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::context::{Ctx, scope, time};
use crate::analytics::dora::{self, Change, Deploy, IncidentRef, Window};
use crate::store::{Params, Row, StoreError};

const DEPLOYMENTS: &str = "SELECT id, team, environment, status, finished_at FROM deployments \
    WHERE environment = 'production' AND finished_at >= :since AND finished_at < :until \
    AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service)";
const CHANGES: &str = "SELECT p.deployment_id, p.first_commit_at FROM pull_requests p JOIN deployments d ON d.id = p.deployment_id \
    WHERE d.finished_at >= :since AND d.finished_at < :until \
    AND (:team IS NULL OR d.team = :team) AND (:service IS NULL OR d.service = :service)";
const INCIDENTS: &str = "SELECT i.deployment_id, i.resolved_at FROM incidents i JOIN deployments d ON d.id = i.deployment_id \
    WHERE d.finished_at >= :since AND d.finished_at < :until \
    AND (:team IS NULL OR d.team = :team) AND (:service IS NULL OR d.service = :service)";

fn text<'a>(r: &'a Row, k: &str) -> Option<&'a str> {
    r.get(k).and_then(Value::as_str)
}

fn deploys(rows: &[Row]) -> Result<Vec<Deploy>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(Deploy {
                id: r.get("id").and_then(Value::as_i64).unwrap_or_default(),
                production: text(r, "environment") == Some("production"),
                success: text(r, "status") == Some("success"),
                finished_at: time(r, "finished_at")?
                    .ok_or_else(|| StoreError::query("a deployment has no finished_at"))?,
            })
        })
        .collect()
}

fn changes(rows: &[Row]) -> Result<Vec<Change>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(Change {
                deployment_id: r
                    .get("deployment_id")
                    .and_then(Value::as_i64)
                    .unwrap_or_default(),
                first_commit_at: time(r, "first_commit_at")?
                    .ok_or_else(|| StoreError::query("a change has no first_commit_at"))?,
            })
        })
        .collect()
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

pub(super) async fn dora_metrics(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let w = window(p, cx.now);
    let d = deploys(&cx.metrics.query(DEPLOYMENTS, p).await?)?;
    let c = changes(&cx.metrics.query(CHANGES, p).await?)?;
    let incidents = cx
        .metrics
        .query(INCIDENTS, p)
        .await?
        .iter()
        .map(|r| {
            Ok(IncidentRef {
                deployment_id: r.get("deployment_id").and_then(Value::as_i64),
                resolved_at: time(r, "resolved_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let metrics = dora::compute(w, &d, &c, &incidents);
    let mut out = serde_json::to_value(&metrics).expect("metrics serialize");
    out["scope"] = json!(scope(p));
    out["window"] = json!({
        "days": (w.end - w.start).num_days(),
        "start": w.start.format("%Y-%m-%d").to_string(),
        "end": w.end.format("%Y-%m-%d").to_string(),
    });
    Ok(out)
}

/// Weekly median lead time per team, and how the last three weeks compare with the weeks before.
pub(super) async fn lead_time_trend(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let weeks = p.get("weeks").and_then(Value::as_i64).unwrap_or(12);
    let w = Window::last_days(cx.now, weeks * 7);
    let recent_start = cx.now - Duration::weeks(3);
    let deployments = cx.metrics.query(DEPLOYMENTS, p).await?;
    let c = changes(&cx.metrics.query(CHANGES, p).await?)?;
    let mut team_of: HashMap<i64, String> = HashMap::new();
    let mut by_team: BTreeMap<String, Vec<Deploy>> = BTreeMap::new();
    for (r, d) in deployments.iter().zip(deploys(&deployments)?) {
        let team = text(r, "team").unwrap_or_default().to_string();
        team_of.insert(d.id, team.clone());
        by_team.entry(team).or_default().push(d);
    }
    let mut teams = Vec::new();
    for (team, ds) in &by_team {
        let finished: HashMap<i64, DateTime<Utc>> = ds
            .iter()
            .filter(|d| d.success)
            .map(|d| (d.id, d.finished_at))
            .collect();
        let mine: Vec<Change> = c
            .iter()
            .filter(|x| team_of.get(&x.deployment_id) == Some(team))
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
        let ratio = match (r, e) {
            (Some(r), Some(e)) if e > 0.0 => Some(r / e),
            _ => None,
        };
        let trend = match ratio {
            Some(x) if x >= 1.5 => "degrading",
            Some(x) if x <= 1.0 / 1.5 => "improving",
            Some(_) => "stable",
            None => "no data",
        };
        let weekly: Vec<Value> = dora::weekly_lead_time(w, ds, &mine)
            .into_iter()
            .map(|(week, m, n)| json!({"week": week.format("%Y-%m-%d").to_string(), "median_hours": m, "changes": n}))
            .collect();
        teams.push(json!({
            "team": team,
            "recent_median_hours": r,
            "earlier_median_hours": e,
            "change_ratio": ratio,
            "trend": trend,
            "weekly": weekly,
        }));
    }
    teams.sort_by(|a, b| {
        let k = |v: &Value| v["change_ratio"].as_f64().unwrap_or(f64::MIN);
        k(b).total_cmp(&k(a))
    });
    let degrading: Vec<Value> = teams
        .iter()
        .filter(|t| t["trend"] == "degrading")
        .map(|t| t["team"].clone())
        .collect();
    Ok(json!({"weeks": weeks, "recent_weeks": 3, "teams": teams, "degrading": degrading}))
}

const OPEN_WORK: &str = "SELECT e.id, e.name, e.title, t.name AS team, e.is_manager, COUNT(k.id) AS open_tickets, \
    COALESCE(SUM(k.points), 0) AS open_points \
    FROM employees e JOIN teams t ON t.id = e.team_id \
    LEFT JOIN tickets k ON k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review') \
    WHERE (:team IS NULL OR t.name = :team) \
    GROUP BY e.id, e.name, e.title, t.name, e.is_manager";
const PENDING_REVIEWS: &str = "SELECT reviewer_id, COUNT(*) AS pending_reviews FROM pr_reviews \
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
