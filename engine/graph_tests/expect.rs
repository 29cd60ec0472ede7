//! Checking one run's events against a case's expectations. Each unmet expectation
//! becomes a `Failure` that says what was expected and what actually happened.

use regex::Regex;
use serde_json::Value;

use crate::config::case_spec::{CallSpec, Expect};
use crate::run::{Envelope, Event};

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation's field name (`route`, `tools_called`…) or `recording`.
    pub expectation: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.expectation)?;
        writeln!(f, "  expected: {}", self.expected)?;
        write!(f, "  actual:   {}", self.actual)
    }
}

fn failure(expectation: &str, expected: String, actual: String) -> Failure {
    Failure {
        expectation: expectation.into(),
        expected,
        actual,
    }
}

/// One tool call as the run reported it.
struct Call<'a> {
    tool: &'a str,
    args: &'a Value,
    /// None while no tool_end came; Some(Err) with the tool's error.
    result: Option<Result<(), &'a str>>,
}

impl std::fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.tool, self.args)?;
        if let Some(Err(e)) = self.result {
            write!(f, " (failed: {e})")?;
        }
        Ok(())
    }
}

/// Every expectation of `expect` against `events`; empty when all hold.
pub fn check(expect: &Expect, events: &[Envelope]) -> Vec<Failure> {
    let mut out = Vec::new();
    let calls = calls(events);
    let answer = crate::run::answer_of(events);
    let end = events.iter().rev().find_map(|e| match &e.event {
        Event::StreamEnd { ok, steps, .. } => Some((*ok, *steps)),
        _ => None,
    });
    let error = events.iter().find_map(|e| match &e.event {
        Event::Error { kind, message } => Some(format!("[{kind}] {message}")),
        _ => None,
    });

    let want_ok = expect.ok.unwrap_or(true);
    let ok = end.is_some_and(|(ok, _)| ok);
    if ok != want_ok {
        out.push(if want_ok {
            failure(
                "ok",
                "the run to end without an error".into(),
                error.unwrap_or_else(|| "the run did not end (no stream_end)".into()),
            )
        } else {
            failure(
                "ok",
                "the run to end with an error".into(),
                "it ended without one".into(),
            )
        });
    }

    if let Some(want) = &expect.route {
        let first = events.iter().find_map(|e| match &e.event {
            Event::Routing {
                agent,
                method,
                graph,
            } => Some((agent, method, graph)),
            _ => None,
        });
        match first {
            Some((agent, _, _)) if agent == want => {}
            Some((agent, method, graph)) => out.push(failure(
                "route",
                want.clone(),
                format!(
                    "{agent} (by {}, in {graph})",
                    serde_json::to_value(method)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default()
                ),
            )),
            None => out.push(failure("route", want.clone(), "no routing event".into())),
        }
    }

    for want in &expect.tools_called {
        let hit = calls.iter().any(|c| {
            c.tool == want.tool()
                && want.args().is_none_or(|args| {
                    args.iter()
                        .all(|(k, v)| c.args.get(k).is_some_and(|a| contains(a, v)))
                })
        });
        if !hit {
            out.push(failure(
                "tools_called",
                describe_call(want),
                list_calls(&calls),
            ));
        }
    }

    for tool in &expect.tools_not_called {
        let made: Vec<&Call> = calls.iter().filter(|c| c.tool == tool).collect();
        if !made.is_empty() {
            out.push(failure(
                "tools_not_called",
                format!("no call to {tool}"),
                made.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
    }

    let shown = || match answer {
        Some(a) => format!("answer {}", quote(a)),
        None => "no answer".into(),
    };
    let missing: Vec<String> = expect
        .answer_contains
        .iter()
        .filter(|text| !answer.is_some_and(|a| a.contains(text.as_str())))
        .map(|text| quote(text))
        .collect();
    if !missing.is_empty() {
        out.push(failure(
            "answer_contains",
            format!("the answer to contain {}", missing.join(", ")),
            shown(),
        ));
    }
    if let Some(pattern) = &expect.answer_matches {
        match Regex::new(pattern) {
            Ok(re) if answer.is_some_and(|a| re.is_match(a)) => {}
            Ok(_) => out.push(failure(
                "answer_matches",
                format!("the answer to match /{pattern}/"),
                shown(),
            )),
            Err(e) => out.push(failure(
                "answer_matches",
                format!("a valid regex, got /{pattern}/"),
                e.to_string(),
            )),
        }
    }

    if !expect.events.is_empty() {
        let names: Vec<&str> = events.iter().map(Envelope::name).collect();
        let mut at = 0;
        for (i, want) in expect.events.iter().enumerate() {
            match names[at..].iter().position(|n| n == want) {
                Some(p) => at += p + 1,
                None => {
                    let after = if i == 0 {
                        String::new()
                    } else {
                        format!(" after \"{}\"", expect.events[i - 1])
                    };
                    out.push(failure(
                        "events",
                        format!("these events in order: {}", expect.events.join(", ")),
                        format!("no \"{want}\"{after}; the run sent: {}", squeeze(&names)),
                    ));
                    break;
                }
            }
        }
    }

    if let Some(max) = expect.max_steps {
        let steps = end.map(|(_, s)| s).unwrap_or(0);
        if steps > max {
            out.push(failure(
                "max_steps",
                format!("at most {max} steps"),
                format!("{steps} steps"),
            ));
        }
    }
    out
}

/// tool_start events paired with the tool_end that follows for the same tool.
fn calls(events: &[Envelope]) -> Vec<Call<'_>> {
    let mut out: Vec<Call> = Vec::new();
    for e in events {
        match &e.event {
            Event::ToolStart { tool, args } => out.push(Call {
                tool,
                args,
                result: None,
            }),
            Event::ToolEnd {
                tool, ok, error, ..
            } => {
                if let Some(c) = out
                    .iter_mut()
                    .find(|c| c.tool == tool && c.result.is_none())
                {
                    c.result = Some(if *ok {
                        Ok(())
                    } else {
                        Err(error.as_deref().unwrap_or("failed"))
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn describe_call(c: &CallSpec) -> String {
    match c.args() {
        Some(args) if !args.is_empty() => format!(
            "a call to {} with args including {}",
            c.tool(),
            Value::Object(args.clone())
        ),
        _ => format!("a call to {}", c.tool()),
    }
}

fn list_calls(calls: &[Call]) -> String {
    if calls.is_empty() {
        return "no tool was called".into();
    }
    let list: Vec<String> = calls.iter().map(ToString::to_string).collect();
    format!("calls: {}", list.join("; "))
}

/// `expected` is contained in `actual`: objects by subset, arrays element by element,
/// numbers by value (1 == 1.0), the rest by equality.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| contains(av, ev))
        }
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        _ => actual == expected,
    }
}

/// A string quoted, cut after 300 characters.
fn quote(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &s[..i]),
        None => format!("{s:?}"),
    }
}

/// Event names with runs of one name folded: `token ×12`.
fn squeeze(names: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let n = names[i..].iter().take_while(|x| **x == names[i]).count();
        out.push(if n > 1 {
            format!("{} ×{n}", names[i])
        } else {
            names[i].to_string()
        });
        i += n;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_args_are_a_subset_of_the_actual_ones() {
        let actual = json!({"team": "Platform", "days": 30, "filters": {"env": "prod", "ok": true}, "tags": ["a", "b"]});
        assert!(contains(&actual, &json!({"team": "Platform"})));
        assert!(
            contains(&actual, &json!({"days": 30.0})),
            "numbers by value"
        );
        assert!(
            contains(&actual, &json!({"filters": {"env": "prod"}})),
            "nested objects by subset"
        );
        assert!(contains(&actual, &json!({"tags": ["a", "b"]})));
        assert!(
            !contains(&actual, &json!({"tags": ["a"]})),
            "lists element by element, same length"
        );
        assert!(
            !contains(&actual, &json!({"team": "platform"})),
            "strings exactly"
        );
        assert!(!contains(&actual, &json!({"owner": "x"})));
    }

    #[test]
    fn repeated_event_names_are_folded() {
        assert_eq!(
            squeeze(&["stream_start", "token", "token", "token", "response"]),
            "stream_start, token ×3, response"
        );
    }
}
