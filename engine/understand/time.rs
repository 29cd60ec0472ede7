//! Time expressions in a question, resolved against the organisation's "now" (the end of
//! its history, not the wall clock): today, yesterday, this/last/next week, month or
//! quarter, a month name ("in May"), Q1–Q4, since DATE, between A and B, last N
//! days/weeks/months, this/next/last sprint. Also ages ("in review for over a week").

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::text::Token;

/// A half-open span of time `[start, end)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// How the question said it ("in May", "last 30 days").
    pub label: String,
    /// Set for "last N days/weeks" ending now: the tools' `days` says it exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// Set where the tools' `period` argument says it ("this week", "next 10 days").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
}

impl Window {
    fn days(start: NaiveDate, end: NaiveDate, label: impl Into<String>) -> Window {
        Window {
            start: midnight(start),
            end: midnight(end),
            label: label.into(),
            days: None,
            period: None,
        }
    }
    /// The first and last day (inclusive), for date columns.
    pub fn dates(&self) -> (NaiveDate, NaiveDate) {
        let last = (self.end - Duration::nanoseconds(1)).date_naive();
        (self.start.date_naive(), last.max(self.start.date_naive()))
    }
    /// Whole days from start to end.
    pub fn span_days(&self) -> i64 {
        ((self.end - self.start).num_hours() + 23) / 24
    }

    /// The window one `unit` (day, week, month, quarter, sprint) later or earlier, as
    /// long as it was: "the week after" a week, "the month before" a month.
    pub fn shifted(&self, unit: &str, later: bool, label: &str) -> Option<Window> {
        let (a, b) = (self.start.date_naive(), self.end.date_naive());
        let months = |n: u32| {
            let m = chrono::Months::new(n);
            match later {
                true => Some((a.checked_add_months(m)?, b.checked_add_months(m)?)),
                false => Some((a.checked_sub_months(m)?, b.checked_sub_months(m)?)),
            }
        };
        let by = |d: Duration| match later {
            true => Some((a + d, b + d)),
            false => Some((a - d, b - d)),
        };
        let (start, end) = match unit {
            "day" => by(Duration::days(1))?,
            "week" => by(Duration::weeks(1))?,
            "fortnight" => by(Duration::weeks(2))?,
            "sprint" => by(Duration::days(self.span_days()))?,
            "month" => months(1)?,
            "quarter" => months(3)?,
            _ => return None,
        };
        Some(Window::days(start, end, label))
    }
}

/// What "now" and "the sprint" mean for this organisation.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub now: DateTime<Utc>,
    /// The sprint in progress at `now` (first day, last day), when the data has sprints.
    pub sprint: Option<(NaiveDate, NaiveDate)>,
}

impl Calendar {
    pub fn at(now: DateTime<Utc>) -> Calendar {
        Calendar { now, sprint: None }
    }
    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// A window found in the tokens, and which tokens said it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub value: T,
    pub tokens: std::ops::Range<usize>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_of(w: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| {
            *m == w || (w.len() >= 3 && m.starts_with(w) && (w.len() == 3 || w == "sept"))
        })
        .map(|i| i as u32 + 1)
}

/// A count written in digits or words ("3", "three", "a couple").
pub fn count(w: &str) -> Option<i64> {
    number(w).filter(|_| !matches!(w, "a" | "an"))
}

fn number(w: &str) -> Option<i64> {
    const WORDS: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    w.parse::<i64>()
        .ok()
        .or_else(|| WORDS.iter().position(|n| *n == w).map(|i| i as i64))
        .or_else(|| matches!(w, "a" | "an").then_some(1))
        .or_else(|| (w == "couple").then_some(2))
        .or_else(|| (w == "few").then_some(3))
}

/// The unit a word names ("weeks" → week), for windows and ages.
pub fn unit_days(w: &str) -> Option<&'static str> {
    match w {
        "day" | "days" => Some("day"),
        "week" | "weeks" | "wk" | "wks" => Some("week"),
        "month" | "months" => Some("month"),
        "quarter" | "quarters" => Some("quarter"),
        "year" | "years" => Some("year"),
        "sprint" | "sprints" => Some("sprint"),
        "fortnight" | "fortnights" => Some("fortnight"),
        _ => None,
    }
}

fn first_of_month(y: i32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n;
    first_of_month(total.div_euclid(12), total.rem_euclid(12) as u32 + 1)
}

fn year_of(w: &str) -> Option<i32> {
    w.parse::<i32>().ok().filter(|y| (1990..=2100).contains(y))
}

/// The year of a month (and day) said without one: the latest occurrence that begins
/// within the next three months, so in June "July" is next month and "December" the
/// one just past.
fn nearest_year(cal: &Calendar, m: u32, d: u32) -> i32 {
    let today = cal.today();
    let horizon = today + Duration::days(92);
    (today.year() - 1..=today.year() + 1)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, m, if d == 0 { 1 } else { d.min(28) }))
        .filter(|date| *date <= horizon)
        .max()
        .map_or(today.year(), |date| date.year())
}

/// The window of a calendar month: the named year, else the nearest occurrence.
fn month_window(cal: &Calendar, m: u32, year: Option<i32>) -> Window {
    let y = year.unwrap_or_else(|| nearest_year(cal, m, 0));
    let start = first_of_month(y, m);
    let name = MONTHS[m as usize - 1];
    let label = format!("{}{} {y}", name[..1].to_uppercase(), &name[1..]);
    Window::days(start, add_months(start, 1), label)
}

fn quarter_window(cal: &Calendar, q: u32, year: Option<i32>) -> Window {
    let y = year.unwrap_or_else(|| nearest_year(cal, (q - 1) * 3 + 1, 0));
    let start = first_of_month(y, (q - 1) * 3 + 1);
    Window::days(start, add_months(start, 3), format!("Q{q} {y}"))
}

/// A single date or month at `i` ("2025-05-12", "12 May", "May 12", "May", "May 2025"),
/// and how many tokens it took.
fn point(words: &[&str], i: usize, cal: &Calendar) -> Option<(Window, usize)> {
    let w = *words.get(i)?;
    // 2025-05-12 arrives as three words.
    if year_of(w).is_some()
        && let (Some(m), Some(d)) = (words.get(i + 1), words.get(i + 2))
        && let Ok(d) = NaiveDate::parse_from_str(&format!("{w}-{m}-{d}"), "%Y-%m-%d")
    {
        return Some((Window::days(d, d + Duration::days(1), d.to_string()), 3));
    }
    let day = |s: &str| {
        s.trim_end_matches(|c: char| c.is_alphabetic())
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=31).contains(d))
    };
    let resolve_day = |m: u32, d: u32, year: Option<i32>| {
        let y = year.unwrap_or_else(|| nearest_year(cal, m, d));
        let date = NaiveDate::from_ymd_opt(y, m, d)?;
        Some(Window::days(
            date,
            date + Duration::days(1),
            date.to_string(),
        ))
    };
    if let Some(d) = day(w)
        && let Some(m) = words.get(i + 1).and_then(|n| month_of(n))
    {
        let year = words.get(i + 2).and_then(|y| year_of(y));
        return resolve_day(m, d, year).map(|win| (win, 2 + usize::from(year.is_some())));
    }
    let m = month_of(w)?;
    if let Some(d) = words.get(i + 1).and_then(|n| day(n)) {
        let year = words.get(i + 2).and_then(|y| year_of(y));
        return resolve_day(m, d, year).map(|win| (win, 2 + usize::from(year.is_some())));
    }
    let year = words.get(i + 1).and_then(|y| year_of(y));
    Some((month_window(cal, m, year), 1 + usize::from(year.is_some())))
}

/// Words before a month name that make "may" a month rather than a verb.
fn month_context(prev: Option<&&str>) -> bool {
    matches!(
        prev.copied(),
        Some(
            "in" | "during"
                | "for"
                | "since"
                | "of"
                | "from"
                | "between"
                | "until"
                | "till"
                | "to"
                | "through"
                | "throughout"
                | "vs"
                | "versus"
                | "against"
                | "than"
                | "and"
                | "early"
                | "late"
                | "mid"
                | "last"
                | "before"
                | "after"
                | "by"
        )
    )
}

/// The first time window the tokens name.
pub fn window(tokens: &[Token], cal: &Calendar) -> Option<Found<Window>> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    let today = cal.today();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let month1 = first_of_month(today.year(), today.month());
    let q_start = first_of_month(today.year(), (today.month0() / 3) * 3 + 1);
    let found = |value: Window, from: usize, n: usize| Found {
        value,
        tokens: from..from + n,
    };
    for i in 0..words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        // "the first week of June": its days 1–7 (8–14 the second, …; "last", its final 7)
        if let Some(nth) = ["first", "second", "third", "fourth", "last"]
            .iter()
            .position(|o| *o == w)
            && next == Some("week")
            && words.get(i + 2) == Some(&"of")
            && let Some((a, n)) = point(&words, i + 3, cal)
            && a.end - a.start >= Duration::days(28)
        {
            let (first, end) = (a.start.date_naive(), a.end.date_naive());
            let start = match nth {
                4 => end - Duration::days(7),
                k => first + Duration::weeks(k as i64),
            };
            let label = format!("the {w} week of {}", a.label);
            return Some(found(
                Window::days(start, start + Duration::days(7), label),
                i,
                3 + n,
            ));
        }
        // "the last 48 hours": counted back from now like days, whole days for the tools
        if matches!(w, "last" | "past" | "previous")
            && let Some(n) = next.and_then(number)
            && matches!(words.get(i + 2), Some(&("hour" | "hours" | "hrs")))
        {
            let days = (n + 23) / 24;
            let span = Duration::hours(n);
            return Some(found(
                Window {
                    start: cal.now - span,
                    end: cal.now,
                    label: format!("{w} {n} hours"),
                    days: Some(days.max(1)),
                    period: None,
                },
                i,
                3,
            ));
        }
        // "the week of May 12": Monday to Sunday around that day
        if w == "week"
            && next == Some("of")
            && let Some((a, n)) = point(&words, i + 2, cal)
        {
            let day = a.start.date_naive();
            let mon = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
            let label = format!("the week of {}", a.label);
            return Some(found(
                Window::days(mon, mon + Duration::weeks(1), label),
                i,
                2 + n,
            ));
        }
        // "the rest of this sprint / week / month": from today to its end ("sprint" stays
        // a word, as with "this sprint")
        if w == "rest"
            && next == Some("of")
            && let Some(k) =
                (i + 2..words.len().min(i + 4)).find(|&k| unit_days(words[k]).is_some())
        {
            let end = match unit_days(words[k]) {
                Some("sprint") => cal.sprint.map(|(_, e)| e + Duration::days(1)),
                Some("week") => Some(monday + Duration::weeks(1)),
                Some("month") => Some(first_of_month(
                    today.year() + i32::from(today.month() == 12),
                    today.month() % 12 + 1,
                )),
                Some("quarter") => q_start.checked_add_months(chrono::Months::new(3)),
                Some("year") => Some(first_of_month(today.year() + 1, 1)),
                _ => None,
            };
            if let Some(end) = end {
                let label = format!("the rest of this {}", words[k]);
                let taken = if words[k].starts_with("sprint") {
                    k - i
                } else {
                    k + 1 - i
                };
                return Some(found(Window::days(today, end, label), i, taken));
            }
        }
        // between A and B / from A to B
        if matches!(w, "between" | "from")
            && let Some((a, na)) = point(&words, i + 1, cal)
            && matches!(
                words.get(i + 1 + na).copied(),
                Some("and" | "to" | "until" | "till" | "through" | "thru")
            )
            && let Some((b, nb)) = point(&words, i + 2 + na, cal)
        {
            let label = format!("{} to {}", a.label, b.label);
            let win = Window {
                start: a.start,
                end: b.end,
                label,
                days: None,
                period: None,
            };
            return Some(found(win, i, 2 + na + nb));
        }
        // "since the start of the year / quarter / month"
        if w == "since" {
            let mut j = i + 1;
            if words.get(j) == Some(&"the") {
                j += 1;
            }
            if matches!(words.get(j).copied(), Some("start" | "beginning"))
                && words.get(j + 1) == Some(&"of")
            {
                let k = if words.get(j + 2) == Some(&"the") {
                    j + 3
                } else {
                    j + 2
                };
                let start = match words.get(k).copied() {
                    Some("year") => Some(first_of_month(today.year(), 1)),
                    Some("quarter") => Some(q_start),
                    Some("month") => Some(month1),
                    Some("week") => Some(monday),
                    _ => None,
                };
                if let Some(start) = start {
                    let win = Window {
                        start: midnight(start),
                        end: cal.now,
                        label: format!("since the start of the {}", words[k]),
                        days: None,
                        period: None,
                    };
                    return Some(found(win, i, k + 1 - i));
                }
            }
        }
        if w == "since"
            && let Some((a, n)) = point(&words, i + 1, cal)
        {
            let win = Window {
                start: a.start,
                end: cal.now,
                label: format!("since {}", a.label),
                days: None,
                period: None,
            };
            return Some(found(win, i, 1 + n));
        }
        // "this weekend": the coming Saturday and Sunday (the current ones on a weekend)
        if matches!(w, "this" | "next" | "last" | "the" | "over") && next == Some("weekend") {
            let sat = monday + Duration::days(5);
            let (sat, label) = match w {
                "next" => (sat + Duration::weeks(1), "next weekend"),
                "last" => (sat - Duration::weeks(1), "last weekend"),
                _ => (sat, "this weekend"),
            };
            return Some(found(
                Window::days(sat, sat + Duration::days(2), label),
                i,
                2,
            ));
        }
        match w {
            "today" => {
                return Some(found(
                    Window::days(today, today + Duration::days(1), "today"),
                    i,
                    1,
                ));
            }
            "yesterday" => {
                return Some(found(
                    Window::days(today - Duration::days(1), today, "yesterday"),
                    i,
                    1,
                ));
            }
            "tomorrow" => {
                let t = today + Duration::days(1);
                return Some(found(
                    Window::days(t, t + Duration::days(1), "tomorrow"),
                    i,
                    1,
                ));
            }
            "ytd" => {
                return Some(found(
                    Window::days(
                        first_of_month(today.year(), 1),
                        today + Duration::days(1),
                        "this year",
                    ),
                    i,
                    1,
                ));
            }
            _ => {}
        }
        if let Some(q) = w
            .strip_prefix('q')
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|q| (1..=4).contains(q))
        {
            let year = next.and_then(year_of);
            return Some(found(
                quarter_window(cal, q, year),
                i,
                1 + usize::from(year.is_some()),
            ));
        }
        // this / last / next / past / previous / current + unit, or + N units
        if matches!(
            w,
            "this" | "last" | "next" | "past" | "previous" | "current" | "coming" | "upcoming"
        ) {
            let (n, unit_at) = match next.and_then(number) {
                Some(n) if next.is_some_and(|x| x != "a") => (Some(n), i + 2),
                _ => (None, i + 1),
            };
            // "the last 3 weeks", "last couple of weeks"
            let unit_at = if words.get(unit_at) == Some(&"of") {
                unit_at + 1
            } else {
                unit_at
            };
            if let Some(unit) = words.get(unit_at).and_then(|u| unit_days(u)) {
                let taken = unit_at + 1 - i;
                let past = matches!(w, "last" | "past" | "previous");
                let future = matches!(w, "next" | "coming" | "upcoming");
                if let Some(n) = n {
                    let span = match unit {
                        "day" => Duration::days(n),
                        "fortnight" => Duration::weeks(2 * n),
                        "week" => Duration::weeks(n),
                        "sprint" => Duration::weeks(2 * n),
                        "month" => Duration::days(30 * n),
                        "quarter" => Duration::days(91 * n),
                        _ => Duration::days(365 * n),
                    };
                    let label = format!("{w} {n} {unit}s");
                    let win = if future {
                        let period =
                            matches!(unit, "day" | "week").then(|| format!("next {n} {unit}s"));
                        Window {
                            start: midnight(today),
                            end: midnight(today) + span,
                            label,
                            days: None,
                            period,
                        }
                    } else {
                        Window {
                            start: cal.now - span,
                            end: cal.now,
                            label,
                            days: Some(span.num_days()),
                            period: None,
                        }
                    };
                    return Some(found(win, i, taken));
                }
                let label = format!("{w} {unit}");
                let win = match (unit, past, future) {
                    ("day", true, _) => Window::days(today - Duration::days(1), today, label),
                    ("day", _, true) => {
                        Window::days(today + Duration::days(1), today + Duration::days(2), label)
                    }
                    ("day", _, _) => Window::days(today, today + Duration::days(1), label),
                    // "past week" is the last seven days; "last week" the calendar week before.
                    ("week", true, _) if w == "past" => Window {
                        start: cal.now - Duration::weeks(1),
                        end: cal.now,
                        label,
                        days: Some(7),
                        period: None,
                    },
                    ("week", true, _) => Window::days(monday - Duration::weeks(1), monday, label),
                    ("week", _, true) => Window::days(
                        monday + Duration::weeks(1),
                        monday + Duration::weeks(2),
                        label,
                    ),
                    ("week", _, _) => Window::days(monday, monday + Duration::weeks(1), label),
                    ("month", true, _) if w == "past" => Window {
                        start: cal.now - Duration::days(30),
                        end: cal.now,
                        label,
                        days: Some(30),
                        period: None,
                    },
                    ("month", true, _) => Window::days(add_months(month1, -1), month1, label),
                    ("month", _, true) => {
                        Window::days(add_months(month1, 1), add_months(month1, 2), label)
                    }
                    ("month", _, _) => Window::days(month1, add_months(month1, 1), label),
                    ("quarter", true, _) => Window::days(add_months(q_start, -3), q_start, label),
                    ("quarter", _, true) => {
                        Window::days(add_months(q_start, 3), add_months(q_start, 6), label)
                    }
                    ("quarter", _, _) => Window::days(q_start, add_months(q_start, 3), label),
                    ("year", true, _) => {
                        let y = first_of_month(today.year(), 1);
                        Window::days(first_of_month(today.year() - 1, 1), y, label)
                    }
                    ("year", _, true) => {
                        let y = first_of_month(today.year() + 1, 1);
                        Window::days(y, first_of_month(today.year() + 2, 1), label)
                    }
                    ("year", _, _) => Window::days(
                        first_of_month(today.year(), 1),
                        today + Duration::days(1),
                        label,
                    ),
                    ("fortnight", _, true) => {
                        Window::days(today, today + Duration::days(14), label)
                    }
                    ("fortnight", ..) => Window {
                        start: cal.now - Duration::weeks(2),
                        end: cal.now,
                        label,
                        days: Some(14),
                        period: None,
                    },
                    ("sprint", ..) => {
                        let (s, e) = cal.sprint.unwrap_or((monday, monday + Duration::days(13)));
                        let len = (e - s).num_days() + 1;
                        let shift = if past {
                            -len
                        } else if future {
                            len
                        } else {
                            0
                        };
                        let s = s + Duration::days(shift);
                        Window::days(s, s + Duration::days(len), label)
                    }
                    _ => continue,
                };
                let mut win = win;
                if matches!((w, unit), ("this" | "next", "week" | "month")) {
                    win.period = Some(format!("{w} {unit}"));
                }
                // "this sprint" leaves "sprint" to say what is asked about ("progress").
                let taken = if unit == "sprint" { 1 } else { taken };
                return Some(found(win, i, taken));
            }
        }
        // "in May", "May 2025", "12 May"
        let is_month = month_of(w).is_some()
            && (w != "may" && w != "march"
                || month_context(i.checked_sub(1).and_then(|p| words.get(p)))
                || tokens[i].capital && i > 0
                || next.is_some_and(|n| year_of(n).is_some() || n.parse::<u32>().is_ok()));
        let is_day_month = w
            .trim_end_matches(|c: char| c.is_alphabetic())
            .parse::<u32>()
            .is_ok_and(|d| (1..=31).contains(&d))
            && next.is_some_and(|n| month_of(n).is_some());
        let is_date = year_of(w).is_some()
            && words
                .get(i + 1)
                .is_some_and(|m| m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)));
        if (is_month || is_day_month || is_date)
            && let Some((win, n)) = point(&words, i, cal)
        {
            return Some(found(win, i, n));
        }
        // "in 2024", "during 2023": a calendar year (a year before a month was read above)
        if let Some(y) = year_of(w)
            && i > 0
            && matches!(
                words[i - 1],
                "in" | "during" | "for" | "of" | "since" | "throughout"
            )
        {
            let start = first_of_month(y, 1);
            let win = if words[i - 1] == "since" {
                Window::days(start, today, format!("since {y}"))
            } else {
                Window::days(start, first_of_month(y + 1, 1), y.to_string())
            };
            return Some(found(win, i, 1));
        }
    }
    None
}

/// An age threshold in days: "in review for over a week", "open longer than 10 days",
/// "stale for 2 weeks", "older than a month".
pub fn age_days(tokens: &[Token]) -> Option<Found<i64>> {
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    for i in 0..words.len() {
        let lead = match (words[i], words.get(i + 1).copied()) {
            ("over" | "beyond", _) => 1,
            ("more" | "longer" | "older", Some("than")) => 2,
            ("at", Some("least")) => 2,
            _ => continue,
        };
        let Some(n) = words.get(i + lead).and_then(|w| number(w)) else {
            continue;
        };
        let Some(unit) = words.get(i + lead + 1).and_then(|u| unit_days(u)) else {
            continue;
        };
        let days = match unit {
            "day" => n,
            "week" => 7 * n,
            "sprint" => 14 * n,
            "month" => 30 * n,
            _ => continue,
        };
        return Some(Found {
            value: days,
            tokens: i..i + lead + 2,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::text::tokens;

    fn cal() -> Calendar {
        // Monday 30 June 2025, the demo's "now"; sprint 13 runs 23 Jun – 6 Jul.
        let now = midnight(NaiveDate::from_ymd_opt(2025, 6, 30).unwrap());
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        Calendar {
            now,
            sprint: Some((d("2025-06-23"), d("2025-07-06"))),
        }
    }

    fn win(q: &str) -> Option<(String, String, String)> {
        window(&tokens(q), &cal()).map(|f| {
            let (a, b) = f.value.dates();
            (a.to_string(), b.to_string(), f.value.label)
        })
    }

    fn dates(q: &str) -> (String, String) {
        let (a, b, _) = win(q).unwrap_or_else(|| panic!("no window in {q:?}"));
        (a, b)
    }

    fn s(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn calendar_words() {
        assert_eq!(
            dates("how many incidents did we have in May?"),
            s("2025-05-01", "2025-05-31")
        );
        assert_eq!(dates("deploys in august"), s("2025-08-01", "2025-08-31"));
        assert_eq!(
            dates("incidents in december"),
            s("2024-12-01", "2024-12-31")
        );
        assert_eq!(
            dates("who is out on July 2nd"),
            s("2025-07-02", "2025-07-02")
        );
        assert_eq!(dates("deploys in May 2024"), s("2024-05-01", "2024-05-31"));
        // Monday 30 June: this weekend is 5–6 July.
        assert_eq!(
            dates("who's on call this weekend?"),
            s("2025-07-05", "2025-07-06")
        );
        assert_eq!(
            dates("on call over the weekend"),
            s("2025-07-05", "2025-07-06")
        );
        assert_eq!(dates("last weekend"), s("2025-06-28", "2025-06-29"));
        assert_eq!(
            dates("what shipped in the first week of june?"),
            s("2025-06-01", "2025-06-07")
        );
        assert_eq!(
            dates("the second week of may"),
            s("2025-05-08", "2025-05-14")
        );
        assert_eq!(
            dates("the last week of april"),
            s("2025-04-24", "2025-04-30")
        );
        // Hours count back from now, as days do (now is 2025-06-30 00:00).
        assert_eq!(
            dates("sev1s in the last 48 hours"),
            s("2025-06-28", "2025-06-29")
        );
        assert_eq!(dates("incidents last month"), s("2025-05-01", "2025-05-31"));
        assert_eq!(dates("incidents this month"), s("2025-06-01", "2025-06-30"));
        assert_eq!(
            dates("who is on call next week"),
            s("2025-07-07", "2025-07-13")
        );
        assert_eq!(
            dates("who is on call this week"),
            s("2025-06-30", "2025-07-06")
        );
        assert_eq!(dates("failures last week"), s("2025-06-23", "2025-06-29"));
        assert_eq!(dates("lead time in Q1"), s("2025-01-01", "2025-03-31"));
        assert_eq!(dates("time off in Q3"), s("2025-07-01", "2025-09-30"));
        assert_eq!(
            dates("dora since the start of the year"),
            s("2025-01-01", "2025-06-29")
        );
        assert_eq!(
            dates("incidents from jan 1 through march 31"),
            s("2025-01-01", "2025-03-31")
        );
        assert_eq!(dates("lead time q3"), s("2025-07-01", "2025-09-30"));
        assert_eq!(dates("this quarter"), s("2025-04-01", "2025-06-30"));
        assert_eq!(dates("last quarter"), s("2025-01-01", "2025-03-31"));
        assert_eq!(dates("commits yesterday"), s("2025-06-29", "2025-06-29"));
        assert_eq!(
            dates("over the last 30 days"),
            s("2025-05-31", "2025-06-29")
        );
        assert_eq!(
            dates("in the past two weeks"),
            s("2025-06-16", "2025-06-29")
        );
        assert_eq!(dates("since March"), s("2025-03-01", "2025-06-29"));
        assert_eq!(dates("since 2025-06-01"), s("2025-06-01", "2025-06-29"));
        assert_eq!(
            dates("between 1 May and 15 May"),
            s("2025-05-01", "2025-05-15")
        );
        assert_eq!(dates("from April to May"), s("2025-04-01", "2025-05-31"));
        assert_eq!(
            dates("deployments on 12 May"),
            s("2025-05-12", "2025-05-12")
        );
        assert_eq!(
            dates("who is free next sprint"),
            s("2025-07-07", "2025-07-20")
        );
        assert_eq!(dates("progress this sprint"), s("2025-06-23", "2025-07-06"));
        assert_eq!(
            dates("time off next 10 days"),
            s("2025-06-30", "2025-07-09")
        );
        assert_eq!(
            dates("how many people did we hire in 2024?"),
            s("2024-01-01", "2024-12-31")
        );
        assert_eq!(dates("commits since 2024"), s("2024-01-01", "2025-06-29"));
    }

    #[test]
    fn not_time() {
        assert_eq!(win("who may be overloaded"), None);
        assert_eq!(win("what is our lead time"), None);
        assert_eq!(win("the last deployment of ledger"), None);
        assert_eq!(win("top 2024 contributors"), None);
    }

    #[test]
    fn ages() {
        let age = |q: &str| age_days(&tokens(q)).map(|f| f.value);
        assert_eq!(age("tickets in review for over a week"), Some(7));
        assert_eq!(age("open more than 10 days"), Some(10));
        assert_eq!(age("stuck for at least two weeks"), Some(14));
        assert_eq!(age("what is our MTTR"), None);
    }
}
