//! From a tool call's arguments to query parameters: schema defaults filled in, names
//! resolved through the directory, and the derived parameters every query may use.
//!
//! Conventions (documented in tools.yaml):
//! - args named `person`, `team`, `service`, `skills`, `topic` are resolved to stored names;
//! - `:now` is the instant the data describes (the demo's `as_of`), `:today` its date;
//! - a `days` or `weeks` arg gives `:since` = now minus that span, and `:until` = now;
//! - a `min_age_days` arg gives `:older_than` = now minus that many days;
//! - `since` and `until` args (days, `until` included) give `:since`/`:until` as instants
//!   and the `:period_*` bounds too, so one window fits every tool;
//! - a `period` arg ("now", "today", "this week", "next week", "next 10 days", …) gives
//!   `:period_start` / `:period_end` (dates, inclusive) and `:period_start_at` /
//!   `:period_end_at` (timestamps, end exclusive).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::Value;

use super::directory::Directory;
use crate::compile::ToolDef;
use crate::store::{Params, timestamp};

type Resolve = fn(&Directory, &str) -> Result<String, String>;
type Names = fn(&Directory) -> Vec<String>;

/// The args resolved to stored names: how, and the names they resolve to.
const RESOLVED: [(&str, Resolve, Names); 5] = [
    ("person", Directory::person, Directory::employees),
    ("team", Directory::team, Directory::teams),
    ("service", Directory::service, Directory::services),
    ("skills", Directory::skill, Directory::skills),
    ("topic", Directory::topic, Directory::topics),
];

/// What the conventions above accept for a string arg named `arg`, as JSON Schema
/// keywords for the API document: the stored names, the date form, the periods in their
/// plain spelling. Other spellings are read too (any case, "the Data team"); the document
/// names the canonical ones. None for an arg without a convention.
pub fn documented(arg: &str, dir: &Directory) -> Option<Value> {
    if let Some((_, _, names)) = RESOLVED.iter().find(|(a, _, _)| *a == arg) {
        return Some(serde_json::json!({ "enum": names(dir) }));
    }
    match arg {
        "since" | "until" => Some(serde_json::json!({ "format": "date" })),
        "period" => Some(serde_json::json!({
            "pattern": "^(now|right now|today|tomorrow|this week|next week|this month|next month|next ([1-9][0-9]?|[12][0-9][0-9]|3[0-5][0-9]|36[0-6]) (day|days|week|weeks))$"
        })),
        _ => None,
    }
}

pub fn prepare(
    tool: &ToolDef,
    args: &Value,
    dir: &Directory,
    now: DateTime<Utc>,
) -> Result<Params, String> {
    let mut p: Params = args.as_object().cloned().unwrap_or_default();
    if let Some(props) = tool
        .args_schema
        .get("properties")
        .and_then(Value::as_object)
    {
        for (name, schema) in props {
            if !p.contains_key(name)
                && let Some(d) = schema.get("default")
            {
                p.insert(name.clone(), d.clone());
            }
        }
    }
    for (arg, resolve, _) in RESOLVED {
        if let Some(Value::String(s)) = p.get(arg) {
            let name = resolve(dir, s)?;
            p.insert(arg.into(), Value::String(name));
        }
    }
    p.insert("now".into(), timestamp(now).into());
    p.insert("today".into(), day(now.date_naive()).into());
    if let Some(d) = p.get("min_age_days").and_then(Value::as_i64) {
        p.insert(
            "older_than".into(),
            timestamp(now - Duration::days(d)).into(),
        );
    }
    let date = |k: &str| -> Result<Option<NaiveDate>, String> {
        match p.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(s) => NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| format!("cannot read the date \"{s}\" of {k}; write YYYY-MM-DD")),
        }
    };
    // Every date and period given must read, also those an explicit window overrides.
    let end = date("until")?;
    let period = match p.get("period") {
        Some(Value::String(period)) => Some(period_bounds(period, now)?),
        _ => None,
    };
    if let Some(start) = date("since")? {
        // An explicit window: `since` and `until` are days, `until` included.
        let end_at = end.map_or(now, |e| midnight(e) + Duration::days(1));
        let last = end.unwrap_or(now.date_naive());
        p.insert("since".into(), timestamp(midnight(start)).into());
        p.insert("until".into(), timestamp(end_at).into());
        p.insert("period_start".into(), day(start).into());
        p.insert("period_end".into(), day(last).into());
        p.insert("period_start_at".into(), timestamp(midnight(start)).into());
        p.insert("period_end_at".into(), timestamp(end_at).into());
        return Ok(p);
    }
    // Without `since`, the window ends now (a lone `until` is not a window).
    p.insert("until".into(), timestamp(now).into());
    let span = match (
        p.get("days").and_then(Value::as_i64),
        p.get("weeks").and_then(Value::as_i64),
    ) {
        (Some(d), _) => Some(Duration::days(d)),
        (None, Some(w)) => Some(Duration::weeks(w)),
        _ => None,
    };
    if let Some(span) = span {
        p.insert("since".into(), timestamp(now - span).into());
    }
    if let Some((start, end, start_at, end_at)) = period {
        p.insert("period_start".into(), day(start).into());
        p.insert("period_end".into(), day(end).into());
        p.insert("period_start_at".into(), timestamp(start_at).into());
        p.insert("period_end_at".into(), timestamp(end_at).into());
    }
    Ok(p)
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Midnight UTC of a day.
pub fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

type Bounds = (NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>);

/// Dates (inclusive) and instants (end exclusive) of a period relative to `now`.
pub fn period_bounds(period: &str, now: DateTime<Utc>) -> Result<Bounds, String> {
    let today = now.date_naive();
    let days = |start: NaiveDate, n: i64| -> Bounds {
        let end = start + Duration::days(n - 1);
        (
            start,
            end,
            midnight(start),
            midnight(end) + Duration::days(1),
        )
    };
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first_of_month = today.with_day(1).expect("day 1 exists");
    let next_month = (first_of_month + Duration::days(32))
        .with_day(1)
        .expect("day 1 exists");
    let p = period.trim().to_lowercase();
    let words: Vec<&str> = p.split_whitespace().collect();
    Ok(match words.as_slice() {
        ["now"] | ["right", "now"] => (today, today, now, now),
        ["today"] => days(today, 1),
        ["tomorrow"] => days(today + Duration::days(1), 1),
        ["this", "week"] => days(monday, 7),
        ["next", "week"] => days(monday + Duration::weeks(1), 7),
        ["this", "month"] => days(first_of_month, (next_month - first_of_month).num_days()),
        ["next", "month"] => {
            let after = (next_month + Duration::days(32))
                .with_day(1)
                .expect("day 1 exists");
            days(next_month, (after - next_month).num_days())
        }
        ["next", n, unit] if n.parse::<i64>().is_ok_and(|n| (1..=366).contains(&n)) => {
            let n: i64 = n.parse().expect("checked");
            match *unit {
                "day" | "days" => days(today, n),
                "week" | "weeks" => days(today, 7 * n),
                _ => return Err(bad_period(period)),
            }
        }
        _ => return Err(bad_period(period)),
    })
}

fn bad_period(period: &str) -> String {
    format!(
        "cannot read the period \"{period}\"; say now, today, tomorrow, this week, next week, this month, next month, or next N days"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_relative_to_a_monday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let now = midnight(d("2025-06-30")); // a Monday
        let b = period_bounds("next week", now).unwrap();
        assert_eq!((b.0, b.1), (d("2025-07-07"), d("2025-07-13")));
        assert_eq!(b.3, midnight(d("2025-07-14")));
        let b = period_bounds("This Week", now).unwrap();
        assert_eq!((b.0, b.1), (d("2025-06-30"), d("2025-07-06")));
        let b = period_bounds("next 30 days", now).unwrap();
        assert_eq!((b.0, b.1), (d("2025-06-30"), d("2025-07-29")));
        let b = period_bounds("next month", now).unwrap();
        assert_eq!((b.0, b.1), (d("2025-07-01"), d("2025-07-31")));
        assert_eq!(period_bounds("now", now).unwrap().2, now);
        assert!(
            period_bounds("someday", now)
                .unwrap_err()
                .starts_with("cannot read the period \"someday\"")
        );
    }
}
