//! `metric_anomalies`: unusual days and weeks in one delivery metric. The metrics it knows
//! ([`Metric`]), each a daily series fetched from the metrics store with plain SQL that
//! runs on SQLite, PostgreSQL and ClickHouse 18.16; the detection itself, and its method,
//! is `analytics::anomaly`.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::aggregates::{Dialect, lead_times};
use super::context::{Ctx, scope, time};
use super::params::midnight;
use crate::analytics::anomaly::{Kind, Series, Thresholds, detect, method};
use crate::analytics::dora;
use crate::store::{Params, Row, StoreError, timestamp};

/// The metrics `metric_anomalies` can check, each a daily series of the metrics store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Deployments,
    FailedDeployments,
    ChangeFailureRate,
    LeadTimeHours,
    Incidents,
    MergedPrs,
    Commits,
    ReviewWaitHours,
}

/// The scope filter of the tables that name `team` and `service` directly.
const SCOPE: &str =
    "AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service)";

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Deployments,
        Metric::FailedDeployments,
        Metric::ChangeFailureRate,
        Metric::LeadTimeHours,
        Metric::Incidents,
        Metric::MergedPrs,
        Metric::Commits,
        Metric::ReviewWaitHours,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Deployments => "deployments",
            Metric::FailedDeployments => "failed_deployments",
            Metric::ChangeFailureRate => "change_failure_rate",
            Metric::LeadTimeHours => "lead_time_hours",
            Metric::Incidents => "incidents",
            Metric::MergedPrs => "merged_prs",
            Metric::Commits => "commits",
            Metric::ReviewWaitHours => "review_wait_hours",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::ChangeFailureRate => Kind::Rate,
            Metric::LeadTimeHours | Metric::ReviewWaitHours => Kind::Duration,
            _ => Kind::Count,
        }
    }

    /// What a period's value is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Metric::Deployments => "successful production deployments",
            Metric::FailedDeployments => "failed production deployments",
            Metric::ChangeFailureRate => "change failure rate",
            Metric::LeadTimeHours => "lead time for changes",
            Metric::Incidents => "incidents opened",
            Metric::MergedPrs => "pull requests merged",
            Metric::Commits => "commits",
            Metric::ReviewWaitHours => "review wait",
        }
    }

    /// How a period's value is computed.
    pub fn definition(self) -> &'static str {
        match self {
            Metric::Deployments | Metric::FailedDeployments => {
                "the number of production deployments that finished in the period"
            }
            Metric::Incidents => "the number of incidents opened in the period",
            Metric::ChangeFailureRate => {
                "the share of the period's successful production deployments that caused an incident"
            }
            Metric::LeadTimeHours => {
                "the median, over the changes deployed in the period, of hours from first commit to production"
            }
            Metric::MergedPrs => "the number of pull requests merged in the period",
            Metric::Commits => "the number of commits authored in the period",
            Metric::ReviewWaitHours => {
                "the median wait in hours of the reviews requested in the period (completed reviews)"
            }
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Deployments | Metric::FailedDeployments => "deployments",
            Metric::ChangeFailureRate => "rate",
            Metric::LeadTimeHours | Metric::ReviewWaitHours => "hours",
            Metric::Incidents => "incidents",
            Metric::MergedPrs => "pull requests",
            Metric::Commits => "commits",
        }
    }

    /// The series, grouped by `day` (`YYYY-MM-DD`, UTC) where the database can: counts as
    /// `n` events a day (change failure rate: `n` shipped, and [`failed_changes`] the
    /// failed), durations as one row per event with its `day` and `s` seconds (lead time)
    /// or `hours` (review wait), since their medians and spreads need every value.
    pub(super) fn daily(self, d: Dialect) -> String {
        let counted = |events: &str, at: &str| {
            format!(
                "SELECT substring({at}, 1, 10) AS day, COUNT(*) AS n FROM {events} \
                 GROUP BY substring({at}, 1, 10)"
            )
        };
        let deployments = |status: &str| {
            counted(
                &format!(
                    "deployments WHERE environment = 'production' AND status = '{status}' \
                     AND finished_at >= :since AND finished_at < :now {SCOPE}"
                ),
                "finished_at",
            )
        };
        match self {
            Metric::Deployments | Metric::ChangeFailureRate => deployments("success"),
            Metric::FailedDeployments => deployments("failure"),
            // The changes DORA's lead time reads (`:until` is `:now` here).
            Metric::LeadTimeHours => format!(
                "SELECT substring(finished_at, 1, 10) AS day, s FROM ({}) c",
                lead_times(d)
            ),
            Metric::Incidents => counted(
                &format!("incidents WHERE opened_at >= :since AND opened_at < :now {SCOPE}"),
                "opened_at",
            ),
            Metric::MergedPrs => counted(
                &format!("pull_requests WHERE merged_at >= :since AND merged_at < :now {SCOPE}"),
                "merged_at",
            ),
            Metric::Commits => counted(
                &format!("commits WHERE authored_at >= :since AND authored_at < :now {SCOPE}"),
                "authored_at",
            ),
            Metric::ReviewWaitHours => "SELECT substring(requested_at, 1, 10) AS day, wait_hours AS hours \
                FROM pr_reviews \
                WHERE reviewed_at IS NOT NULL AND wait_hours IS NOT NULL \
                AND requested_at >= :since AND requested_at < :now \
                AND (:team IS NULL OR reviewer_team = :team) AND (:service IS NULL OR service = :service)"
                .into(),
        }
    }

    /// When recording began, for the whole organisation: a sparse series (a team's
    /// incidents) must start there with zeros, not at its own first event.
    pub(super) fn history_start_query(self) -> &'static str {
        match self {
            Metric::Commits => "SELECT MIN(authored_at) AS earliest FROM commits",
            Metric::MergedPrs => "SELECT MIN(opened_at) AS earliest FROM pull_requests",
            Metric::ReviewWaitHours => "SELECT MIN(requested_at) AS earliest FROM pr_reviews",
            _ => {
                "SELECT MIN(finished_at) AS earliest FROM deployments WHERE environment = 'production'"
            }
        }
    }
}

/// Per `day`, the successful production deployments that caused at least one incident
/// (`failed`, change failure rate's numerator), read from the caused incidents' own
/// `deployed_at` (one index range on the row stores), or joined on tables loaded before
/// that column (as `aggregates::DoraSql`'s `caused`).
pub(super) fn failed_changes(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite | Dialect::Postgres | Dialect::ClickHouse => {
            "SELECT substring(deployed_at, 1, 10) AS day, COUNT(DISTINCT deployment_id) AS failed \
            FROM incidents WHERE deployed_at >= :since AND deployed_at < :now \
            AND (:team IS NULL OR team = :team) AND (:service IS NULL OR service = :service) \
            GROUP BY substring(deployed_at, 1, 10)"
        }
        Dialect::ClickHouseJoined => {
            "SELECT substring(d.finished_at, 1, 10) AS day, \
            COUNT(DISTINCT i.deployment_id) AS failed FROM incidents i \
            JOIN deployments d ON d.id = i.deployment_id \
            WHERE d.environment = 'production' AND d.status = 'success' AND d.finished_at >= :since AND d.finished_at < :now \
            AND (:team IS NULL OR d.team = :team) AND (:service IS NULL OR d.service = :service) \
            GROUP BY substring(d.finished_at, 1, 10)"
        }
    }
}

/// Days in the window by default: the demo's whole history (26 weeks).
const DEFAULT_DAYS: i64 = 182;

/// The builtin: args `metric`, `team`, `service`, `days`, `sensitivity`.
pub async fn metric_anomalies(p: &Params, cx: &Ctx<'_>) -> Result<Value, StoreError> {
    let name = p
        .get("metric")
        .and_then(Value::as_str)
        .unwrap_or("failed_deployments");
    let metric = Metric::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        StoreError::query(format!(
            "no metric named \"{name}\"; metrics are {}",
            known.join(", ")
        ))
    })?;
    let sensitivity = p
        .get("sensitivity")
        .and_then(Value::as_str)
        .unwrap_or("medium");
    let th = Thresholds::for_sensitivity(sensitivity).ok_or_else(|| {
        StoreError::query(format!(
            "sensitivity \"{sensitivity}\" is none of low, medium, high"
        ))
    })?;
    let days = p
        .get("days")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_DAYS);

    // Whole days only: up to yesterday (today is not over), from midnight `days` before.
    let today = cx.now.date_naive();
    let mut start = today - Duration::days(days.max(1));
    let earliest = cx
        .metrics
        .query(metric.history_start_query(), &Params::new())
        .await?;
    if let Some(first) = earliest
        .first()
        .map(|r| time(r, "earliest"))
        .transpose()?
        .flatten()
    {
        start = start.max(first.date_naive());
    }
    let mut q = p.clone();
    q.insert("since".into(), timestamp(midnight(start)).into());
    q.insert("until".into(), timestamp(cx.now).into());
    let series = fetch(metric, start, today, &q, cx).await?;
    Ok(report(metric, p, sensitivity, th, &series))
}

/// The answer about `series`, the metric's observations from its start to yesterday
/// (`p` names the scope).
pub fn report(
    metric: Metric,
    p: &Params,
    sensitivity: &str,
    th: Thresholds,
    series: &Series,
) -> Value {
    let found = detect(series, th);
    let kind = metric.kind();
    let round = |x: f64| number(kind, x);
    let anomalies: Vec<Value> = found
        .anomalies
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).expect("anomaly serializes");
            v["value"] = round(a.value);
            v["expected"] = round(a.expected);
            v
        })
        .collect();
    let weekly: Vec<Value> = found
        .weekly
        .iter()
        .map(|w| json!({"week": w.start.to_string(), "value": w.value.map(round), "observations": w.n}))
        .collect();
    json!({
        "metric": metric.name(),
        "description": metric.describe(),
        "definition": metric.definition(),
        "unit": metric.unit(),
        "kind": kind.name(),
        "scope": scope(p),
        "window": {
            "start": series.start.to_string(),
            "end": (series.end() - Duration::days(1)).to_string(),
            "days": series.days.len(),
            "weeks": found.weekly.len(),
        },
        "series_points": series.days.len(),
        "observations": series.days.iter().map(Vec::len).sum::<usize>(),
        "sensitivity": sensitivity,
        "thresholds": th,
        "anomalies": anomalies,
        "weekly": weekly,
        "method": method(kind, th),
        "notes": found.notes,
    })
}

/// A value as the answer shows it: counts whole where they are, hours to 0.1, rates to 0.001.
fn number(kind: Kind, x: f64) -> Value {
    match kind {
        Kind::Count if x.fract() == 0.0 => json!(x as i64),
        Kind::Count | Kind::Duration => json!((x * 10.0).round() / 10.0),
        Kind::Rate => json!((x * 1000.0).round() / 1000.0),
    }
}

/// The metric's series over `[start, today)` from the figures the metrics store computes.
async fn fetch(
    metric: Metric,
    start: NaiveDate,
    today: NaiveDate,
    p: &Params,
    cx: &Ctx<'_>,
) -> Result<Series, StoreError> {
    let d = cx.dialect.clone()?;
    let rows = cx.metrics.query(&metric.daily(d), p).await?;
    let failed: HashMap<NaiveDate, usize> = if metric == Metric::ChangeFailureRate {
        let mut failed = HashMap::new();
        for r in &cx.metrics.query(failed_changes(d), p).await? {
            failed.insert(day(r)?, count(r, "failed"));
        }
        failed
    } else {
        HashMap::new()
    };
    let mut series = Series::new(metric.kind(), start, today);
    // A duration series is one row per event, in time order where an index gives it: each
    // day's text is parsed once.
    let mut last: Option<(&str, NaiveDate)> = None;
    for r in &rows {
        let at = match (last, r.get("day").and_then(Value::as_str)) {
            (Some((text, at)), Some(t)) if text == t => at,
            (_, t) => {
                let at = day(r)?;
                last = t.map(|t| (t, at));
                at
            }
        };
        match metric {
            Metric::ChangeFailureRate => {
                let bad = failed.get(&at).copied().unwrap_or_default();
                series.add_times(at, 1.0, bad);
                series.add_times(at, 0.0, count(r, "n").saturating_sub(bad));
            }
            Metric::LeadTimeHours => {
                if let Some(s) = r.get("s").and_then(Value::as_i64) {
                    series.add(at, dora::hours(s));
                }
            }
            Metric::ReviewWaitHours => {
                if let Some(h) = r.get("hours").and_then(Value::as_f64) {
                    series.add(at, h);
                }
            }
            _ => series.add_times(at, 1.0, count(r, "n")),
        }
    }
    Ok(series)
}

fn day(r: &Row) -> Result<NaiveDate, StoreError> {
    r.get("day")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .ok_or_else(|| StoreError::query("a series day is not YYYY-MM-DD"))
}

fn count(r: &Row, k: &str) -> usize {
    r.get(k)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_named_once() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("velocity"), None);
    }
}
