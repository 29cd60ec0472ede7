//! DORA metrics exactly as Apache DevLake computes them, with the DORA 2023 bands.
//!
//! Pure functions over deployments, changes and incidents, so that any store can feed
//! them and unit tests can check them against hand-computed fixtures.
//!
//! The source followed is DevLake's own dashboard SQL: `grafana/dashboards/DORA.json` in
//! apache/devlake (the "Overall DORA Metrics" table and the four stat panels, `$dora_report`
//! = '2023'), cross-checked with `grafana/dashboards/DORADetails-*.json` and
//! `grafana/dashboards/postgresql/DORA.json`. `docs/DATA.md` quotes the CASE expressions,
//! tabulates the bands and lists where we deliberately differ.
//!
//! - A *production deployment* is a production deployment that succeeded and finished in
//!   the window (a failed deployment shipped nothing; DevLake counts only `SUCCESS`).
//! - **Deployment frequency**: days with at least one production deployment, per calendar
//!   week (Monday-based) and per calendar month touching the window; the band uses their
//!   medians.
//! - **Lead time for changes**: median of (first commit of a change → finish of the
//!   production deployment that shipped it), over changes shipped in the window.
//! - **Change failure rate**: production deployments linked to at least one incident ÷
//!   production deployments.
//! - **Failed-deployment recovery time**: median of (incident resolved − deployment
//!   finished) over incidents caused by the window's production deployments and resolved
//!   within the window (DevLake's `$__timeFilter(i.resolution_date)`); incidents not
//!   resolved by the window's end are counted apart and left out of the median.
//! - Medians are DevLake's: the largest value whose `percent_rank` is at most 0.5, i.e.
//!   the lower middle value.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

/// A deployment as DORA needs it.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub id: i64,
    pub production: bool,
    pub success: bool,
    pub finished_at: DateTime<Utc>,
}

/// A change (pull request) and the deployment that shipped it.
#[derive(Debug, Clone)]
pub struct Change {
    pub deployment_id: i64,
    pub first_commit_at: DateTime<Utc>,
}

/// An incident and the deployment that caused it.
#[derive(Debug, Clone)]
pub struct IncidentRef {
    pub deployment_id: Option<i64>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// `[start, end)`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The `days` before `end`.
    pub fn last_days(end: DateTime<Utc>, days: i64) -> Window {
        Window {
            start: end - Duration::days(days),
            end,
        }
    }
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
    /// The Mondays of the calendar weeks the window touches.
    pub fn mondays(&self) -> BTreeSet<NaiveDate> {
        self.days().map(week_start).collect()
    }
    /// The calendar days the window touches.
    fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let last = (self.end - Duration::nanoseconds(1)).date_naive();
        self.start
            .date_naive()
            .iter_days()
            .take_while(move |d| *d <= last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
    /// Nothing to measure (no deployments, changes or resolved incidents).
    NoData,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Frequency {
    /// Days with at least one production deployment.
    pub deployment_days: usize,
    pub median_days_per_week: f64,
    pub median_days_per_month: f64,
    pub band: Band,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LeadTime {
    pub median_hours: Option<f64>,
    pub changes: usize,
    pub band: Band,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailureRate {
    /// Production deployments linked to at least one incident.
    pub failed: usize,
    pub deployments: usize,
    /// A fraction in [0, 1].
    pub rate: Option<f64>,
    pub band: Band,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recovery {
    pub median_hours: Option<f64>,
    /// Incidents resolved within the window: the median is over these.
    pub incidents: usize,
    /// Incidents caused by the window's deployments and not resolved by the window's end.
    pub unresolved: usize,
    pub band: Band,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dora {
    /// Successful production deployments in the window.
    pub deployments: usize,
    /// Failed production deployments in the window (not part of any metric, for context).
    pub failed_deployments: usize,
    pub deployment_frequency: Frequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: FailureRate,
    pub recovery_time: Recovery,
}

/// The four metrics over `window`.
pub fn compute(
    window: Window,
    deploys: &[Deploy],
    changes: &[Change],
    incidents: &[IncidentRef],
) -> Dora {
    let prod: Vec<&Deploy> = deploys
        .iter()
        .filter(|d| d.production && d.success && window.contains(d.finished_at))
        .collect();
    let failed_deployments = deploys
        .iter()
        .filter(|d| d.production && !d.success && window.contains(d.finished_at))
        .count();
    let finished: HashMap<i64, DateTime<Utc>> =
        prod.iter().map(|d| (d.id, d.finished_at)).collect();
    Dora {
        deployments: prod.len(),
        failed_deployments,
        deployment_frequency: frequency(window, &prod),
        lead_time: lead_time(&finished, changes),
        change_failure_rate: failure_rate(&finished, incidents),
        recovery_time: recovery(window, &finished, incidents),
    }
}

fn frequency(window: Window, prod: &[&Deploy]) -> Frequency {
    frequency_of_days(
        window,
        &prod.iter().map(|d| d.finished_at.date_naive()).collect(),
    )
}

/// Deployment frequency from the days with at least one production deployment.
pub fn frequency_of_days(window: Window, days: &BTreeSet<NaiveDate>) -> Frequency {
    let mut weeks: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut months: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    for day in window.days() {
        let deployed = f64::from(u8::from(days.contains(&day)));
        *weeks.entry(week_start(day)).or_default() += deployed;
        *months.entry((day.year(), day.month())).or_default() += deployed;
    }
    let per_week = median(weeks.into_values().collect()).unwrap_or(0.0);
    let per_month = median(months.into_values().collect()).unwrap_or(0.0);
    Frequency {
        deployment_days: days.len(),
        median_days_per_week: per_week,
        median_days_per_month: per_month,
        band: frequency_band(per_week, per_month),
    }
}

fn lead_time(finished: &HashMap<i64, DateTime<Utc>>, changes: &[Change]) -> LeadTime {
    let hours: Vec<f64> = changes
        .iter()
        .filter_map(|c| {
            finished
                .get(&c.deployment_id)
                .map(|f| hours_between(c.first_commit_at, *f))
        })
        .collect();
    lead_time_of(median(hours.clone()), hours.len())
}

/// Lead time for changes from its median and the number of changes.
pub fn lead_time_of(median_hours: Option<f64>, changes: usize) -> LeadTime {
    LeadTime {
        median_hours,
        changes,
        band: median_hours.map_or(Band::NoData, lead_time_band),
    }
}

fn failure_rate(finished: &HashMap<i64, DateTime<Utc>>, incidents: &[IncidentRef]) -> FailureRate {
    let failed: HashSet<i64> = incidents
        .iter()
        .filter_map(|i| i.deployment_id)
        .filter(|d| finished.contains_key(d))
        .collect();
    failure_rate_of(failed.len(), finished.len())
}

/// Change failure rate from the failed and all production deployments.
pub fn failure_rate_of(failed: usize, deployments: usize) -> FailureRate {
    let rate = (deployments > 0).then(|| failed as f64 / deployments as f64);
    FailureRate {
        failed,
        deployments,
        rate,
        band: rate.map_or(Band::NoData, failure_rate_band),
    }
}

fn recovery(
    window: Window,
    finished: &HashMap<i64, DateTime<Utc>>,
    incidents: &[IncidentRef],
) -> Recovery {
    let caused: Vec<(&IncidentRef, DateTime<Utc>)> = incidents
        .iter()
        .filter_map(|i| {
            i.deployment_id
                .and_then(|d| finished.get(&d))
                .map(|f| (i, *f))
        })
        .collect();
    // DevLake: `WHERE $__timeFilter(i.resolution_date)`, only incidents resolved in the window.
    let hours: Vec<f64> = caused
        .iter()
        .filter_map(|(i, f)| {
            i.resolved_at
                .filter(|r| window.contains(*r))
                .map(|r| hours_between(*f, r))
        })
        .collect();
    let unresolved = caused
        .iter()
        .filter(|(i, _)| i.resolved_at.is_none_or(|r| r >= window.end))
        .count();
    recovery_of(median(hours.clone()), hours.len(), unresolved)
}

/// Recovery time from its median, the incidents resolved and those not.
pub fn recovery_of(median_hours: Option<f64>, incidents: usize, unresolved: usize) -> Recovery {
    Recovery {
        median_hours,
        incidents,
        unresolved,
        band: median_hours.map_or(Band::NoData, recovery_band),
    }
}

/// Median lead time per calendar week (by deployment finish) over the window, oldest first.
pub fn weekly_lead_time(
    window: Window,
    deploys: &[Deploy],
    changes: &[Change],
) -> Vec<(NaiveDate, Option<f64>, usize)> {
    let finished: HashMap<i64, DateTime<Utc>> = deploys
        .iter()
        .filter(|d| d.production && d.success && window.contains(d.finished_at))
        .map(|d| (d.id, d.finished_at))
        .collect();
    let mut weeks: BTreeMap<NaiveDate, Vec<f64>> =
        window.days().map(|d| (week_start(d), Vec::new())).collect();
    for c in changes {
        if let Some(f) = finished.get(&c.deployment_id) {
            weeks
                .entry(week_start(f.date_naive()))
                .or_default()
                .push(hours_between(c.first_commit_at, *f));
        }
    }
    weeks
        .into_iter()
        .map(|(w, v)| (w, median(v.clone()), v.len()))
        .collect()
}

/// The recent median lead time against the earlier one: their ratio, and "degrading"
/// at 1.5× or more, "improving" at 1/1.5 or less, else "stable" ("no data" without both).
pub fn trend(recent: Option<f64>, earlier: Option<f64>) -> (Option<f64>, &'static str) {
    let ratio = match (recent, earlier) {
        (Some(r), Some(e)) if e > 0.0 => Some(r / e),
        _ => None,
    };
    let trend = match ratio {
        Some(x) if x >= 1.5 => "degrading",
        Some(x) if x <= 1.0 / 1.5 => "improving",
        Some(_) => "stable",
        None => "no data",
    };
    (ratio, trend)
}

/// DevLake's median: the largest value whose percent_rank is ≤ 0.5 (the lower middle).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[(values.len() - 1) / 2])
}

pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn hours_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    hours((b - a).num_seconds())
}

/// Whole seconds as hours, the one conversion (so a database's seconds give the same hours).
pub fn hours(seconds: i64) -> f64 {
    seconds as f64 / 3600.0
}

/// DevLake 2023: `WHEN median_number_of_deployment_days_per_week >= 5 THEN elite`,
/// `… per_week >= 1 THEN high`, `… per_month >= 1 THEN medium`, `… per_month < 1 THEN low`.
///
/// Elite is 5 deployment days a week: apache/devlake PR #7961 (August 2024) lowered it
/// from 7 in the dashboard SQL; DevLake's metric docs and one panel description still say 7.
pub fn frequency_band(median_days_per_week: f64, median_days_per_month: f64) -> Band {
    if median_days_per_week >= 5.0 {
        Band::Elite
    } else if median_days_per_week >= 1.0 {
        Band::High
    } else if median_days_per_month >= 1.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// DevLake 2023, in minutes: `< 24 * 60` elite, `< 7 * 24 * 60` high, `< 30 * 24 * 60`
/// medium, `>= 30 * 24 * 60` low.
pub fn lead_time_band(hours: f64) -> Band {
    if hours < 24.0 {
        Band::Elite
    } else if hours < 24.0 * 7.0 {
        Band::High
    } else if hours < 24.0 * 30.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// DevLake 2023: `<= .05` elite, `<= .10` high, `<= .15` medium, `> .15` low.
pub fn failure_rate_band(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.10 {
        Band::High
    } else if rate <= 0.15 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// DevLake 2023, in minutes: `< 60` elite, `< 24 * 60` high, `< 7 * 24 * 60` medium,
/// `>= 7 * 24 * 60` low.
pub fn recovery_band(hours: f64) -> Band {
    if hours < 1.0 {
        Band::Elite
    } else if hours < 24.0 {
        Band::High
    } else if hours < 24.0 * 7.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        // June 2025: the 2nd is a Monday.
        Utc.with_ymd_and_hms(2025, 6, d, h, 0, 0).unwrap()
    }
    fn dep(id: i64, at: DateTime<Utc>, success: bool) -> Deploy {
        Deploy {
            id,
            production: true,
            success,
            finished_at: at,
        }
    }
    /// 2 June 00:00 to 16 June 00:00: two full calendar weeks.
    fn two_weeks() -> Window {
        Window {
            start: t(2, 0),
            end: t(16, 0),
        }
    }

    #[test]
    fn no_deployments_is_low_frequency_and_no_data_elsewhere() {
        let d = compute(two_weeks(), &[], &[], &[]);
        assert_eq!(d.deployments, 0);
        assert_eq!(d.deployment_frequency.median_days_per_week, 0.0);
        assert_eq!(d.deployment_frequency.band, Band::Low);
        assert_eq!(
            d.lead_time,
            LeadTime {
                median_hours: None,
                changes: 0,
                band: Band::NoData
            }
        );
        assert_eq!(d.change_failure_rate.rate, None);
        assert_eq!(d.change_failure_rate.band, Band::NoData);
        assert_eq!(d.recovery_time.band, Band::NoData);
    }

    #[test]
    fn hand_computed_fixture() {
        // Week 1: deployments on Mon (twice), Tue, Wed → 3 days. Week 2: Mon only → 1 day.
        // A failed deployment (id 9), a staging one (id 8) and one outside the window (id 7) do not count.
        let mut deploys = vec![
            dep(1, t(2, 10), true),
            dep(2, t(2, 15), true),
            dep(3, t(3, 12), true),
            dep(4, t(4, 12), true),
            dep(5, t(9, 12), true),
            dep(9, t(10, 12), false),
            dep(7, t(20, 12), true),
        ];
        deploys.push(Deploy {
            id: 8,
            production: false,
            success: true,
            finished_at: t(11, 12),
        });
        // Lead times 2 h, 10 h, 30 h, 50 h → lower median 10 h.
        let changes = vec![
            Change {
                deployment_id: 1,
                first_commit_at: t(2, 8),
            },
            Change {
                deployment_id: 3,
                first_commit_at: t(3, 2),
            },
            Change {
                deployment_id: 4,
                first_commit_at: t(3, 6),
            },
            Change {
                deployment_id: 5,
                first_commit_at: t(7, 10),
            },
            Change {
                deployment_id: 9,
                first_commit_at: t(1, 0),
            },
            Change {
                deployment_id: 7,
                first_commit_at: t(1, 0),
            },
        ];
        // Deployments 1 and 4 caused incidents (1 caused two); 4's is unresolved; 9 is failed.
        let incidents = vec![
            IncidentRef {
                deployment_id: Some(1),
                resolved_at: Some(t(2, 13)),
            },
            IncidentRef {
                deployment_id: Some(1),
                resolved_at: Some(t(2, 20)),
            },
            IncidentRef {
                deployment_id: Some(4),
                resolved_at: None,
            },
            IncidentRef {
                deployment_id: Some(9),
                resolved_at: Some(t(10, 13)),
            },
            IncidentRef {
                deployment_id: None,
                resolved_at: Some(t(5, 1)),
            },
        ];
        let d = compute(two_weeks(), &deploys, &changes, &incidents);
        assert_eq!(d.deployments, 5);
        assert_eq!(d.failed_deployments, 1);
        let f = &d.deployment_frequency;
        assert_eq!(f.deployment_days, 4);
        // Weeks [3, 1] → lower median 1; one month (June) with 4 days.
        assert_eq!(
            (f.median_days_per_week, f.median_days_per_month),
            (1.0, 4.0)
        );
        assert_eq!(f.band, Band::High);
        assert_eq!(
            d.lead_time,
            LeadTime {
                median_hours: Some(10.0),
                changes: 4,
                band: Band::Elite
            }
        );
        assert_eq!(d.change_failure_rate.failed, 2);
        assert_eq!(d.change_failure_rate.rate, Some(0.4));
        assert_eq!(d.change_failure_rate.band, Band::Low);
        // Recovery: 13−10 = 3 h and 20−10 = 10 h → lower median 3 h; one unresolved.
        assert_eq!(
            d.recovery_time,
            Recovery {
                median_hours: Some(3.0),
                incidents: 2,
                unresolved: 1,
                band: Band::High
            }
        );
    }

    #[test]
    fn partial_weeks_and_months_count_as_buckets() {
        // Thursday 5 June to Wednesday 11 June: two partial weeks; deploy every day of the first.
        let w = Window {
            start: t(5, 0),
            end: t(11, 0),
        };
        let deploys: Vec<Deploy> = (5..=8).map(|d| dep(i64::from(d), t(d, 9), true)).collect();
        let f = compute(w, &deploys, &[], &[]).deployment_frequency;
        assert_eq!(f.deployment_days, 4);
        // Week of 2 June: 4 days; week of 9 June: 0 days → lower median 0.
        assert_eq!(f.median_days_per_week, 0.0);
        assert_eq!(f.median_days_per_month, 4.0);
        assert_eq!(f.band, Band::Medium);
    }

    #[test]
    fn only_unresolved_incidents_give_no_recovery_median() {
        let deploys = [dep(1, t(2, 10), true)];
        let incidents = [IncidentRef {
            deployment_id: Some(1),
            resolved_at: None,
        }];
        let d = compute(two_weeks(), &deploys, &[], &incidents);
        assert_eq!(d.change_failure_rate.rate, Some(1.0));
        assert_eq!(
            d.recovery_time,
            Recovery {
                median_hours: None,
                incidents: 0,
                unresolved: 1,
                band: Band::NoData
            }
        );
    }

    /// Minutes as hours: DevLake compares lead and recovery times in whole minutes.
    fn minutes(m: u32) -> f64 {
        f64::from(m) / 60.0
    }

    // The band tests below are written from DevLake's 2023 CASE expressions
    // (apache/devlake grafana/dashboards/DORA.json), one value on each side of every edge.

    #[test]
    fn frequency_bands_follow_devlake_2023() {
        // `median_number_of_deployment_days_per_week >= 5 THEN elite`: 5 days a week is
        // Elite (PR #7961 lowered it from 7), 4 is High.
        assert_eq!(frequency_band(7.0, 30.0), Band::Elite);
        assert_eq!(frequency_band(6.0, 26.0), Band::Elite);
        assert_eq!(frequency_band(5.0, 20.0), Band::Elite);
        assert_eq!(frequency_band(4.0, 20.0), Band::High);
        // `per_week >= 1 THEN high`, checked before the monthly median.
        assert_eq!(frequency_band(1.0, 4.0), Band::High);
        assert_eq!(frequency_band(1.0, 0.0), Band::High);
        // `per_month >= 1 THEN medium`, else low.
        assert_eq!(frequency_band(0.0, 4.0), Band::Medium);
        assert_eq!(frequency_band(0.0, 1.0), Band::Medium);
        assert_eq!(frequency_band(0.0, 0.0), Band::Low);
    }

    #[test]
    fn lead_time_bands_follow_devlake_2023() {
        // `< 24 * 60` minutes elite, `< 7 * 24 * 60` high, `< 30 * 24 * 60` medium, else low.
        assert_eq!(lead_time_band(0.0), Band::Elite);
        assert_eq!(lead_time_band(minutes(24 * 60 - 1)), Band::Elite);
        assert_eq!(lead_time_band(minutes(24 * 60)), Band::High);
        assert_eq!(lead_time_band(minutes(7 * 24 * 60 - 1)), Band::High);
        assert_eq!(lead_time_band(minutes(7 * 24 * 60)), Band::Medium);
        assert_eq!(lead_time_band(minutes(30 * 24 * 60 - 1)), Band::Medium);
        assert_eq!(lead_time_band(minutes(30 * 24 * 60)), Band::Low);
    }

    #[test]
    fn failure_rate_bands_follow_devlake_2023() {
        // `<= .05` elite, `<= .10` high, `<= .15` medium, `> .15` low, as ratios of counts.
        let band = |failed: u32, of: u32| failure_rate_band(f64::from(failed) / f64::from(of));
        assert_eq!(band(0, 10), Band::Elite);
        assert_eq!(band(1, 20), Band::Elite);
        assert_eq!(band(1, 19), Band::High);
        assert_eq!(band(2, 20), Band::High);
        assert_eq!(band(1, 9), Band::Medium);
        assert_eq!(band(3, 20), Band::Medium);
        assert_eq!(band(4, 26), Band::Low);
        assert_eq!(band(5, 5), Band::Low);
    }

    #[test]
    fn recovery_bands_follow_devlake_2023() {
        // `< 60` minutes elite, `< 24 * 60` high, `< 7 * 24 * 60` medium, else low.
        assert_eq!(recovery_band(0.0), Band::Elite);
        assert_eq!(recovery_band(minutes(59)), Band::Elite);
        assert_eq!(recovery_band(minutes(60)), Band::High);
        assert_eq!(recovery_band(minutes(24 * 60 - 1)), Band::High);
        assert_eq!(recovery_band(minutes(24 * 60)), Band::Medium);
        assert_eq!(recovery_band(minutes(7 * 24 * 60 - 1)), Band::Medium);
        assert_eq!(recovery_band(minutes(7 * 24 * 60)), Band::Low);
    }

    /// 2 June 00:00 to 30 June 00:00: four full calendar weeks, one calendar month.
    fn four_weeks() -> Window {
        Window {
            start: t(2, 0),
            end: t(30, 0),
        }
    }

    /// One deployment at noon on each of `weekdays` (0 = Monday) of the four weeks.
    fn weekly_deploys(weekdays: &[u32]) -> Vec<Deploy> {
        (0..4)
            .flat_map(|w| weekdays.iter().map(move |d| 2 + 7 * w + d))
            .map(|day| dep(i64::from(day), t(day, 12), true))
            .collect()
    }

    #[test]
    fn deployment_days_per_week_switch_bands_where_devlake_does() {
        let band =
            |deploys: &[Deploy]| compute(four_weeks(), deploys, &[], &[]).deployment_frequency;
        // Monday to Friday every week: median 5 days a week, Elite.
        let f = band(&weekly_deploys(&[0, 1, 2, 3, 4]));
        assert_eq!((f.median_days_per_week, f.band), (5.0, Band::Elite));
        // Monday to Thursday: 4, High.
        let f = band(&weekly_deploys(&[0, 1, 2, 3]));
        assert_eq!((f.median_days_per_week, f.band), (4.0, Band::High));
        // Mondays only: 1, High.
        let f = band(&weekly_deploys(&[0]));
        assert_eq!((f.median_days_per_week, f.band), (1.0, Band::High));
        // Two Mondays of four: weeks [1, 0, 1, 0] → lower median 0; the month has 2, Medium.
        let f = band(&[dep(1, t(2, 12), true), dep(2, t(16, 12), true)]);
        assert_eq!(
            (f.median_days_per_week, f.median_days_per_month, f.band),
            (0.0, 2.0, Band::Medium)
        );
        // One deployment day in the month: still Medium; none at all: Low (DevLake shows
        // "0 deployment days per month(low)" since its `is_collected` count is 0, not NULL).
        let f = band(&[dep(1, t(3, 12), true)]);
        assert_eq!((f.median_days_per_month, f.band), (1.0, Band::Medium));
        assert_eq!(band(&[]).band, Band::Low);
    }

    #[test]
    fn change_failure_rate_switches_bands_where_devlake_does() {
        let deploys = |n: u32| -> Vec<Deploy> {
            (0..n)
                .map(|i| dep(i64::from(i), t(2, 0) + Duration::hours(i64::from(i)), true))
                .collect()
        };
        let failed_first = [IncidentRef {
            deployment_id: Some(0),
            resolved_at: None,
        }];
        // 1 of 20 is 5 %: Elite. 1 of 19 is 5.3 %: High.
        let cfr = |n| compute(four_weeks(), &deploys(n), &[], &failed_first).change_failure_rate;
        assert_eq!((cfr(20).rate, cfr(20).band), (Some(0.05), Band::Elite));
        assert_eq!(cfr(19).band, Band::High);
        // 1 of 10 is 10 %: High. 1 of 9 is 11 %: Medium.
        assert_eq!(cfr(10).band, Band::High);
        assert_eq!(cfr(9).band, Band::Medium);
    }

    #[test]
    fn lead_and_recovery_times_switch_bands_at_whole_minutes() {
        let d = [dep(1, t(10, 12), true)];
        let change = |before: i64| Change {
            deployment_id: 1,
            first_commit_at: t(10, 12) - Duration::minutes(before),
        };
        let lead = |before| {
            compute(four_weeks(), &d, &[change(before)], &[])
                .lead_time
                .band
        };
        assert_eq!(lead(24 * 60 - 1), Band::Elite);
        assert_eq!(lead(24 * 60), Band::High);
        let incident = |after: i64| IncidentRef {
            deployment_id: Some(1),
            resolved_at: Some(t(10, 12) + Duration::minutes(after)),
        };
        let recovery = |after| {
            compute(four_weeks(), &d, &[], &[incident(after)])
                .recovery_time
                .band
        };
        assert_eq!(recovery(59), Band::Elite);
        assert_eq!(recovery(60), Band::High);
        assert_eq!(recovery(24 * 60 - 1), Band::High);
        assert_eq!(recovery(24 * 60), Band::Medium);
    }

    #[test]
    fn recovery_counts_only_incidents_resolved_within_the_window() {
        // DevLake filters `$__timeFilter(i.resolution_date)`: an incident resolved after the
        // window's end is not in the median; here it is counted as unresolved.
        let deploys = [dep(1, t(27, 12), true)];
        let incidents = [
            IncidentRef {
                deployment_id: Some(1),
                resolved_at: Some(t(27, 14)),
            },
            IncidentRef {
                deployment_id: Some(1),
                resolved_at: Some(t(30, 12)),
            },
            IncidentRef {
                deployment_id: Some(1),
                resolved_at: None,
            },
        ];
        let r = compute(four_weeks(), &deploys, &[], &incidents).recovery_time;
        assert_eq!(
            r,
            Recovery {
                median_hours: Some(2.0),
                incidents: 1,
                unresolved: 2,
                band: Band::High
            }
        );
        // The deployment still failed: the change failure rate counts it regardless.
        let cfr = compute(four_weeks(), &deploys, &[], &incidents).change_failure_rate;
        assert_eq!(cfr.rate, Some(1.0));
    }

    #[test]
    fn medians_are_devlake_lower_medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![7.0]), Some(7.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(1.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![1.0, 1.0, 2.0, 2.0]), Some(1.0));
    }

    #[test]
    fn weekly_lead_time_buckets_by_deployment_week() {
        let deploys = [dep(1, t(3, 12), true), dep(2, t(10, 12), true)];
        let changes = [
            Change {
                deployment_id: 1,
                first_commit_at: t(3, 0),
            },
            Change {
                deployment_id: 2,
                first_commit_at: t(9, 12),
            },
            Change {
                deployment_id: 2,
                first_commit_at: t(8, 12),
            },
        ];
        let weeks = weekly_lead_time(two_weeks(), &deploys, &changes);
        assert_eq!(weeks.len(), 2);
        assert_eq!(
            weeks[0],
            (NaiveDate::from_ymd_opt(2025, 6, 2).unwrap(), Some(12.0), 1)
        );
        assert_eq!(
            weeks[1],
            (NaiveDate::from_ymd_opt(2025, 6, 9).unwrap(), Some(24.0), 2)
        );
    }
}
