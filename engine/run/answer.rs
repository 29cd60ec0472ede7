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
/// first when the question compares or ranks by one of the tool's figures, saying whom
/// it left out when the question set someone aside.
pub(super) fn compose(
    results: &[Value],
    tools: &[Arc<ToolDef>],
    fallback: &str,
    u: &Understanding,
    render: Render<'_>,
) -> String {
    let body = lead(results, tools, fallback, u, render);
    // "who besides Kenji knows Rust?": the answer says whom it left out.
    match u.excluded.as_slice() {
        [] => body,
        out => format!("Leaving out {}: {body}", join_and(out)),
    }
}

/// The answer without the people set aside.
fn lead(
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
    if ok.len() >= 2 && same && !per_call && (!u.compare || tool.measures.is_empty()) {
        return together(&ok, u, &whole);
    }
    let Some(measure) = u
        .measure(&figures(tool.measures.iter()))
        .and_then(|n| tool.measures.iter().find(|m| m.name == n))
    else {
        return whole(ok.first().copied());
    };
    if ok.len() >= 2 && same {
        // A figure per row ranks within one result, unless the question compares the
        // calls and each has a total of it ("which had more incidents?"): each in turn.
        let totals = ok
            .iter()
            .all(|r| call_figure(r, tool, measure, render).is_some());
        return match measure.per_row && !(u.compare && totals) {
            false => side_by_side(&ok, tool, measure, u, render, &whole),
            true => together(&ok, u, &whole),
        };
    }
    let body = whole(ok.first().copied());
    if ok.len() == 1
        && measure.per_row
        && u.ranks()
        && let Some(verdict) = top_row(ok[0], tool, measure, u, render)
    {
        // The template's own lead line (a name in bold first) gives way to the verdict.
        let body = match body.split_once('\n') {
            Some((lead, rest)) if lead.starts_with("**") => rest,
            _ => &body,
        };
        return format!("{verdict}\n\n{}", body.trim_start());
    }
    if ok.len() == 1
        && !measure.per_row
        && let Some(lead) = named_figure(ok[0], tool, u, render)
    {
        return format!("{lead}\n\n{body}");
    }
    body
}

/// One result of a tool with several figures, when the question names one of them
/// ("what's our lead time?"): that figure first, before the whole table.
fn named_figure(
    r: &Value,
    tool: &ToolDef,
    u: &Understanding,
    render: Render<'_>,
) -> Option<String> {
    let once = figures(tool.measures.iter().filter(|m| !m.per_row));
    if once.len() < 2 {
        return None;
    }
    let named = u.named_measure(&once)?;
    let m = tool.measures.iter().find(|m| m.name == named)?;
    let v = figure(r, None, tool, m, render)?;
    let args = &r["args"];
    let scope = match (
        &r["result"]["scope"],
        &args["team"],
        &args["service"],
        &args["person"],
    ) {
        (Value::String(s), ..) => s.clone(),
        (_, Value::String(t), ..) => format!("the {t} team"),
        (_, _, Value::String(s), _) | (_, _, _, Value::String(s)) => s.clone(),
        _ => "the organisation".into(),
    };
    Some(format!(
        "{} for {scope}: **{}**.",
        capitalise(&m.name),
        amount(v, &m.unit)
    ))
}

/// Each measure's name and the other words for it, as the understanding weighs them.
fn figures<'a>(measures: impl Iterator<Item = &'a Measure>) -> Vec<(&'a str, &'a [String])> {
    measures
        .map(|m| (m.name.as_str(), m.words.as_slice()))
        .collect()
}

/// One call's figure: read once per result, or for a figure per row the sum of a count
/// ("incidents") or the one row's value.
fn call_figure(r: &Value, tool: &ToolDef, m: &Measure, render: Render<'_>) -> Option<f64> {
    if !m.per_row {
        return figure(r, None, tool, m, render);
    }
    match figure_rows(r, tool, m, render)?.as_slice() {
        [one] => figure(r, Some(one), tool, m, render),
        rows if counts(&m.name) => rows
            .iter()
            .map(|row| figure(r, Some(row), tool, m, render))
            .sum(),
        _ => None,
    }
}

/// A measure's number in one result (and one of its rows, for a figure per row).
fn figure(
    r: &Value,
    row: Option<&Value>,
    tool: &ToolDef,
    m: &Measure,
    render: Render<'_>,
) -> Option<f64> {
    render(&tool.measure_template(&m.name, "value"), Some(r), row)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The rows a figure per row is read from.
fn figure_rows(r: &Value, tool: &ToolDef, m: &Measure, render: Render<'_>) -> Option<Vec<Value>> {
    serde_json::from_str(&render(&tool.measure_template(&m.name, "rows"), Some(r), None).ok()?).ok()
}

/// A measure named in the plural is a count ("incidents"), else a level ("lead time").
fn counts(measure: &str) -> bool {
    measure.ends_with('s')
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
    let mut ranked: Vec<(String, Option<f64>, &Value)> = ok
        .iter()
        .map(|r| (label(r), call_figure(r, tool, m, render), *r))
        .collect();
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
    let (key, labels) = labels(ok, u);
    // Lists of people only: rows that name nobody (1:1 notes, tickets) have nothing in common.
    let names = |r: &Value| -> Option<Vec<String>> {
        let rows = r["result"].as_array()?;
        let names: Vec<String> = rows
            .iter()
            .filter_map(|row| row["name"].as_str().map(str::to_string))
            .collect();
        (rows.is_empty() || !names.is_empty()).then_some(names)
    };
    let lists: Option<Vec<Vec<String>>> = ok.iter().map(|r| names(r)).collect();
    let mut out = String::new();
    // People with both skills; two people's or teams' lists have nobody "in common" to ask.
    let skills = matches!(key.as_str(), "skills" | "skill" | "topic");
    if let Some(lists) = lists.filter(|_| !u.compare && skills) {
        // "Java but not Python": the first list without the second's people.
        let both: Vec<&String> = lists[0]
            .iter()
            .filter(|n| match u.but_not {
                true => !lists[1..].iter().any(|l| l.contains(n)),
                false => lists[1..].iter().all(|l| l.contains(n)),
            })
            .collect();
        let which = match (u.but_not, labels.len()) {
            (true, _) => format!("{} but not {}", labels[0], join_and(&labels[1..])),
            (false, 2) => format!("both {}", join_and(&labels)),
            (false, _) => format!("all of {}", join_and(&labels)),
        };
        out = match both.as_slice() {
            [] => format!("Nobody has {which}."),
            [one] => format!("**{one}** has {which}."),
            many => format!(
                "{} people have {which}: {}.",
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
    let rows = figure_rows(r, tool, m, render)?;
    let max = u.wants_max(m.higher_is_better);
    let mut best: Option<(f64, Vec<String>)> = None;
    for row in &rows {
        let v = figure(r, Some(row), tool, m, render);
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
    match (counts(measure), max, two) {
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
        u if u.starts_with('%') => format!("{n}{u}"),
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
