//! The roster: people as HR knows them (name, e-mail, team, manager, title, location), from
//! a CSV export with a header row or a YAML list of the same fields. Problems point at the
//! roster's `file:line` (E082); a manager nobody in the roster is named is a warning.

use std::collections::BTreeSet;
use std::path::Path;

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
    /// Where the person is written (for findings).
    pub line: usize,
}

const FIELDS: &[&str] = &["name", "email", "team", "manager", "title", "location"];

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

fn person(fields: impl Fn(&str) -> Option<String>, line: usize) -> RosterPerson {
    RosterPerson {
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
            "the roster is empty; write a header row: name,email,team,manager,title,location",
        ));
        return None;
    };
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_lowercase().trim_end_matches('s').to_string())
        .map(|h| if h == "e-mail" { "email".into() } else { h })
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
        people.push(person(get, line));
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
                "a YAML roster is a list of people (or `people:` holding one), each with name, email, team, manager, title, location",
            ));
            return None;
        }
    };
    let mut people = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let ptr = format!("{prefix}/{i}");
        let line = source.spans.value(&ptr).line;
        let Some(map) = entry.as_object() else {
            report.push(Diagnostic::error(
                "E082",
                rel,
                source.spans.value(&ptr),
                "a roster entry is a mapping with name, email, team, manager, title, location",
            ));
            continue;
        };
        for key in map.keys() {
            if !FIELDS.contains(&key.as_str()) && key != "emails" {
                let hint = crate::core::did_you_mean(key, FIELDS.iter().copied());
                report.push(Diagnostic::error(
                    "E002",
                    rel,
                    source.spans.key(&format!("{ptr}/{key}")),
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
        people.push(person(get, line));
    }
    check_names(rel, &people, report);
    Some(people)
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
