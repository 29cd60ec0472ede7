//! `metric_anomalies`: unusual days and weeks in one delivery metric.
//!
//! Two layers. The detection ([`detect`]), here, is a pure function from a [`Series`] — the
//! raw observations of each day — to anomalies, so it can be tested on synthetic series.
//! The builtin (`toolbox::anomalies`) fetches a metric's raw events (a timestamp and a
//! value each) with plain SQL that runs on SQLite, PostgreSQL and ClickHouse 18.16 (no
//! window functions, no CTEs, no date arithmetic) and buckets them into a series.
//!
//! The method, per metric kind ([`Kind`]):
//!
//! - **Scores** are robust z-scores: (value − median) / (1.4826 × MAD) on a
//!   variance-stabilising scale — `ln x` for durations (lead times are log-normal-ish),
//!   `asin √p` for rates (binomial noise has spread 1/(2√n)) — with the spread never taken
//!   below the sampling noise of the period, so a rate over one deployment cannot raise an
//!   alarm. Counts are often small (failures, incidents: a MAD of 0), where no scale is
//!   normal yet: their score is the exact Poisson tail at the reference's mean rate, as a
//!   z-score, divided by the spread beyond Poisson noise (the MAD on the `2√(x + 3/8)`
//!   scale, where Poisson noise has unit spread, when it exceeds 1).
//! - **Days** (counts only): each day against the same weekday over the window, the day
//!   itself left out — weekday seasonality without a model. A day's median or rate rests on
//!   one to five events, too few to score (on the demo data per-day lead-time medians gave
//!   five to eight alarms on every clean team), so durations and rates are scored by week.
//! - **Weeks** (Monday to Sunday, whole weeks inside the window): each week's total (counts),
//!   median (durations) or rate against the other weeks, itself left out.
//! - **Recent weeks**: the last k weeks together (k = 2…8) against the weeks before: the
//!   mean of the run on the kind's scale (square root for counts), each week clipped to 4
//!   spreads from the usual level, against the median before, the spread divided by √k —
//!   a sustained shift (a degrading lead time) that no single week shows clearly. The k
//!   with the largest score is reported; the mean, unlike a median, is diluted by weeks
//!   before the shift began, so that k is its length.
//! - **Thresholds** ([`Thresholds`]): at the default sensitivity a week is anomalous at
//!   |z| ≥ 3.5 (Iglewicz and Hoaglin's cut-off); a day at 4.0, since a series has seven
//!   times as many days as weeks (3.5 Bonferroni-adjusted for 7× the tests); recent weeks
//!   at 4.0 (the best of up to seven runs).
//! - **Severity** ([`Severity`]): the larger of what the score and the size say — high at
//!   |z| ≥ 7 or a value 4× (or ¼ of) the expected one, medium at |z| ≥ 5 or 2× (or ½),
//!   else low. The expected value is the median of the reference, in the metric's unit.

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use super::stats::{median, poisson_z, spread};

// ── Detection ────────────────────────────────────────────────────────────────

/// Reference points a score needs (8 other weeks, or the same weekday in 8 other weeks).
pub const MIN_REFERENCE: usize = 8;
/// The longest recent run of weeks checked for a shift.
const MAX_RECENT_WEEKS: usize = 8;
/// A median of n normal values is noisier than their mean by this factor (for large n).
const MEDIAN_EFFICIENCY: f64 = 1.2533;
/// In a recent run, a week counts at most this many spreads from the usual level.
const RECENT_WEEK_CLIP: f64 = 4.0;
/// Durations are scored in logs; below this (36 s) they are rounding, not time.
const MIN_DURATION: f64 = 0.01;
/// The smallest spread of a log-duration score: a 5 % change is never notable.
const MIN_LOG_SPREAD: f64 = 0.05;

/// How a metric's observations aggregate and what noise they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Events per period (each observation counts its value, usually 1).
    Count,
    /// Positive durations; a period's value is their median.
    Duration,
    /// Observations of 0 or 1; a period's value is their mean (a rate).
    Rate,
}

impl Kind {
    fn aggregate(self, values: &[f64]) -> Option<f64> {
        match self {
            Kind::Count => Some(values.iter().sum()),
            _ if values.is_empty() => None,
            Kind::Duration => median(values),
            Kind::Rate => Some(values.iter().sum::<f64>() / values.len() as f64),
        }
    }

    /// The variance-stabilising scale scores are computed on.
    fn scale(self, x: f64) -> f64 {
        match self {
            Kind::Count => 2.0 * (x.max(0.0) + 0.375).sqrt(),
            Kind::Duration => x.max(MIN_DURATION).ln(),
            Kind::Rate => x.clamp(0.0, 1.0).sqrt().asin(),
        }
    }

    /// The sampling noise (standard deviation on [`Kind::scale`]) of a period holding `n`
    /// observations; `log_spread` is the robust spread of single log-durations.
    fn noise(self, n: f64, log_spread: f64) -> f64 {
        let n = n.max(1.0);
        match self {
            Kind::Count => 1.0,
            Kind::Rate => 1.0 / (2.0 * n.sqrt()),
            Kind::Duration => (MEDIAN_EFFICIENCY * log_spread / n.sqrt()).max(MIN_LOG_SPREAD),
        }
    }

    /// Whether single days are scored (see the module notes).
    fn scores_days(self) -> bool {
        self == Kind::Count
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Duration => "duration",
            Kind::Rate => "rate",
        }
    }
}

/// The raw observations of each day from `start` (one `Vec` per day).
#[derive(Debug, Clone)]
pub struct Series {
    pub kind: Kind,
    pub start: NaiveDate,
    pub days: Vec<Vec<f64>>,
}

impl Series {
    /// An empty series over `[start, end)`.
    pub fn new(kind: Kind, start: NaiveDate, end: NaiveDate) -> Series {
        let n = (end - start).num_days().max(0) as usize;
        Series {
            kind,
            start,
            days: vec![Vec::new(); n],
        }
    }

    /// Adds an observation on `day`; days outside the series are ignored.
    pub fn add(&mut self, day: NaiveDate, value: f64) {
        let i = (day - self.start).num_days();
        if let Some(d) = usize::try_from(i).ok().and_then(|i| self.days.get_mut(i)) {
            d.push(value);
        }
    }

    /// Adds `times` observations of `value` on `day` (a day's count from the database).
    pub fn add_times(&mut self, day: NaiveDate, value: f64, times: usize) {
        let i = (day - self.start).num_days();
        if let Some(d) = usize::try_from(i).ok().and_then(|i| self.days.get_mut(i)) {
            d.extend(std::iter::repeat_n(value, times));
        }
    }

    pub fn end(&self) -> NaiveDate {
        self.start + Duration::days(self.days.len() as i64)
    }

    /// Count series from daily totals (for tests and callers that already bucketed).
    pub fn counts(start: NaiveDate, totals: &[f64]) -> Series {
        Series {
            kind: Kind::Count,
            start,
            days: totals.iter().map(|&t| vec![t]).collect(),
        }
    }
}

/// Score cut-offs per granularity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub day: f64,
    pub week: f64,
    pub recent_weeks: f64,
}

impl Thresholds {
    /// `low` reports only the clearest anomalies, `high` more of the doubtful ones.
    pub fn for_sensitivity(sensitivity: &str) -> Option<Thresholds> {
        let week = match sensitivity {
            "low" => 4.5,
            "medium" => 3.5,
            "high" => 3.0,
            _ => return None,
        };
        Some(Thresholds {
            day: week + 0.5,
            week,
            recent_weeks: week + 0.5,
        })
    }
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds::for_sensitivity("medium").expect("medium is a sensitivity")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Spike,
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Week,
    RecentWeeks,
}

/// One period's aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: NaiveDate,
    pub value: Option<f64>,
    /// Observations in the period.
    pub n: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub granularity: Granularity,
    /// First day of the period.
    pub period: NaiveDate,
    /// Last day of the period (inclusive).
    pub end: NaiveDate,
    /// The period in words: "Tue 13 May 2025", "week of 12 May 2025", "last 3 weeks (from 9 Jun 2025)".
    pub label: String,
    pub value: f64,
    /// The median of the reference periods.
    pub expected: f64,
    pub score: f64,
    pub severity: Severity,
    pub direction: Direction,
    /// Observations in the period.
    pub observations: usize,
}

#[derive(Debug, Clone)]
pub struct Detection {
    pub daily: Vec<Bucket>,
    /// Whole weeks (Monday to Sunday) inside the series.
    pub weekly: Vec<Bucket>,
    /// Most severe first.
    pub anomalies: Vec<Anomaly>,
    /// What could not be scored, and why.
    pub notes: Vec<String>,
}

/// Scores every day (counts), week and recent run of weeks of `series`.
pub fn detect(series: &Series, th: Thresholds) -> Detection {
    let kind = series.kind;
    let daily: Vec<Bucket> = series
        .days
        .iter()
        .enumerate()
        .map(|(i, obs)| Bucket {
            start: series.start + Duration::days(i as i64),
            value: kind.aggregate(obs),
            n: obs.len(),
        })
        .collect();
    let weekly = weeks(series);
    let log_spread = if kind == Kind::Duration {
        let logs: Vec<f64> = series
            .days
            .iter()
            .flatten()
            .map(|&x| kind.scale(x))
            .collect();
        spread(&logs)
    } else {
        0.0
    };
    let mut anomalies = Vec::new();
    let mut notes = Vec::new();

    if kind.scores_days() {
        for (i, b) in daily.iter().enumerate() {
            let reference: Vec<&Bucket> = daily
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i && j % 7 == i % 7)
                .map(|(_, b)| b)
                .collect();
            if let Some(a) = score(kind, b, &reference, log_spread, th.day, Granularity::Day, 1) {
                anomalies.push(a);
            }
        }
        // Every weekday needs MIN_REFERENCE other weeks: no day is scored before then.
        if daily.len() <= 7 * MIN_REFERENCE {
            notes.push(format!(
                "days not scored: each needs the same weekday in {MIN_REFERENCE} other weeks"
            ));
        }
    }

    let with_values: Vec<&Bucket> = weekly.iter().filter(|w| w.value.is_some()).collect();
    if with_values.len() > MIN_REFERENCE {
        for (i, w) in with_values.iter().enumerate() {
            let reference: Vec<&Bucket> = with_values
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, w)| *w)
                .collect();
            if let Some(a) = score(
                kind,
                w,
                &reference,
                log_spread,
                th.week,
                Granularity::Week,
                7,
            ) {
                anomalies.push(a);
            }
        }
        if let Some(a) = recent_shift(kind, &with_values, log_spread, th.recent_weeks) {
            anomalies.push(a);
        }
    } else {
        notes.push(format!(
            "weeks not scored: {} whole weeks with data, {} needed",
            with_values.len(),
            MIN_REFERENCE + 1
        ));
    }

    anomalies.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.score.abs().total_cmp(&a.score.abs()))
            .then(a.period.cmp(&b.period))
    });
    Detection {
        daily,
        weekly,
        anomalies,
        notes,
    }
}

/// The whole Monday-to-Sunday weeks inside the series.
fn weeks(series: &Series) -> Vec<Bucket> {
    let offset = (7 - series.start.weekday().num_days_from_monday() as usize) % 7;
    series
        .days
        .get(offset..)
        .unwrap_or_default()
        .chunks_exact(7)
        .enumerate()
        .map(|(i, days)| {
            let obs: Vec<f64> = days.iter().flatten().copied().collect();
            Bucket {
                start: series.start + Duration::days((offset + 7 * i) as i64),
                value: series.kind.aggregate(&obs),
                n: obs.len(),
            }
        })
        .collect()
}

/// The anomaly `b` is against `reference`, if its score reaches `threshold`.
fn score(
    kind: Kind,
    b: &Bucket,
    reference: &[&Bucket],
    log_spread: f64,
    threshold: f64,
    granularity: Granularity,
    days: i64,
) -> Option<Anomaly> {
    let value = b.value?;
    let raw: Vec<f64> = reference.iter().filter_map(|r| r.value).collect();
    if raw.len() < MIN_REFERENCE {
        return None;
    }
    let scaled: Vec<f64> = raw.iter().map(|&x| kind.scale(x)).collect();
    let z = match kind {
        // Counts: the Poisson tail at the reference's mean rate (exact where counts are
        // small and the square-root scale is not yet normal), deflated by any spread
        // beyond Poisson noise.
        Kind::Count => {
            // Half an event of prior (Jeffreys): a weekday that never saw a failure does
            // not make the first one infinitely surprising.
            let mean = (raw.iter().sum::<f64>() + 0.5) / raw.len() as f64;
            poisson_z(value, mean) / spread(&scaled).max(kind.noise(b.n as f64, log_spread))
        }
        _ => {
            let sd = spread(&scaled).max(kind.noise(b.n as f64, log_spread));
            (kind.scale(value) - median(&scaled)?) / sd
        }
    };
    let expected = median(&raw)?;
    (z.abs() >= threshold).then(|| {
        anomaly(
            granularity,
            b.start,
            b.start + Duration::days(days - 1),
            value,
            expected,
            z,
            b.n,
        )
    })
}

/// The strongest shift of the last k weeks (k = 2…8) against the weeks before them.
fn recent_shift(kind: Kind, weeks: &[&Bucket], log_spread: f64, threshold: f64) -> Option<Anomaly> {
    let mut best: Option<(f64, Anomaly)> = None;
    for k in 2..=MAX_RECENT_WEEKS.min(weeks.len() / 3) {
        let (before, recent) = weeks.split_at(weeks.len() - k);
        if before.len() < MIN_REFERENCE {
            break;
        }
        let raw_before: Vec<f64> = before.iter().filter_map(|w| w.value).collect();
        let raw_recent: Vec<f64> = recent.iter().filter_map(|w| w.value).collect();
        let scaled = |v: &[f64]| v.iter().map(|&x| kind.scale(x)).collect::<Vec<f64>>();
        let Some(center) = median(&scaled(&raw_before)) else {
            continue;
        };
        let n = recent.iter().map(|w| w.n).sum::<usize>() as f64 / k as f64;
        let sd = spread(&scaled(&raw_before)).max(kind.noise(n, log_spread));
        // The mean of the run picks the run's true length (a longer run dilutes it), with
        // each week clipped so that one wild week, which the week scores report anyway,
        // cannot make a shift of its own.
        let bound = RECENT_WEEK_CLIP * sd;
        let clipped = scaled(&raw_recent)
            .iter()
            .map(|x| x.clamp(center - bound, center + bound))
            .sum::<f64>()
            / raw_recent.len().max(1) as f64;
        let z = (clipped - center) / (sd / (raw_recent.len().max(1) as f64).sqrt());
        if z.abs() >= threshold && best.as_ref().is_none_or(|(b, _)| z.abs() > b.abs()) {
            let start = recent[0].start;
            let end = recent[k - 1].start + Duration::days(6);
            let shift = anomaly(
                Granularity::RecentWeeks,
                start,
                end,
                median(&raw_recent)?,
                median(&raw_before)?,
                z,
                recent.iter().map(|w| w.n).sum(),
            );
            best = Some((z, shift));
        }
    }
    best.map(|(_, a)| a)
}

fn anomaly(
    granularity: Granularity,
    period: NaiveDate,
    end: NaiveDate,
    value: f64,
    expected: f64,
    z: f64,
    observations: usize,
) -> Anomaly {
    let label = match granularity {
        Granularity::Day => period.format("%a %-d %b %Y").to_string(),
        Granularity::Week => format!("week of {}", period.format("%-d %b %Y")),
        Granularity::RecentWeeks => format!(
            "last {} weeks (from {})",
            ((end - period).num_days() + 1) / 7,
            period.format("%-d %b %Y")
        ),
    };
    Anomaly {
        granularity,
        period,
        end,
        label,
        value,
        expected,
        score: (z * 10.0).round() / 10.0,
        severity: severity(z, value, expected),
        direction: if z > 0.0 {
            Direction::Spike
        } else {
            Direction::Drop
        },
        observations,
    }
}

/// The larger of what the score and the size of the change say (module notes).
pub fn severity(z: f64, value: f64, expected: f64) -> Severity {
    let by_score = match z.abs() {
        s if s >= 7.0 => Severity::High,
        s if s >= 5.0 => Severity::Medium,
        _ => Severity::Low,
    };
    let (hi, lo) = (value.max(expected), value.min(expected));
    let factor = if lo > 0.0 {
        hi / lo
    } else if hi > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    let by_size = match factor {
        f if f >= 4.0 => Severity::High,
        f if f >= 2.0 => Severity::Medium,
        _ => Severity::Low,
    };
    by_score.max(by_size)
}

/// The method in a sentence or three, for the answer and the model explaining it.
pub fn method(kind: Kind, th: Thresholds) -> String {
    let (score, scale) = match kind {
        Kind::Count => (
            "the Poisson tail probability at the usual rate, as a z-score (discounted where counts vary more than Poisson noise)",
            "square-root",
        ),
        Kind::Duration => (
            "a robust z-score (median and MAD of the other periods) on a log scale, never below the sampling noise of a median",
            "log",
        ),
        Kind::Rate => (
            "a robust z-score (median and MAD of the other periods) on an arcsine scale, never below binomial noise",
            "arcsine",
        ),
    };
    let days = if kind.scores_days() {
        format!(
            "each day against the same weekday in the other weeks (|z| ≥ {}) and ",
            th.day
        )
    } else {
        String::new()
    };
    format!(
        "Checked {days}each week against the other weeks (|z| ≥ {}), scored by {score}; and the last \
         2–8 weeks together, their median against the weeks before on the {scale} scale (|z| ≥ {}).",
        th.week, th.recent_weeks
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_first_event_in_a_quiet_series_is_no_alarm_but_a_burst_is() {
        // A count that is usually 0 has a MAD of 0: the Poisson tail, not the MAD, decides.
        let mut totals = vec![0.0; 10 * 7];
        totals[30] = 1.0;
        let quiet = detect(
            &Series::counts(day("2025-01-06"), &totals),
            Thresholds::default(),
        );
        assert!(quiet.anomalies.is_empty(), "{:?}", quiet.anomalies);
        totals[30] = 6.0;
        let burst = detect(
            &Series::counts(day("2025-01-06"), &totals),
            Thresholds::default(),
        );
        let found: Vec<_> = burst
            .anomalies
            .iter()
            .map(|a| (a.granularity, a.direction))
            .collect();
        assert!(
            found.contains(&(Granularity::Day, Direction::Spike)),
            "{found:?}"
        );
        assert!(
            found.contains(&(Granularity::Week, Direction::Spike)),
            "{found:?}"
        );
    }

    #[test]
    fn weeks_are_whole_and_monday_based() {
        // Wednesday 1 Jan 2025 to Sunday 30 Mar: the first partial week is left out.
        let s = Series::counts(day("2025-01-01"), &vec![1.0; 89]);
        let w = weeks(&s);
        assert_eq!(w[0].start, day("2025-01-06"));
        assert_eq!(w.len(), 12);
        assert!(w.iter().all(|b| b.value == Some(7.0)));
    }

    #[test]
    fn a_rate_over_one_deployment_is_no_alarm_but_a_bad_week_is() {
        let start = day("2025-01-06");
        let mut s = Series::new(Kind::Rate, start, start + Duration::weeks(20));
        for w in 0..20 {
            for d in 0..5 {
                let at = start + Duration::days(w * 7 + d);
                // 5 deployments a workday, one failing change a week.
                for i in 0..5 {
                    s.add(at, f64::from(u8::from(d == 0 && i == 0)));
                }
            }
        }
        // Week 8 fails half its changes; week 12 has a single deployment, which failed.
        let bad = start + Duration::weeks(8);
        for d in 0..5 {
            s.days[(bad - start).num_days() as usize + d] = vec![1.0, 1.0, 0.0, 1.0, 0.0];
        }
        let lone = (start + Duration::weeks(12) - start).num_days() as usize;
        for d in 0..5 {
            s.days[lone + d] = if d == 2 { vec![1.0] } else { vec![] };
        }
        let found = detect(&s, Thresholds::default());
        let periods: Vec<(Granularity, NaiveDate)> = found
            .anomalies
            .iter()
            .map(|a| (a.granularity, a.period))
            .collect();
        assert_eq!(periods, [(Granularity::Week, bad)], "{:?}", found.anomalies);
        assert_eq!(found.anomalies[0].severity, Severity::High);
        assert_eq!(found.anomalies[0].direction, Direction::Spike);
    }

    #[test]
    fn a_recent_shift_in_durations_is_found() {
        let start = day("2025-01-06");
        let weeks = 26;
        let mut s = Series::new(Kind::Duration, start, start + Duration::weeks(weeks));
        let mut rng = crate::core::Rng::new(7);
        for w in 0..weeks {
            let slow = if w >= weeks - 4 { 3.0 } else { 1.0 };
            for d in 0..5 {
                for _ in 0..2 {
                    s.add(
                        start + Duration::days(w * 7 + d),
                        slow * rng.lognormal(40.0, 0.8),
                    );
                }
            }
        }
        let found = detect(&s, Thresholds::default());
        let shift = found
            .anomalies
            .iter()
            .find(|a| a.granularity == Granularity::RecentWeeks)
            .unwrap_or_else(|| panic!("{:?}", found.anomalies));
        assert_eq!(shift.direction, Direction::Spike);
        assert!(
            shift.period >= start + Duration::weeks(weeks - 4),
            "{shift:?}"
        );
        assert!(
            found
                .anomalies
                .iter()
                .all(|a| a.period >= start + Duration::weeks(weeks - 4))
        );
    }

    #[test]
    fn severity_takes_the_larger_of_score_and_size() {
        assert_eq!(severity(3.6, 12.0, 10.0), Severity::Low);
        assert_eq!(severity(5.2, 12.0, 10.0), Severity::Medium);
        assert_eq!(severity(3.6, 25.0, 10.0), Severity::Medium);
        assert_eq!(severity(-3.6, 2.0, 10.0), Severity::High);
        assert_eq!(severity(4.0, 6.0, 0.0), Severity::High);
        assert_eq!(severity(-7.5, 8.0, 10.0), Severity::High);
    }
}
