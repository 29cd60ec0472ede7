//! The lowest layer: vocabulary every other module shares and that depends on no
//! other module of the crate — source positions, diagnostics, model tiers, the
//! template environment, the run's event names and a tiny deterministic PRNG. See docs/ARCHITECTURE.md for the
//! layer order.

mod builtin;
pub mod diagnostic;
#[cfg(test)]
mod layers;
mod rng;
mod tier;

pub use builtin::Builtin;
pub use diagnostic::{Diagnostic, Report, Severity, did_you_mean};
pub use rng::Rng;
pub use tier::Tier;

/// Every event name of a run, in the order a run emits them: the wire names of
/// `run::Event` (`Event::NAMES`, kept beside `Event::name` so they agree), here so that
/// `validate` can check the events a test case expects.
pub const EVENT_NAMES: &[&str] = &[
    "stream_start",
    "model_selection",
    "routing",
    "node_start",
    "node_end",
    "tool_start",
    "tool_end",
    "model_fallback",
    "token",
    "response",
    "error",
    "stream_end",
];

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// The template environment every run renders with; filters shared by all templates.
pub fn templates_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    env.set_syntax(syntax.expect("default delimiters are valid"));
    env.add_filter("counted", counted);
    env.add_filter("shown", shown);
    env.add_filter("more", more);
    env
}

/// How many rows an answer lists: a reader scans twenty lines, not two thousand. The
/// figures around the list (totals, the verdict) still count every row.
pub const SHOWN_ROWS: usize = 20;

/// `{% for s in result | shown %}`: the first [`SHOWN_ROWS`] rows of a list (or `shown(n)`:
/// `n`), in its order.
fn shown(rows: minijinja::Value, n: Option<usize>) -> Result<minijinja::Value, minijinja::Error> {
    Ok(rows.try_iter()?.take(n.unwrap_or(SHOWN_ROWS)).collect())
}

/// `{{ result | more("service") }}`: "… and 1,984 more services" for the rows `shown`
/// leaves out (`more("service", n)` after `shown(n)`), else "" (so `{% if result | more %}`
/// asks whether any were left out).
fn more(
    rows: minijinja::Value,
    noun: Option<&str>,
    shown: Option<usize>,
) -> Result<String, minijinja::Error> {
    let n = rows.len().ok_or_else(|| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "more needs a list")
    })?;
    let rest = n.saturating_sub(shown.unwrap_or(SHOWN_ROWS));
    Ok(match (rest, noun) {
        (0, _) => String::new(),
        (_, None) => format!("… and {} more", grouped(rest)),
        (1, Some(noun)) => format!("… and 1 more {noun}"),
        (_, Some(noun)) => format!("… and {} more {}", grouped(rest), plural(noun)),
    })
}

/// 1984 → "1,984".
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `{{ n | counted("person") }}` → "1 person", "3 people": a count with its noun agreeing.
fn counted(n: minijinja::Value, noun: &str) -> String {
    if n.as_i64() == Some(1) {
        return format!("1 {noun}");
    }
    format!("{n} {}", plural(noun))
}

/// "person" → "people", "deployment day" → "deployment days".
fn plural(noun: &str) -> String {
    let (head, last) = noun.rsplit_once(' ').map_or(("", noun), |(h, l)| (h, l));
    let plural = match last {
        "person" => "people".to_string(),
        w if w.ends_with('y') && !w.ends_with("ey") && !w.ends_with("ay") => {
            format!("{}ies", &w[..w.len() - 1])
        }
        w if w.ends_with('s') || w.ends_with('x') || w.ends_with("ch") || w.ends_with("sh") => {
            format!("{w}es")
        }
        w => format!("{w}s"),
    };
    match head {
        "" => plural,
        _ => format!("{head} {plural}"),
    }
}
