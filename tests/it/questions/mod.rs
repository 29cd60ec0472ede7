//! The question suite: questions a manager would ask, run end to end through the
//! supervisor with the offline model over the generated demo organisation. Each case of
//! the table (cases.rs) names the route, the tool (and key arguments) and the facts of the
//! answer — names, counts, metric values, bands — with the expected values computed by SQL
//! over the same SQLite file when the case runs, never copied from an answer. One runner
//! asks every question and reports every failing case at once.
//!
//! `QUESTIONS_VERBOSE=1 cargo test --test it questions:: -- --nocapture` prints every answer;
//! `QUESTIONS_FILTER=TEXT` asks only the questions containing TEXT.

mod at_scale;
mod bank;
mod cases;
mod model_path;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Envelope, Event, RunRequest};
use serde_json::Value;
use sqlx::sqlite::{SqlitePool, SqliteRow};

pub use cases::CASES;

use crate::support::{Vars, config, env};

// ── The table's shape ───────────────────────────────────────────────────────────────

/// One question and what it must do.
pub struct Case {
    pub question: &'static str,
    /// The specialist the supervisor routes it to.
    pub route: &'static str,
    /// The tool it calls first.
    pub tool: &'static str,
    pub expect: Expect,
}

pub enum Expect {
    /// The tool is called with at least these arguments (a JSON object), succeeds, the run
    /// ends ok and the answer states the facts, computed by SQL when the case runs.
    Answer {
        args: &'static str,
        facts: fn(Db) -> Pending,
    },
    /// The tool call fails with this message, and the run goes on to an answer that says it.
    ToolFails(&'static str),
}

/// The read-only demo database the expected values are computed from.
pub type Db = SqlitePool;

/// Facts being computed.
pub type Pending = Pin<Box<dyn Future<Output = Vec<Fact>> + Send>>;

/// A check of the answer: what is wrong with it, if anything.
pub type Checker = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// Something the answer must show.
pub enum Fact {
    /// The answer contains the text.
    Has(String),
    /// The answer does not contain the text.
    Lacks(String),
    /// The first number after `label` is `expected`, within `tol`.
    NumberAfter {
        label: String,
        expected: f64,
        tol: f64,
    },
    /// `text` occurs `times` times in the answer (`what` says what is counted).
    Count {
        text: &'static str,
        times: usize,
        what: &'static str,
    },
    /// The first fact, or else the second.
    Either(Box<Fact>, Box<Fact>),
    /// A check no fact above expresses.
    Check(Box<Checker>),
    /// Not about the answer: the demo data hold what the case relies on (a planted pattern).
    Planted { holds: bool, what: String },
}

/// "1 deployment", "3 deployments": how an answer counts.
pub fn counted(n: i64, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

pub fn has(text: impl Into<String>) -> Fact {
    Fact::Has(text.into())
}

pub fn lacks(text: impl Into<String>) -> Fact {
    Fact::Lacks(text.into())
}

pub fn number_after(label: impl Into<String>, expected: f64, tol: f64) -> Fact {
    Fact::NumberAfter {
        label: label.into(),
        expected,
        tol,
    }
}

pub fn count(text: &'static str, times: usize, what: &'static str) -> Fact {
    Fact::Count { text, times, what }
}

pub fn either(first: Fact, second: Fact) -> Fact {
    Fact::Either(Box::new(first), Box::new(second))
}

pub fn check(f: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static) -> Fact {
    Fact::Check(Box::new(f))
}

pub fn planted(holds: bool, what: impl Into<String>) -> Fact {
    Fact::Planted {
        holds,
        what: what.into(),
    }
}

impl Fact {
    /// Whether `answer` shows the fact, and if not, what is wrong.
    fn holds(&self, answer: &str) -> Result<(), String> {
        match self {
            Fact::Has(text) if answer.contains(text.as_str()) => Ok(()),
            Fact::Has(text) => Err(format!("answer lacks {text:?}")),
            Fact::Lacks(text) if answer.contains(text.as_str()) => {
                Err(format!("answer should not mention {text:?}"))
            }
            Fact::Lacks(_) => Ok(()),
            Fact::NumberAfter {
                label,
                expected,
                tol,
            } => {
                let got = first_number_after(answer, label)?;
                if (got - expected).abs() <= *tol {
                    Ok(())
                } else {
                    Err(format!("after {label:?}: {got}, expected {expected}"))
                }
            }
            Fact::Count { text, times, what } => match answer.matches(text).count() {
                n if n == *times => Ok(()),
                n => Err(format!("{what}: {n} × {text:?}, expected {times}")),
            },
            Fact::Either(first, second) => first
                .holds(answer)
                .or_else(|a| second.holds(answer).map_err(|b| format!("{a}, nor {b}"))),
            Fact::Check(f) => f(answer),
            Fact::Planted { holds: true, .. } => Ok(()),
            Fact::Planted { what, .. } => Err(format!("the demo data do not hold: {what}")),
        }
    }
}

fn first_number_after(answer: &str, label: &str) -> Result<f64, String> {
    let at = answer
        .find(label)
        .ok_or_else(|| format!("answer lacks {label:?}"))?
        + label.len();
    let rest = &answer[at..];
    let start = rest
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| format!("no number after {label:?}"))?;
    let num: String = rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.trim_end_matches('.')
        .parse()
        .map_err(|e| format!("{num:?} after {label:?}: {e}"))
}

// ── Fixture ──────────────────────────────────────────────────────────────────────────

/// The data dir, generated once per test binary (through `dataset::open`, as the server does).
pub(super) fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("questions-data");
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let announced = std::sync::Mutex::new(Vec::new());
                eng_intel::dataset::open(&Vars::new().data_dir(&d).settings(), &|m| {
                    announced.lock().unwrap().push(m.to_string())
                })
                .await
                .unwrap();
                let announced = announced.into_inner().unwrap();
                assert_eq!(announced.len(), 1, "{announced:?}");
                assert!(
                    announced[0].contains("created the demo organisation (18 employees, 4 teams)"),
                    "{}",
                    announced[0]
                );
            })
        })
        .join()
        .unwrap();
        dir
    })
}

struct Suite {
    engine: Engine,
    db: Db,
}

async fn suite() -> Suite {
    let dir = data_dir();
    let stores = eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(dir).settings(), &|m| {
        panic!("data was already there, yet: {m}")
    })
    .await
    .unwrap();
    let db = SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        eng_intel::store::sqlite_path(dir).display()
    ))
    .await
    .unwrap();
    Suite {
        engine: Engine::new(config(), Arc::new(OfflineModel), stores.tools()),
        db,
    }
}

/// What one run did.
#[derive(Debug, Default)]
struct Outcome {
    route: Option<String>,
    calls: Vec<(String, Value)>,
    ends: Vec<(String, bool, String)>,
    answer: String,
    ok: bool,
}

async fn ask(engine: &Engine, q: &str) -> Outcome {
    let events: Vec<Envelope> = engine
        .run_collect(RunRequest {
            question: q.into(),
            ..Default::default()
        })
        .await;
    let mut o = Outcome::default();
    for e in events {
        match e.event {
            Event::Routing { agent, .. } => o.route = Some(agent),
            Event::ToolStart { tool, args } => o.calls.push((tool, args)),
            Event::ToolEnd {
                tool,
                ok,
                result_preview,
                ..
            } => o.ends.push((tool, ok, result_preview)),
            Event::Response { content } => o.answer = content,
            Event::StreamEnd { ok, .. } => o.ok = ok,
            _ => {}
        }
    }
    if env("QUESTIONS_VERBOSE").is_some() {
        println!(
            "\n### {q}\n{:?} {:?} {:?}\n{}",
            o.route, o.calls, o.ends, o.answer
        );
    }
    o
}

// ── The runner ───────────────────────────────────────────────────────────────────────

/// What is wrong with the case's run (nothing: empty).
async fn problems(case: &Case, s: &Suite) -> Vec<String> {
    let o = ask(&s.engine, case.question).await;
    let mut errs = Vec::new();
    if o.route.as_deref() != Some(case.route) {
        errs.push(format!("routed to {:?}, expected {}", o.route, case.route));
    }
    match &case.expect {
        Expect::Answer { args, facts } => {
            let args: Value = serde_json::from_str(args).expect("a case's args are JSON");
            match o.calls.first() {
                Some((t, a)) if t == case.tool => {
                    for (k, v) in args.as_object().expect("a case's args are an object") {
                        if a.get(k) != Some(v) {
                            errs.push(format!("arg {k} = {:?}, expected {v}", a.get(k)));
                        }
                    }
                }
                other => errs.push(format!("called {other:?}, expected {}", case.tool)),
            }
            if !o.ends.first().is_some_and(|e| e.1) {
                errs.push(format!("tool failed: {:?}", o.ends));
            }
            if !o.ok {
                errs.push("run did not end ok".into());
            }
            let facts = facts(s.db.clone()).await;
            errs.extend(facts.iter().filter_map(|f| f.holds(&o.answer).err()));
        }
        Expect::ToolFails(message) => {
            match o.ends.first() {
                Some((t, false, preview)) if t == case.tool && preview.contains(message) => {}
                other => errs.push(format!(
                    "tool_end {other:?}, expected {} failing with {message:?}",
                    case.tool
                )),
            }
            if !o.ok {
                errs.push("the run did not go on to an answer".into());
            }
            if !o.answer.contains(message) {
                errs.push(format!("the answer does not say {message:?}"));
            }
        }
    }
    if errs.is_empty() {
        return errs;
    }
    errs.push(format!(
        "answer:\n      {}",
        o.answer.replace('\n', "\n      ")
    ));
    errs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_question_is_routed_called_and_answered_as_the_data_say() {
    let filter = env("QUESTIONS_FILTER").unwrap_or_default();
    let suite = Arc::new(suite().await);
    let mut runs = tokio::task::JoinSet::new();
    for (i, case) in CASES.iter().enumerate() {
        if case.question.contains(filter.as_str()) {
            let suite = suite.clone();
            runs.spawn(async move { (i, problems(case, &suite).await) });
        }
    }
    let asked = runs.len();
    assert!(asked > 0, "no question contains {filter:?}");
    let mut failed = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (i, problems) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if !problems.is_empty() {
            failed.push((i, problems));
        }
    }
    failed.sort_by_key(|(i, _)| *i);
    let report: Vec<String> = failed
        .iter()
        .map(|(i, problems)| {
            let c = &CASES[*i];
            format!(
                "{:?} ({} → {}):\n    - {}",
                c.question,
                c.route,
                c.tool,
                problems.join("\n    - ")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {asked} questions failed:\n\n{}",
        failed.len(),
        report.join("\n\n")
    );
}

// ── Independent expectations (SQL over the SQLite file) ─────────────────────────────

const NOW: &str = "2025-06-30T00:00:00Z";

fn safe(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_string())
}

async fn strings(db: &Db, sql: &str) -> Vec<String> {
    sqlx::query_scalar(safe(sql))
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn string(db: &Db, sql: &str) -> String {
    strings(db, sql)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no row: {sql}"))
}

async fn int(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(safe(sql))
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn floats(db: &Db, sql: &str) -> Vec<f64> {
    sqlx::query_scalar(safe(sql))
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every row, as a tuple.
async fn rows<T>(db: &Db, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
{
    sqlx::query_as(safe(sql))
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The one row, as a tuple.
async fn row<T>(db: &Db, sql: &str) -> T
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
{
    sqlx::query_as(safe(sql))
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn since(days: i64) -> String {
    let now = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    (now - Duration::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The lower median (DevLake's: the largest value with percent_rank ≤ 0.5).
fn lower_median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}

/// DORA over `days` before NOW for a `where` clause on deployments `d`, from raw rows.
#[derive(Debug)]
struct Dora {
    deployments: i64,
    days_per_week: f64,
    freq_band: &'static str,
    lead_hours: Option<f64>,
    lead_band: &'static str,
    cfr: Option<f64>,
    cfr_band: &'static str,
    recovery_hours: Option<f64>,
    recovery_band: &'static str,
}

async fn dora(db: &Db, days: i64, filter: &str) -> Dora {
    let base = format!(
        "FROM deployments d WHERE d.environment = 'production' AND d.status = 'success' AND d.finished_at >= '{}' AND d.finished_at < '{NOW}' AND {filter}",
        since(days)
    );
    let deployments = int(db, &format!("SELECT COUNT(*) {base}")).await;
    let deploy_days: Vec<String> = strings(
        db,
        &format!("SELECT DISTINCT substr(d.finished_at, 1, 10) {base}"),
    )
    .await;
    // Every calendar week touching the window, with its deployment days.
    let start = NaiveDate::parse_from_str(&since(days)[..10], "%Y-%m-%d").unwrap();
    let end = NaiveDate::parse_from_str(&NOW[..10], "%Y-%m-%d").unwrap();
    let mut weeks: HashMap<NaiveDate, f64> = HashMap::new();
    let mut months: HashMap<(i32, u32), f64> = HashMap::new();
    let mut d = start;
    while d < end {
        let monday = d - Duration::days(d.weekday().num_days_from_monday() as i64);
        let hit = f64::from(u8::from(
            deploy_days.contains(&d.format("%Y-%m-%d").to_string()),
        ));
        *weeks.entry(monday).or_default() += hit;
        *months.entry((d.year(), d.month())).or_default() += hit;
        d += Duration::days(1);
    }
    let per_week = lower_median(weeks.into_values().collect()).unwrap();
    let per_month = lower_median(months.into_values().collect()).unwrap();
    let lead = floats(
        db,
        &format!("SELECT (julianday(d.finished_at) - julianday(p.first_commit_at)) * 24 FROM pull_requests p JOIN deployments d ON d.id = p.deployment_id WHERE p.deployment_id IN (SELECT d.id {base})"),
    )
    .await;
    let failed = int(db, &format!("SELECT COUNT(*) FROM (SELECT d.id {base} AND EXISTS (SELECT 1 FROM incidents i WHERE i.deployment_id = d.id))")).await;
    let recovery = floats(
        db,
        // DevLake counts only incidents resolved within the window (`$__timeFilter(i.resolution_date)`).
        &format!("SELECT (julianday(i.resolved_at) - julianday(d.finished_at)) * 24 FROM incidents i JOIN deployments d ON d.id = i.deployment_id WHERE i.resolved_at >= '{}' AND i.resolved_at < '{NOW}' AND d.id IN (SELECT d.id {base})", since(days)),
    )
    .await;
    let lead_hours = lower_median(lead);
    let cfr = (deployments > 0).then(|| failed as f64 / deployments as f64);
    let recovery_hours = lower_median(recovery);
    let band = |x: Option<f64>, limits: [f64; 3], strict: bool| match x {
        None => "no data",
        Some(x) if (strict && x < limits[0]) || (!strict && x <= limits[0]) => "Elite",
        Some(x) if (strict && x < limits[1]) || (!strict && x <= limits[1]) => "High",
        Some(x) if (strict && x < limits[2]) || (!strict && x <= limits[2]) => "Medium",
        Some(_) => "Low",
    };
    Dora {
        deployments,
        days_per_week: per_week,
        freq_band: if per_week >= 5.0 {
            "Elite"
        } else if per_week >= 1.0 {
            "High"
        } else if per_month >= 1.0 {
            "Medium"
        } else {
            "Low"
        },
        lead_hours,
        lead_band: band(lead_hours, [24.0, 168.0, 720.0], true),
        cfr,
        cfr_band: band(cfr, [0.05, 0.10, 0.15], false),
        recovery_hours,
        recovery_band: band(recovery_hours, [1.0, 24.0, 168.0], true),
    }
}

/// The DORA table of an answer matches metrics computed from the raw rows.
fn dora_facts(d: &Dora) -> Vec<Fact> {
    let mut v = vec![
        has(format!(
            "{} successful production deployments",
            d.deployments
        )),
        either(
            number_after("Deployment frequency | ", d.days_per_week, 0.0),
            has(format!("median {:.1} days/week", d.days_per_week)),
        ),
        has(format!("days/month | {} |", d.freq_band)),
    ];
    match d.lead_hours {
        Some(h) => v.extend([
            number_after("Lead time for changes | median ", h, 0.051),
            has(format!(" changes | {} |", d.lead_band)),
        ]),
        None => v.push(has("no changes shipped")),
    }
    match d.cfr {
        Some(r) => v.extend([
            number_after("Change failure rate | ", r * 100.0, 0.051),
            has(format!("caused incidents) | {} |", d.cfr_band)),
        ]),
        None => v.push(has("Change failure rate | no deployments")),
    }
    match d.recovery_hours {
        Some(h) => v.extend([
            number_after("recovery time | median ", h, 0.051),
            has(format!("| {} |\n\n", d.recovery_band)),
        ]),
        None => v.push(has("no resolved incidents")),
    }
    v
}
