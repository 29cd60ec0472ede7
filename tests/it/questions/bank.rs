//! The question bank: managers' questions in `bank/*.yaml` (one file per category, written
//! apart from the tools' examples), each with the tool that must answer, key arguments,
//! and facts computed by SQL over the demo database when the case runs. Threads are asked
//! turn by turn with the earlier turns as history. The report gives accuracy per category
//! and lists every miss; the test fails when overall accuracy drops below `FLOOR` (a
//! ratchet: raise it as the understanding improves).
//!
//! `BANK_REPORT=1 cargo test --test it questions::bank -- --nocapture` prints the report.

use std::collections::BTreeMap;
use std::path::Path;

use eng_intel::model::{Message, Role};
use eng_intel::run::{Envelope, Event, RunRequest};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Db, safe, suite};
use crate::support::env;

/// The share of bank questions that must be answered fully right (the bank scored 95.2 %
/// when it was last raised).
const FLOOR: f64 = 0.945;

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Entry {
    Thread { thread: Vec<Turn> },
    One(Turn),
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct Turn {
    pub ask: String,
    pub tool: Option<String>,
    #[serde(default)]
    pub args: Map<String, Value>,
    #[serde(default)]
    says: Vec<String>,
    #[serde(default)]
    facts: Vec<String>,
    #[serde(default)]
    refuses: bool,
    #[serde(default)]
    clarifies: bool,
}

/// Every category's entries, by file name.
pub(super) fn bank() -> BTreeMap<String, Vec<Entry>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/questions/bank");
    let mut out = BTreeMap::new();
    for f in std::fs::read_dir(&dir).expect("tests/it/questions/bank exists") {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let entries: Vec<Entry> =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            out.insert(name, entries);
        }
    }
    out
}

/// What one turn did.
struct Seen {
    calls: Vec<(String, Value)>,
    answer: String,
}

async fn ask(s: &super::Suite, q: &str, history: &[Message]) -> Seen {
    let events: Vec<Envelope> = s
        .engine
        .run_collect(RunRequest {
            question: q.into(),
            history: history.to_vec(),
            ..Default::default()
        })
        .await;
    let mut seen = Seen {
        calls: vec![],
        answer: String::new(),
    };
    for e in events {
        match e.event {
            // Only the specialist's own calls (a pipeline's inner steps come after it).
            Event::ToolStart { tool, args } => seen.calls.push((tool, args)),
            Event::Response { content } => seen.answer = content,
            _ => {}
        }
    }
    seen
}

/// The call's arguments with its window also written as `since`/`until` days (`until`
/// included) when it was given as a `period` or as `days`, so a window is compared by the
/// days it covers, not by how it was written.
fn with_window(args: &Value) -> Value {
    let mut out = args.clone();
    let Some(o) = out.as_object_mut() else {
        return out;
    };
    if o.contains_key("since") {
        return out;
    }
    let now = eng_intel::dataset::as_of();
    let days = |d: chrono::NaiveDate| Value::String(d.format("%Y-%m-%d").to_string());
    if let Some(Value::String(p)) = o.get("period")
        && let Ok((start, end, _, _)) = eng_intel::toolbox::period_bounds(p, now)
    {
        o.insert("since".into(), days(start));
        o.insert("until".into(), days(end));
    } else if let Some(d) = o.get("days").and_then(Value::as_i64) {
        let start = (now - chrono::Duration::days(d)).date_naive();
        let last = (now - chrono::Duration::days(1)).date_naive();
        o.insert("since".into(), days(start));
        o.insert("until".into(), days(last));
    }
    out
}

async fn fact(db: &Db, sql: &str) -> Result<String, String> {
    let row: Option<sqlx::sqlite::SqliteRow> = sqlx::query(safe(sql))
        .fetch_optional(db)
        .await
        .map_err(|e| format!("fact SQL failed: {e}: {sql}"))?;
    use sqlx::Row;
    let row = row.ok_or_else(|| format!("fact SQL returned no row: {sql}"))?;
    row.try_get::<String, _>(0)
        .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
        .map_err(|e| format!("fact SQL gave neither text nor integer ({e}): {sql}"))
}

/// What is wrong with one turn's answer (nothing: empty).
async fn misses(turn: &Turn, seen: &Seen, db: &Db) -> Vec<String> {
    let mut m = Vec::new();
    let lower = seen.answer.to_lowercase();
    if turn.refuses {
        if !seen.calls.is_empty() || !lower.contains("only reads") {
            m.push(format!("expected a refusal, got calls {:?}", seen.calls));
        }
        return m;
    }
    if turn.clarifies {
        if !seen.calls.is_empty() || !seen.answer.contains('?') {
            m.push(format!(
                "expected a clarifying question, got calls {:?}",
                seen.calls
            ));
        }
        return m;
    }
    match (turn.tool.as_deref(), seen.calls.first()) {
        (Some(want), Some((got, args))) if want == got => {
            let args = &with_window(args);
            for (k, v) in &turn.args {
                let same = match (args.get(k), v) {
                    (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (Some(a), b) => a == b,
                    (None, _) => false,
                };
                if !same {
                    m.push(format!("arg {k} = {:?}, expected {v}", args.get(k)));
                }
            }
        }
        (Some(want), got) => m.push(format!("called {got:?}, expected {want}")),
        (None, _) => {}
    }
    for text in &turn.says {
        if !lower.contains(&text.to_lowercase()) {
            m.push(format!("answer lacks {text:?}"));
        }
    }
    for sql in &turn.facts {
        match fact(db, sql).await {
            Ok(v) if seen.answer.contains(&v) => {}
            Ok(v) => m.push(format!("answer lacks {v:?} (from {sql})")),
            Err(e) => m.push(e),
        }
    }
    m
}

#[tokio::test]
async fn bank_accuracy_per_category() {
    let s = suite().await;
    let mut report = String::new();
    let mut missed = String::new();
    let (mut right, mut asked) = (0usize, 0usize);
    for (category, entries) in bank() {
        let (mut c_right, mut c_asked) = (0usize, 0usize);
        for entry in entries {
            let turns = match entry {
                Entry::Thread { thread } => thread,
                Entry::One(t) => vec![t],
            };
            let mut history: Vec<Message> = Vec::new();
            for turn in &turns {
                let seen = ask(&s, &turn.ask, &history).await;
                let m = misses(turn, &seen, &s.db).await;
                c_asked += 1;
                if m.is_empty() {
                    c_right += 1;
                } else {
                    missed.push_str(&format!(
                        "[{category}] {:?}{}\n    - {}\n",
                        turn.ask,
                        if history.is_empty() {
                            ""
                        } else {
                            " (follow-up)"
                        },
                        m.join("\n    - ")
                    ));
                }
                history.push(Message::new(Role::User, &turn.ask));
                history.push(Message::new(Role::Assistant, &seen.answer));
            }
        }
        report.push_str(&format!(
            "{category:<16} {c_right:>4} / {c_asked:<4} {:>5.1} %\n",
            100.0 * c_right as f64 / c_asked.max(1) as f64
        ));
        right += c_right;
        asked += c_asked;
    }
    let share = right as f64 / asked.max(1) as f64;
    report.push_str(&format!(
        "{:<16} {right:>4} / {asked:<4} {:>5.1} %\n",
        "all",
        100.0 * share
    ));
    let full = format!("{report}\nmisses:\n{missed}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("question-bank.txt");
    std::fs::write(&out, &full).unwrap();
    if env("BANK_REPORT").is_some() {
        println!("{full}");
    }
    assert!(
        asked >= 400,
        "the bank holds {asked} questions; it should hold at least 400"
    );
    assert!(
        share >= FLOOR,
        "{:.1} % of {asked} bank questions answered fully right, below the floor of {:.1} %:\n{full}",
        100.0 * share,
        100.0 * FLOOR
    );
}
