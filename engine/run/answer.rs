//! An agent's answer from its tool results: the answering tool's template, led by a
//! verdict when the question compares or ranks. The verdict reads the tool's `measures`
//! (the figure the question names, else the first): who is highest or lowest across
//! the calls of a comparison or a per-team breakdown, or across the rows of one result.

use std::sync::Arc;

use serde_json::Value;

use crate::compile::ToolDef;
use crate::compile::tool_def::Measure;
use crate::core::{SHOWN_ROWS, grouped};
use crate::understand::Understanding;

/// Renders a compiled template over one result (and a row, for per-row figures).
pub(super) type Render<'a> =
    &'a dyn Fn(&str, Option<&Value>, Option<&Value>) -> Result<String, String>;

/// The answer: the template of the tool that answered (else `fallback`), with a verdict
/// first when the question compares or ranks by one of the tool's figures.
pub(super) fn compose(
    results: &[Value],
    tools: &[Arc<ToolDef>],
    fallback: &str,
    u: &Understanding,
    render: Render<'_>,
) -> String {
    let ok: Vec<&Value> = results
        .iter()
        .filter(|r| r["ok"] == Value::Bool(true))
        .collect();
    let tool = ok
        .first()
        .and_then(|r| r["tool"].as_str())
        .and_then(|n| tools.iter().find(|t| t.name == n));
    let template = tool.and_then(|t| t.answer.as_deref()).unwrap_or(fallback);
    let whole = |r: Option<&Value>| {
        render(template, r, None).unwrap_or_else(|e| format!("(answer template failed: {e})"))
    };
    let Some(tool) = tool else {
        return whole(ok.first().copied());
    };
    let same = ok
        .iter()
        .all(|r| r["tool"].as_str() == Some(tool.name.as_str()));
    let per_call = tool.measures.iter().any(|m| !m.per_row);
    if ok.len() >= 2 && same && !per_call {
        return together(&ok, u, &whole);
    }
    let names: Vec<&str> = tool.measures.iter().map(|m| m.name.as_str()).collect();
    let Some(measure) = u
        .measure(&names)
        .and_then(|n| tool.measures.iter().find(|m| m.name == n))
    else {
        return whole(ok.first().copied());
    };
    if ok.len() >= 2 && same {
        return match measure.per_row {
            false => side_by_side(&ok, tool, measure, u, render, &whole),
            // A figure per row ranks within one result: each call's result in turn.
            true => together(&ok, u, &whole),
        };
    }
    let body = whole(ok.first().copied());
    if ok.len() == 1
        && measure.per_row
        && (u.order.is_some() || u.best_or_worst.is_some())
        && let Some(verdict) = top_row(ok[0], tool, measure, u, render)
    {
        return format!("{verdict}\n\n{body}");
    }
    body
}

/// A comparison or breakdown: the winner first, then each result (a table past four).
fn side_by_side(
    ok: &[&Value],
    tool: &ToolDef,
    m: &Measure,
    u: &Understanding,
    render: Render<'_>,
    whole: &dyn Fn(Option<&Value>) -> String,
) -> String {
    let (key, names) = labels(ok, u);
    let label = |r: &Value| {
        let i = ok.iter().position(|x| std::ptr::eq(*x, r)).unwrap_or(0);
        names[i].clone()
    };
    let figure = |r: &Value| {
        render(&tool.measure_template(&m.name, "value"), Some(r), None)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
    };
    let mut ranked: Vec<(String, Option<f64>, &Value)> =
        ok.iter().map(|r| (label(r), figure(r), *r)).collect();
    let max = u.wants_max(m.higher_is_better);
    ranked.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) if max => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    let extreme = extreme(&m.name, max, ranked.len() == 2);
    let verdict = match ranked.first() {
        Some((who, Some(v), _)) => {
            let others: Vec<String> = ranked[1..]
                .iter()
                .take(3)
                .map(|(l, v, _)| {
                    format!("{l} {}", v.map_or("no data".into(), |v| amount(v, &m.unit)))
                })
                .collect();
            let tie = ranked.get(1).is_some_and(|(_, o, _)| *o == Some(*v));
            let lead = if tie {
                format!(
                    "**{who}** and **{}** tie on {}: {}",
                    ranked[1].0,
                    m.name,
                    amount(*v, &m.unit)
                )
            } else {
                // "has more" between two, "has the most" among more.
                let the = if ranked.len() == 2 { "" } else { "the " };
                format!(
                    "**{who}** has {the}{extreme} {}: {}",
                    m.name,
                    amount(*v, &m.unit)
                )
            };
            format!(
                "{lead}{}.",
                if others.is_empty() || tie {
                    String::new()
                } else {
                    format!(", against {}", others.join(", "))
                }
            )
        }
        _ => format!("None of them has data for {}.", m.name),
    };
    let body = if ranked.len() <= 4 {
        ok.iter()
            .map(|r| format!("#### {}\n\n{}", label(r), whole(Some(r))))
            .collect::<Vec<_>>()
            .join("\n\n")
    } else {
        let mut t = format!("| {} | {} |\n|---|---|\n", title(&key), capitalise(&m.name));
        for (l, v, _) in ranked.iter().take(SHOWN_ROWS) {
            t.push_str(&format!(
                "| {l} | {} |\n",
                v.map_or("no data".into(), |v| amount(v, &m.unit))
            ));
        }
        if ranked.len() > SHOWN_ROWS {
            t.push_str(&format!(
                "\n… and {} more.\n",
                grouped(ranked.len() - SHOWN_ROWS)
            ));
        }
        t
    };
    format!("{verdict}\n\n{body}")
}

/// The argument whose value tells calls apart, and each call's value of it (a window as
/// the question said it: "April 2025").
fn labels(ok: &[&Value], u: &Understanding) -> (String, Vec<String>) {
    let key = ok[0]["args"]
        .as_object()
        .and_then(|a| {
            a.keys()
                .find(|k| {
                    ok.iter()
                        .any(|r| r["args"][k.as_str()] != ok[0]["args"][k.as_str()])
                })
                .cloned()
        })
        .unwrap_or_default();
    let labels = ok
        .iter()
        .map(|r| match &r["args"][key.as_str()] {
            Value::String(s) if key == "since" => u.window_label(s).unwrap_or(s).to_string(),
            Value::String(s) => s.clone(),
            Value::Null => "—".into(),
            v => v.to_string(),
        })
        .collect();
    (key, labels)
}

/// Several calls of a tool without figures ("who knows Go and Kafka?"): the people every
/// list names first (unless the question compares), then each list.
fn together(ok: &[&Value], u: &Understanding, whole: &dyn Fn(Option<&Value>) -> String) -> String {
    let (_, labels) = labels(ok, u);
    let names = |r: &Value| -> Option<Vec<String>> {
        r["result"].as_array().map(|rows| {
            rows.iter()
                .filter_map(|row| row["name"].as_str().map(str::to_string))
                .collect()
        })
    };
    let lists: Option<Vec<Vec<String>>> = ok.iter().map(|r| names(r)).collect();
    let mut out = String::new();
    if let Some(lists) = lists.filter(|_| !u.compare) {
        let both: Vec<&String> = lists[0]
            .iter()
            .filter(|n| lists[1..].iter().all(|l| l.contains(n)))
            .collect();
        let all = if labels.len() == 2 { "both" } else { "all of" };
        let which = join_and(&labels);
        out = match both.as_slice() {
            [] => format!("Nobody has {all} {which}."),
            [one] => format!("**{one}** has {all} {which}."),
            many => format!(
                "{} people have {all} {which}: {}.",
                many.len(),
                many.iter()
                    .map(|n| format!("**{n}**"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push_str("\n\n");
    }
    let body: Vec<String> = ok
        .iter()
        .zip(&labels)
        .map(|(r, l)| format!("#### {l}\n\n{}", whole(Some(r))))
        .collect();
    out + &body.join("\n\n")
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The row at the asked-for end of one result's rows ("who reviews the most").
fn top_row(
    r: &Value,
    tool: &ToolDef,
    m: &Measure,
    u: &Understanding,
    render: Render<'_>,
) -> Option<String> {
    let rows: Vec<Value> =
        serde_json::from_str(&render(&tool.measure_template(&m.name, "rows"), Some(r), None).ok()?)
            .ok()?;
    let max = u.wants_max(m.higher_is_better);
    let mut best: Option<(f64, Vec<String>)> = None;
    for row in &rows {
        let v = render(&tool.measure_template(&m.name, "value"), Some(r), Some(row))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok());
        let label = render(&tool.measure_template(&m.name, "label"), Some(r), Some(row))
            .unwrap_or_default();
        let Some(v) = v else { continue };
        match &mut best {
            Some((b, who)) if v == *b => who.push(label),
            Some((b, _)) if (max && v < *b) || (!max && v > *b) => {}
            _ => best = Some((v, vec![label])),
        }
    }
    let (v, who) = best?;
    let extreme = extreme(&m.name, max, false);
    let v = amount(v, &m.unit);
    Some(match who.as_slice() {
        [one] => format!("**{one}** has the {extreme} {}: {v}.", m.name),
        [.., last] if who.len() <= 5 => format!(
            "{} and **{last}** share the {extreme} {}: {v}.",
            who[..who.len() - 1]
                .iter()
                .map(|w| format!("**{w}**"))
                .collect::<Vec<_>>()
                .join(", "),
            m.name
        ),
        _ => format!("{} share the {extreme} {}: {v}.", who.len(), m.name),
    })
}

/// "the most incidents" for a count, "the highest lead time" for a level; "more/higher"
/// between two.
fn extreme(measure: &str, max: bool, two: bool) -> &'static str {
    let count = measure.ends_with('s');
    match (count, max, two) {
        (true, true, true) => "more",
        (true, false, true) => "fewer",
        (true, true, false) => "most",
        (true, false, false) => "fewest",
        (false, true, true) => "higher",
        (false, false, true) => "lower",
        (false, true, false) => "highest",
        (false, false, false) => "lowest",
    }
}

/// 64 → "64 deployment days", 12.5 with "%" → "12.5%".
fn amount(v: f64, unit: &str) -> String {
    let n = if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    };
    match unit {
        "" => n,
        "%" => format!("{n}%"),
        u => format!("{n} {u}"),
    }
}

pub(super) fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn title(arg: &str) -> String {
    capitalise(&arg.replace('_', " "))
}
