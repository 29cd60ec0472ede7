//! The roster: people as HR knows them (name, e-mail, team, manager, title, location, and
//! their on-call shifts and time off), from a CSV export with a header row or a YAML list
//! of the same fields. Problems point at the roster's `file:line` (E082); a manager nobody
//! in the roster is named is a warning.
//!
//! On-call and time off are periods separated by `;`, each `START..END` and a word:
//! `2025-07-07..2025-07-13 primary` (a role: primary or secondary) or
//! `2025-08-04..2025-08-15 vacation` (a kind: vacation, sick, conference or parental).
//! Days are whole and the end is included; an on-call shift may also give UTC times,
//! `2025-07-07T09:00..2025-07-14T09:00 primary`, its end then excluded.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use serde_json::Value;

use crate::core::{Diagnostic, Pos, Report};
use crate::understand::text::fold;

/// One person of the roster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPerson {
    pub name: String,
    /// Lower case; several may be given, separated by `;` or spaces.
    pub emails: Vec<String>,
    pub team: Option<String>,
    /// The manager's name or e-mail, as written.
    pub manager: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    /// On-call shifts: start, end (excluded), role.
    pub oncall: Vec<(DateTime<Utc>, DateTime<Utc>, String)>,
    /// Time off: first day, last day (included), kind.
    pub time_off: Vec<(NaiveDate, NaiveDate, String)>,
    /// Where the person is written (for findings).
    pub line: usize,
}

const FIELDS: &[&str] = &[
    "name", "email", "team", "manager", "title", "location", "oncall", "time_off",
];
const ROLES: &[&str] = &["primary", "secondary"];
const KINDS: &[&str] = &["vacation", "sick", "conference", "parental"];

/// Reads a roster (`.csv`, or YAML otherwise); Err holds the findings that stop it.
pub fn load(path: &Path, report: &mut Report) -> Option<Vec<RosterPerson>> {
    let rel = path.display().to_string();
    let text = crate::config::read(&rel, path, report)?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let people = if is_csv {
        from_csv(&rel, &text, report)?
    } else {
        from_yaml(&rel, &text, report)?
    };
    check_managers(&rel, &people, report);
    Some(people)
}

fn person(
    rel: &str,
    fields: impl Fn(&str) -> Option<String>,
    line: usize,
    report: &mut Report,
) -> RosterPerson {
    let mut bad = |m: String| {
        report.push(Diagnostic::error("E082", rel, Pos { line, col: 1 }, m));
    };
    let mut oncall = Vec::new();
    for (from, to, role) in periods(fields("oncall"), "oncall", ROLES, &mut bad) {
        oncall.push((from, to, role));
    }
    let mut time_off = Vec::new();
    for (from, to, kind) in periods(fields("time_off"), "time_off", KINDS, &mut bad) {
        let last = (to - Duration::nanoseconds(1)).date_naive();
        time_off.push((from.date_naive(), last, kind));
    }
    RosterPerson {
        oncall,
        time_off,
        name: fields("name").unwrap_or_default(),
        emails: fields("email")
            .map(|e| {
                e.split([';', ',', ' '])
                    .map(|x| x.trim().to_lowercase())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        team: fields("team"),
        manager: fields("manager"),
        title: fields("title"),
        location: fields("location"),
        line,
    }
}

fn from_csv(rel: &str, text: &str, report: &mut Report) -> Option<Vec<RosterPerson>> {
    let mut rows = csv_rows(text).into_iter();
    let Some((_, header)) = rows.next() else {
        report.push(Diagnostic::error(
            "E082",
            rel,
            Pos { line: 1, col: 1 },
            "the roster is empty; write a header row: name,email,team,manager,title,location,oncall,time_off",
        ));
        return None;
    };
    // `E-mails`, `On-call`, `Time off` mean email, oncall, time_off.
    let header: Vec<String> = header
        .iter()
        .map(|h| {
            let h: String = h
                .trim()
                .to_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            match h.trim_end_matches('s') {
                "timeoff" => "time_off".to_string(),
                other => other.to_string(),
            }
        })
        .collect();
    if !header.iter().any(|h| h == "name") {
        report.push(Diagnostic::error(
            "E082",
            rel,
            Pos { line: 1, col: 1 },
            format!(
                "the roster's header has no `name` column (found: {}); its columns are {}",
                header.join(", "),
                FIELDS.join(", ")
            ),
        ));
        return None;
    }
    let mut people = Vec::new();
    for (line, row) in rows {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |f: &str| {
            header
                .iter()
                .position(|h| h == f)
                .and_then(|i| row.get(i))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        people.push(person(rel, get, line, report));
    }
    check_names(rel, &people, report);
    Some(people)
}

fn from_yaml(rel: &str, text: &str, report: &mut Report) -> Option<Vec<RosterPerson>> {
    let (value, source) = crate::config::parse_yaml(rel.to_string(), text, report)?;
    let (list, prefix) = match &value {
        Value::Array(a) => (a, String::new()),
        Value::Object(m) if m.get("people").is_some_and(Value::is_array) => {
            (m["people"].as_array().expect("checked"), "/people".into())
        }
        _ => {
            report.push(Diagnostic::error(
                "E082",
                rel,
                Pos { line: 1, col: 1 },
                "a YAML roster is a list of people (or `people:` holding one), each with name, email, team, manager, title, location, oncall, time_off",
            ));
            return None;
        }
    };
    let mut people = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let ptr = format!("{prefix}/{i}");
        let line = source.spans().value(&ptr).line;
        let Some(map) = entry.as_object() else {
            report.push(Diagnostic::error(
                "E082",
                rel,
                source.spans().value(&ptr),
                "a roster entry is a mapping with name, email, team, manager, title, location, oncall, time_off",
            ));
            continue;
        };
        for key in map.keys() {
            if !FIELDS.contains(&key.as_str()) && key != "emails" {
                let hint = crate::core::did_you_mean(key, FIELDS.iter().copied());
                report.push(Diagnostic::error(
                    "E002",
                    rel,
                    source.spans().key(&format!("{ptr}/{key}")),
                    format!(
                        "unknown roster field {key:?}{hint}; allowed: {}",
                        FIELDS.join(", ")
                    ),
                ));
            }
        }
        let get = |f: &str| {
            let v = map
                .get(f)
                .or_else(|| (f == "email").then(|| map.get("emails")).flatten())?;
            match v {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Array(a) => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(";"),
                ),
                Value::Null => None,
                other => Some(other.to_string()),
            }
            .filter(|s| !s.is_empty())
        };
        people.push(person(rel, get, line, report));
    }
    check_names(rel, &people, report);
    Some(people)
}

/// The `START..END word` periods of a field, `;`-separated: (start, end excluded, word).
fn periods(
    text: Option<String>,
    field: &str,
    words: &[&str],
    bad: &mut dyn FnMut(String),
) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    let mut out = Vec::new();
    for period in text.iter().flat_map(|t| t.split(';')) {
        let period = period.trim();
        if period.is_empty() {
            continue;
        }
        let (span, word) = period.split_once(' ').unwrap_or((period, words[0]));
        let word = word.trim().to_lowercase();
        let parsed = span
            .split_once("..")
            .and_then(|(a, b)| Some((instant(a.trim(), false)?, instant(b.trim(), true)?)));
        match parsed {
            None => bad(format!(
                "{field} {period:?} is not START..END, e.g. 2025-07-07..2025-07-13 {} (days, or UTC times as 2025-07-07T09:00)",
                words[0]
            )),
            Some((from, to)) if to <= from => {
                bad(format!("{field} {period:?} ends before it starts"))
            }
            Some(_) if !words.contains(&word.as_str()) => {
                let hint = crate::core::did_you_mean(&word, words.iter().copied());
                bad(format!(
                    "{field} {period:?}: {word:?} is not one of {}{hint}",
                    words.join(", ")
                ))
            }
            Some((from, to)) => out.push((from, to, word)),
        }
    }
    out
}

/// A day (its start, or the next day's when it ends a period) or a UTC time.
fn instant(text: &str, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end { day.succ_opt()? } else { day };
        return Some(day.and_time(NaiveTime::MIN).and_utc());
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), f).ok())
        .map(|t| t.and_utc())
}

fn check_names(rel: &str, people: &[RosterPerson], report: &mut Report) {
    let mut seen = BTreeSet::new();
    for p in people {
        let at = Pos {
            line: p.line,
            col: 1,
        };
        if p.name.is_empty() {
            report.push(Diagnostic::error(
                "E082",
                rel,
                at,
                "a roster entry without a name; every person needs one",
            ));
        } else if !seen.insert(fold(&p.name)) {
            report.push(Diagnostic::error(
                "E082",
                rel,
                at,
                format!(
                    "{:?} is in the roster twice; merge the entries (several e-mails go in one, separated by ;)",
                    p.name
                ),
            ));
        }
    }
}

/// A manager must be someone in the roster (by name or e-mail): a warning otherwise.
fn check_managers(rel: &str, people: &[RosterPerson], report: &mut Report) {
    for p in people {
        if let Some(m) = &p.manager
            && find(people, m).is_none()
        {
            let names = people.iter().map(|q| q.name.as_str());
            let hint = crate::core::did_you_mean(m, names);
            report.push(Diagnostic::warning(
                "E082",
                rel,
                Pos {
                    line: p.line,
                    col: 1,
                },
                format!(
                    "{}'s manager {m:?} is not in the roster{hint}; they are imported without a manager",
                    p.name
                ),
            ));
        }
    }
}

/// The roster person a name or e-mail designates.
pub fn find<'a>(people: &'a [RosterPerson], who: &str) -> Option<&'a RosterPerson> {
    let (name, email) = (fold(who.trim()), who.trim().to_lowercase());
    people
        .iter()
        .find(|p| fold(&p.name) == name || p.emails.contains(&email))
}

/// CSV rows with their 1-based line: quoted fields may hold commas, quotes (`""`) and
/// line breaks.
fn csv_rows(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut line, mut start) = (false, 1, 1);
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => row.push(std::mem::take(&mut field)),
            '\r' if !quoted => {}
            '\n' if !quoted => {
                row.push(std::mem::take(&mut field));
                rows.push((start, std::mem::take(&mut row)));
                line += 1;
                start = line;
            }
            c => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push((start, row));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_several_emails_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("people.csv");
        std::fs::write(
            &p,
            "Name,Email,Team,Manager,Title\nAnn Lee,ann@x.org; ann@y.org,Web,Bo Chen,\"Engineer, Senior\"\nBo Chen,bo@x.org,Web,,Manager\nCy,cy@x.org,Web,Nobody,\n",
        )
        .unwrap();
        let mut report = Report::default();
        let people = load(&p, &mut report).unwrap();
        assert_eq!(people.len(), 3);
        assert_eq!(people[0].emails, ["ann@x.org", "ann@y.org"]);
        assert_eq!(people[0].title.as_deref(), Some("Engineer, Senior"));
        assert_eq!(people[1].manager, None);
        assert_eq!(report.warnings(), 1, "{report}");
        assert!(report.to_string().contains("people.csv:4:1"), "{report}");
    }

    #[test]
    fn on_call_and_time_off_are_periods_and_bad_ones_are_named_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("people.csv");
        std::fs::write(
            &p,
            "name,email,On-call,Time off\nAnn,a@x.org,2025-07-07T09:00..2025-07-14T09:00 primary; 2025-07-21..2025-07-27 secondary,2025-08-04..2025-08-15 vacation\nBo,b@x.org,2025-07-14..2025-07-07,2025-08-01..2025-08-02 holiday\n",
        )
        .unwrap();
        let mut report = Report::default();
        let people = load(&p, &mut report).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            people[0].oncall,
            [
                (
                    at("2025-07-07T09:00:00Z"),
                    at("2025-07-14T09:00:00Z"),
                    "primary".into()
                ),
                (
                    at("2025-07-21T00:00:00Z"),
                    at("2025-07-28T00:00:00Z"),
                    "secondary".into()
                ),
            ]
        );
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            people[0].time_off,
            [(day("2025-08-04"), day("2025-08-15"), "vacation".into())]
        );
        let text = report.to_string();
        assert!(
            text.contains("people.csv:3:1: error[E082]: oncall \"2025-07-14..2025-07-07\" ends before it starts"),
            "{text}"
        );
        assert!(
            text.contains("time_off \"2025-08-01..2025-08-02 holiday\": \"holiday\" is not one of vacation, sick, conference, parental"),
            "{text}"
        );
    }

    #[test]
    fn yaml_roster_reports_unknown_fields_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("people.yaml");
        std::fs::write(&p, "- name: Ann\n  emial: a@x.org\n").unwrap();
        let mut report = Report::default();
        load(&p, &mut report).unwrap();
        let text = report.to_string();
        assert!(text.contains("people.yaml:2:3: error[E002]"), "{text}");
        assert!(text.contains("did you mean \"email\""), "{text}");
    }
}
