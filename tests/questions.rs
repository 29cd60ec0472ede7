//! The question suite: questions a manager would ask, run end to end through the
//! supervisor with the offline model over the generated demo organisation. Each asserts
//! the route, the tool (and key arguments) and the facts of the answer — names, counts,
//! metric values, bands — with the expected values computed here by SQL over the same
//! SQLite file, never copied from an answer.
//!
//! `QUESTIONS_VERBOSE=1 cargo test --test questions -- --nocapture` prints every answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use eng_intel::compile::compile;
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Envelope, Event, RunRequest};
use eng_intel::settings::Settings;
use serde_json::{Value, json};
use sqlx::sqlite::SqlitePool;

// ── Fixture ──────────────────────────────────────────────────────────────────────────

/// The data dir, generated once per test binary (through `store::open`, as the server does).
fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("questions-data");
        let _ = std::fs::remove_dir_all(&dir);
        let d = dir.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let announced = std::sync::Mutex::new(Vec::new());
                eng_intel::store::open(&settings(&d), &|m| {
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

fn settings(dir: &Path) -> Settings {
    let dir = dir.display().to_string();
    Settings::from_lookup(|k| (k == "DATA_DIR").then(|| dir.clone()))
}

struct Suite {
    engine: Engine,
    db: SqlitePool,
}

async fn suite() -> Suite {
    let dir = data_dir();
    let stores = eng_intel::store::open(&settings(dir), &|m| {
        panic!("data was already there, yet: {m}")
    })
    .await
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).unwrap();
    assert!(!report.has_errors(), "{report}");
    let set = compile(project).unwrap_or_else(|r| panic!("{r}"));
    let db = SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        eng_intel::store::sqlite_path(dir).display()
    ))
    .await
    .unwrap();
    Suite {
        engine: Engine::new(set, Arc::new(OfflineModel), stores.tools()),
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
    if std::env::var("QUESTIONS_VERBOSE").is_ok() {
        println!(
            "\n### {q}\n{:?} {:?} {:?}\n{}",
            o.route, o.calls, o.ends, o.answer
        );
    }
    o
}

// ── Independent expectations (SQL over the SQLite file) ─────────────────────────────

const NOW: &str = "2025-06-30T00:00:00Z";

async fn strings(db: &SqlitePool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
async fn string(db: &SqlitePool, sql: &str) -> String {
    strings(db, sql)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no row: {sql}"))
}
async fn int(db: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}
async fn floats(db: &SqlitePool, sql: &str) -> Vec<f64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(db)
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

async fn dora(db: &SqlitePool, days: i64, filter: &str) -> Dora {
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
    // Apache DevLake's 2023 bands (grafana/dashboards/DORA.json in apache/devlake): lead and
    // recovery times strictly below the limit, change failure rate at or below it; deployment
    // frequency by median deployment days, Elite from 5 a week.
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

// ── Assertions ──────────────────────────────────────────────────────────────────────

type Check = Result<(), String>;

fn has(answer: &str, what: &str) -> Check {
    if answer.contains(what) {
        Ok(())
    } else {
        Err(format!("answer lacks {what:?}"))
    }
}

fn lacks(answer: &str, what: &str) -> Check {
    if answer.contains(what) {
        Err(format!("answer should not mention {what:?}"))
    } else {
        Ok(())
    }
}

/// The first number after `label` in the answer is `expected` within `tol`.
fn number_after(answer: &str, label: &str, expected: f64, tol: f64) -> Check {
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
    let got: f64 = num
        .trim_end_matches('.')
        .parse()
        .map_err(|e| format!("{num:?} after {label:?}: {e}"))?;
    if (got - expected).abs() <= tol {
        Ok(())
    } else {
        Err(format!("after {label:?}: {got}, expected {expected}"))
    }
}

/// One question: where it must go, which tool with which args, and what the answer says.
async fn check(
    s: &Suite,
    q: &str,
    route: &str,
    tool: &str,
    args: Value,
    facts: impl FnOnce(&str) -> Vec<Check>,
) -> Vec<String> {
    let o = ask(&s.engine, q).await;
    let mut errs = Vec::new();
    if o.route.as_deref() != Some(route) {
        errs.push(format!("routed to {:?}, expected {route}", o.route));
    }
    match o.calls.first() {
        Some((t, a)) if t == tool => {
            for (k, v) in args.as_object().unwrap() {
                if a.get(k) != Some(v) {
                    errs.push(format!("arg {k} = {:?}, expected {v}", a.get(k)));
                }
            }
        }
        other => errs.push(format!("called {other:?}, expected {tool}")),
    }
    if !o.ends.first().is_some_and(|e| e.1) {
        errs.push(format!("tool failed: {:?}", o.ends));
    }
    if !o.ok {
        errs.push("run did not end ok".into());
    }
    errs.extend(facts(&o.answer).into_iter().filter_map(Result::err));
    errs.into_iter()
        .map(|e| format!("{q}: {e}\n    answer: {}", o.answer.replace('\n', "\n    ")))
        .collect()
}

fn report(failures: Vec<String>, asked: usize) {
    assert!(
        failures.is_empty(),
        "{} problem(s) in {asked} questions:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ── People, skills, collaboration, documents (Insights_Specialist) ──────────────────

const INSIGHTS: &str = "Insights_Specialist";

#[tokio::test]
async fn people_skills_collaboration_and_documents() {
    let s = suite().await;
    let db = &s.db;
    let mut fails = Vec::new();
    let mut asked = 0;

    let (title, team, manager) = sqlx::query_as::<_, (String, String, String)>(
        "SELECT e.title, t.name, m.name FROM employees e JOIN teams t ON t.id = e.team_id JOIN employees m ON m.id = e.manager_id WHERE e.name = 'Alex Kumar'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is Alex Kumar?",
            INSIGHTS,
            "employee_profile",
            json!({"person": "Alex Kumar"}),
            |a| {
                vec![
                    has(a, "**Alex Kumar**"),
                    has(a, &title),
                    has(a, &format!("{team} team")),
                    has(a, &format!("reporting to {manager}")),
                ]
            },
        )
        .await,
    );

    let sofia_title = string(db, "SELECT title FROM employees WHERE name = 'Sofia Rossi'").await;
    let owns = strings(db, "SELECT s.name FROM services s JOIN employees e ON e.id = s.owner_id WHERE e.name = 'Sofia Rossi'").await;
    let top_skill = string(db, "SELECT s.name || ' (' || es.proficiency || '/5)' FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id WHERE e.name = 'Sofia Rossi' ORDER BY es.proficiency DESC, s.name LIMIT 1").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Tell me about Sofia Rossi",
            INSIGHTS,
            "employee_profile",
            json!({"person": "Sofia Rossi"}),
            |a| {
                let mut v = vec![
                    has(a, &sofia_title),
                    has(a, &format!("Skills: {top_skill}")),
                ];
                v.extend(owns.iter().map(|o| has(a, o)));
                v
            },
        )
        .await,
    );

    let employees = int(db, "SELECT COUNT(*) FROM employees").await;
    let teams = int(db, "SELECT COUNT(*) FROM teams").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "How many employees do we have?",
            INSIGHTS,
            "headcount",
            json!({}),
            |a| {
                vec![
                    has(a, &format!("{employees} employees")),
                    has(a, &format!("{teams} teams")),
                ]
            },
        )
        .await,
    );
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.name, COUNT(*) FROM employees e JOIN teams t ON t.id = e.team_id GROUP BY t.name",
    )
    .fetch_all(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "What's the headcount by team?",
            INSIGHTS,
            "headcount",
            json!({}),
            |a| {
                sizes
                    .iter()
                    .map(|(t, n)| has(a, &format!("{t}: {n}")))
                    .collect()
            },
        )
        .await,
    );

    for (q, skill) in [
        ("Find developers with Python expertise", "Python"),
        ("Who knows Kubernetes?", "Kubernetes"),
    ] {
        let people = strings(db, &format!("SELECT e.name FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id WHERE s.name = '{skill}'")).await;
        asked += 1;
        fails.extend(
            check(
                &s,
                q,
                INSIGHTS,
                "find_developer_by_skills",
                json!({"skills": skill}),
                |a| {
                    let mut v = vec![has(a, &format!("{} people have {skill}", people.len()))];
                    v.extend(people.iter().map(|p| has(a, &format!("**{p}**"))));
                    v
                },
            )
            .await,
        );
    }

    let data_team = strings(
        db,
        "SELECT e.name FROM employees e JOIN teams t ON t.id = e.team_id WHERE t.name = 'Data'",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is on the Data team?",
            INSIGHTS,
            "team_members",
            json!({"team": "Data"}),
            |a| {
                let mut v = vec![has(a, &format!("{} members", data_team.len()))];
                v.extend(data_team.iter().map(|p| has(a, &format!("**{p}**"))));
                v
            },
        )
        .await,
    );

    let chain = strings(
        db,
        "WITH RECURSIVE up(id, name, manager_id, n) AS (SELECT id, name, manager_id, 0 FROM employees WHERE name = 'Alex Kumar' \
         UNION ALL SELECT e.id, e.name, e.manager_id, up.n + 1 FROM employees e JOIN up ON e.id = up.manager_id) SELECT name FROM up ORDER BY n",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who does Alex Kumar report to?",
            INSIGHTS,
            "reporting_chain",
            json!({"person": "Alex Kumar"}),
            |a| {
                vec![
                    has(a, &format!("reports to **{}**", chain[1])),
                    has(a, &chain.join(" → ")),
                ]
            },
        )
        .await,
    );

    let reports = strings(db, "SELECT e.name FROM employees e JOIN employees m ON m.id = e.manager_id WHERE m.name = 'Daniel Okafor'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who reports to Daniel Okafor?",
            INSIGHTS,
            "direct_reports",
            json!({"person": "Daniel Okafor"}),
            |a| {
                let mut v = vec![has(a, &format!("{} people report directly", reports.len()))];
                v.extend(reports.iter().map(|p| has(a, &format!("**{p}**"))));
                v
            },
        )
        .await,
    );

    let (held, notes) = sqlx::query_as::<_, (String, String)>(
        "SELECT o.held_on, o.notes FROM one_on_ones o JOIN employees e ON e.id = o.employee_id WHERE e.name = 'Sofia Rossi' ORDER BY o.held_on DESC LIMIT 1",
    )
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "What did we discuss in the last 1:1s with Sofia Rossi?",
            INSIGHTS,
            "one_on_one_notes",
            json!({"person": "Sofia Rossi"}),
            |a| {
                vec![
                    has(a, &format!("**{held}**: {notes}")),
                    has(a, "stretched thin"),
                ]
            },
        )
        .await,
    );

    let top_collaborator = string(
        db,
        "SELECT other FROM (SELECT author AS other FROM pr_reviews WHERE reviewer = 'Alex Kumar' AND reviewed_at IS NOT NULL \
         UNION ALL SELECT reviewer FROM pr_reviews WHERE author = 'Alex Kumar' AND reviewed_at IS NOT NULL) \
         GROUP BY other ORDER BY COUNT(*) DESC, other LIMIT 1",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who does Alex Kumar work with most?",
            INSIGHTS,
            "collaborators",
            json!({"person": "Alex Kumar"}),
            |a| {
                vec![has(
                    a,
                    &format!("works most closely with **{top_collaborator}**"),
                )]
            },
        )
        .await,
    );

    // Experts on a skill: proficiency × 10 plus a fifth of (at most 100) commits to services built with it.
    let kafka_expert = string(
        db,
        "SELECT e.name FROM employees e LEFT JOIN (SELECT es.employee_id, es.proficiency FROM employee_skills es JOIN skills s ON s.id = es.skill_id WHERE s.name = 'Kafka') k ON k.employee_id = e.id \
         LEFT JOIN (SELECT author_id, COUNT(*) AS n FROM commits WHERE service IN (SELECT name FROM services WHERE ',' || stack || ',' LIKE '%,Kafka,%') GROUP BY author_id) c ON c.author_id = e.id \
         WHERE k.proficiency IS NOT NULL OR c.n IS NOT NULL \
         ORDER BY COALESCE(k.proficiency, 0) * 10 + MIN(COALESCE(c.n, 0), 100) / 5 DESC, e.name LIMIT 1",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who are the experts on Kafka?",
            INSIGHTS,
            "experts",
            json!({"topic": "Kafka"}),
            |a| {
                vec![
                    has(a, "for **Kafka**"),
                    has(a, &format!("Kafka**:\n- **{kafka_expert}**")),
                ]
            },
        )
        .await,
    );
    let ledger_top = string(db, "SELECT author FROM commits WHERE service = 'ledger-service' GROUP BY author ORDER BY COUNT(*) DESC LIMIT 1").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who should I ask about ledger-service?",
            INSIGHTS,
            "experts",
            json!({"topic": "ledger-service"}),
            |a| vec![has(a, &format!("ledger-service**:\n- **{ledger_top}**"))],
        )
        .await,
    );

    let silos: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT service, MIN(author), COUNT(*) FROM commits GROUP BY service HAVING COUNT(DISTINCT author_id) = 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(!silos.is_empty(), "the planted silo is in the data");
    for q in [
        "Which services have a bus factor of one?",
        "Where are our knowledge silos?",
    ] {
        asked += 1;
        fails.extend(
            check(&s, q, INSIGHTS, "knowledge_silos", json!({}), |a| {
                silos
                    .iter()
                    .map(|(svc, who, n)| {
                        has(a, &format!("**{svc}**")).and(has(
                            a,
                            &format!("only **{who}** has ever committed ({n} commits)"),
                        ))
                    })
                    .collect()
            })
            .await,
        );
    }

    let used_by = strings(db, "SELECT s.name FROM service_dependencies d JOIN services s ON s.id = d.service_id JOIN services x ON x.id = d.depends_on_id WHERE x.name = 'ledger-service' ORDER BY s.name").await;
    let impacted = int(
        db,
        "WITH RECURSIVE up(id) AS (SELECT id FROM services WHERE name = 'ledger-service' UNION SELECT d.service_id FROM service_dependencies d JOIN up ON d.depends_on_id = up.id) SELECT COUNT(*) - 1 FROM up",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What depends on ledger-service?",
            INSIGHTS,
            "service_dependencies",
            json!({"service": "ledger-service"}),
            |a| {
                vec![
                    has(a, &format!("Used directly by: {}", used_by.join(", "))),
                    has(a, &format!("Impacted if it fails ({impacted})")),
                ]
            },
        )
        .await,
    );
    let deps = strings(db, "SELECT x.name FROM service_dependencies d JOIN services s ON s.id = d.service_id JOIN services x ON x.id = d.depends_on_id WHERE s.name = 'mobile-bff' ORDER BY x.name").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What does mobile-bff depend on?",
            INSIGHTS,
            "service_dependencies",
            json!({"service": "mobile-bff"}),
            |a| vec![has(a, &format!("Depends on: {}", deps.join(", ")))],
        )
        .await,
    );
    let (owner, owner_team) = sqlx::query_as::<_, (String, String)>(
        "SELECT e.name, t.name FROM services s JOIN employees e ON e.id = s.owner_id JOIN teams t ON t.id = s.team_id WHERE s.name = 'ledger-service'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who owns ledger-service?",
            INSIGHTS,
            "service_dependencies",
            json!({"service": "ledger-service"}),
            |a| {
                vec![has(
                    a,
                    &format!("owned by the {owner_team} team (owner: **{owner}**)"),
                )]
            },
        )
        .await,
    );

    let runbook = string(db, "SELECT d.title FROM documents d JOIN services s ON s.id = d.service_id WHERE d.kind = 'runbook' AND s.name = 'payments-api'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Find the runbook for payments-api",
            INSIGHTS,
            "document_search",
            json!({"kind": "runbook", "query": "Find the runbook for payments-api"}),
            |a| {
                vec![
                    has(a, &format!("the best match is **{runbook}**")),
                    lacks(a, "(design doc"),
                ]
            },
        )
        .await,
    );
    let onboarding = string(db, "SELECT d.title FROM documents d JOIN teams t ON t.id = d.team_id WHERE d.kind = 'onboarding' AND t.name = 'Data'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Where is the onboarding guide for the Data team?",
            INSIGHTS,
            "document_search",
            json!({"kind": "onboarding", "query": "Where is the onboarding guide for the Data team?"}),
            |a| vec![has(a, &format!("the best match is **{onboarding}**"))],
        )
        .await,
    );
    let postmortems = strings(db, "SELECT d.title FROM documents d JOIN services s ON s.id = d.service_id WHERE d.kind = 'postmortem' AND s.name = 'payments-api'").await;
    assert!(
        !postmortems.is_empty(),
        "payments-api has postmortems to find"
    );
    asked += 1;
    fails.extend(
        check(
            &s,
            "Are there postmortems about payments-api?",
            INSIGHTS,
            "document_search",
            json!({"kind": "postmortem", "query": "Are there postmortems about payments-api?"}),
            |a| {
                let best = a
                    .split("the best match is **")
                    .nth(1)
                    .and_then(|r| r.split("**").next())
                    .unwrap_or_default();
                vec![if postmortems.iter().any(|p| p == best) {
                    Ok(())
                } else {
                    Err(format!(
                        "best match {best:?} is not a payments-api postmortem"
                    ))
                }]
            },
        )
        .await,
    );

    report(fails, asked);
    assert!(asked >= 20);
}

// ── Staffing: workload, availability, sprints, projects (Resource_Planner) ──────────

const RESOURCES: &str = "Resource_Planner";

#[tokio::test]
async fn staffing_workload_availability_and_projects() {
    let s = suite().await;
    let db = &s.db;
    let mut fails = Vec::new();
    let mut asked = 0;

    // Load = open story points + 2 per pending review; overloaded = at least three times
    // the engineers' median and at least 20.
    let loads: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT e.name, t.name, e.is_manager, \
           (SELECT COUNT(*) FROM tickets k WHERE k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review')), \
           (SELECT COALESCE(SUM(points), 0) FROM tickets k WHERE k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review')), \
           (SELECT COUNT(*) FROM pr_reviews r WHERE r.reviewer_id = e.id AND r.reviewed_at IS NULL) \
         FROM employees e JOIN teams t ON t.id = e.team_id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let load = |l: &(String, String, i64, i64, i64, i64)| l.4 + 2 * l.5;
    let median = lower_median(
        loads
            .iter()
            .filter(|l| l.2 == 0)
            .map(|l| load(l) as f64)
            .collect(),
    )
    .unwrap();
    let threshold = (3.0 * median).max(20.0);
    let overloaded: Vec<&String> = loads
        .iter()
        .filter(|l| load(l) as f64 >= threshold)
        .map(|l| &l.0)
        .collect();
    assert_eq!(
        overloaded,
        ["Sofia Rossi"],
        "the planted overloaded engineer stands out"
    );
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is overloaded right now?",
            RESOURCES,
            "workload",
            json!({}),
            |a| {
                vec![
                    has(a, &format!("**{}**", overloaded[0])),
                    has(a, &format!("median of {median:.1}")),
                    has(a, &format!("load of {threshold:.1} or more")),
                ]
            },
        )
        .await,
    );
    let sofia = loads.iter().find(|l| l.0 == "Sofia Rossi").unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Show the workload of the Payments team",
            RESOURCES,
            "workload",
            json!({"team": "Payments"}),
            |a| {
                vec![
                    has(
                        a,
                        &format!(
                            "| Sofia Rossi ⚠️ | Payments | {} | {} | {} | {} |",
                            sofia.3,
                            sofia.4,
                            sofia.5,
                            load(sofia)
                        ),
                    ),
                    has(a, "the Payments team"),
                ]
            },
        )
        .await,
    );
    let most_points = loads
        .iter()
        .max_by_key(|l| (load(l), std::cmp::Reverse(l.0.clone())))
        .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Which engineers have the most open story points?",
            RESOURCES,
            "workload",
            json!({}),
            |a| {
                vec![has(
                    a,
                    &format!("|---|---|---|---|---|---|\n| {} ⚠️ |", most_points.0),
                )]
            },
        )
        .await,
    );

    // Next week is 7–13 July 2025 (the data ends on Monday 30 June).
    let away_next_week = strings(db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id WHERE o.starts_on <= '2025-07-13' AND o.ends_on >= '2025-07-07'").await;
    let total = int(db, "SELECT COUNT(*) FROM employees").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is available next week?",
            RESOURCES,
            "who_is_available",
            json!({"period": "next week"}),
            |a| {
                let mut v = vec![has(
                    a,
                    &format!(
                        "{} of {total} people are available next week",
                        total - away_next_week.len() as i64
                    ),
                )];
                v.extend(away_next_week.iter().map(|p| has(a, &format!("- **{p}**"))));
                v
            },
        )
        .await,
    );
    let platform_away = strings(db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id JOIN teams t ON t.id = e.team_id WHERE t.name = 'Platform' AND o.starts_on <= '2025-07-13' AND o.ends_on >= '2025-07-07'").await;
    assert!(
        platform_away.contains(&"Emily Zhang".to_string()),
        "planted: Emily Zhang's vacation"
    );
    asked += 1;
    fails.extend(
        check(
            &s,
            "Is anyone on the Platform team out next week?",
            RESOURCES,
            "who_is_available",
            json!({"team": "Platform", "period": "next week"}),
            |a| {
                platform_away
                    .iter()
                    .map(|p| has(a, &format!("- **{p}** (Platform)")))
                    .collect()
            },
        )
        .await,
    );
    let mobile_away = strings(db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id JOIN teams t ON t.id = e.team_id WHERE t.name = 'Mobile' AND o.starts_on <= '2025-07-06' AND o.ends_on >= '2025-06-30'").await;
    let mobile = int(
        db,
        "SELECT COUNT(*) FROM employees e JOIN teams t ON t.id = e.team_id WHERE t.name = 'Mobile'",
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is available on the Mobile team this week?",
            RESOURCES,
            "who_is_available",
            json!({"team": "Mobile", "period": "this week"}),
            |a| {
                let mut v = vec![has(
                    a,
                    &format!(
                        "{} of {mobile} people on the Mobile team are available this week",
                        mobile - mobile_away.len() as i64
                    ),
                )];
                v.extend(mobile_away.iter().map(|p| has(a, &format!("- **{p}**"))));
                v
            },
        )
        .await,
    );
    let upcoming: Vec<(String, String)> = sqlx::query_as("SELECT e.name, o.starts_on FROM time_off o JOIN employees e ON e.id = o.employee_id WHERE o.starts_on <= '2025-07-29' AND o.ends_on >= '2025-06-30'").fetch_all(db).await.unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who has time off coming up?",
            RESOURCES,
            "upcoming_time_off",
            json!({}),
            |a| {
                let mut v = vec![has(a, &format!("{} absence", upcoming.len()))];
                v.extend(upcoming.iter().map(|(p, from)| {
                    has(a, &format!("**{p}**")).and(has(a, &format!("from {from}")))
                }));
                v
            },
        )
        .await,
    );

    let oncall = strings(db, &format!("SELECT e.name || ' (' || s.role || ')' FROM oncall_shifts s JOIN employees e ON e.id = s.employee_id JOIN teams t ON t.id = s.team_id WHERE t.name = 'Payments' AND s.starts_at <= '{NOW}' AND s.ends_at > '{NOW}'")).await;
    assert!(!oncall.is_empty());
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is on call for Payments?",
            RESOURCES,
            "on_call",
            json!({"team": "Payments"}),
            |a| {
                oncall
                    .iter()
                    .map(|p| has(a, &format!("**{}", p.replacen(" (", "** (", 1))))
                    .collect()
            },
        )
        .await,
    );
    let shifts_this_week = int(db, "SELECT COUNT(*) FROM oncall_shifts WHERE starts_at <= '2025-07-07T00:00:00Z' AND ends_at > '2025-06-30T00:00:00Z'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who is on call this week?",
            RESOURCES,
            "on_call",
            json!({"period": "this week"}),
            |a| {
                vec![
                    if a.matches("UTC\n").count() + usize::from(a.ends_with("UTC"))
                        == shifts_this_week as usize
                    {
                        Ok(())
                    } else {
                        Err(format!("expected {shifts_this_week} shifts listed"))
                    },
                ]
            },
        )
        .await,
    );

    let (sprint, done, committed): (String, i64, i64) = sqlx::query_as(
        "SELECT s.name, SUM(CASE WHEN k.status = 'done' THEN k.points ELSE 0 END), SUM(k.points) FROM sprints s JOIN teams t ON t.id = s.team_id \
         JOIN tickets k ON k.sprint_id = s.id WHERE t.name = 'Mobile' AND s.starts_on <= '2025-06-30' AND s.ends_on >= '2025-06-30' GROUP BY s.id",
    )
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "How is the current sprint going for the Mobile team?",
            RESOURCES,
            "sprint_progress",
            json!({"team": "Mobile"}),
            |a| {
                vec![
                    has(a, &format!("**{sprint}**")),
                    has(a, &format!("{done} of {committed} points done")),
                ]
            },
        )
        .await,
    );
    let in_progress = int(db, "SELECT COUNT(DISTINCT team_id) FROM sprints WHERE starts_on <= '2025-06-30' AND ends_on >= '2025-06-30'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Sprint progress for all teams",
            RESOURCES,
            "sprint_progress",
            json!({}),
            |a| {
                vec![
                    if a.matches(" points done").count() == in_progress as usize {
                        Ok(())
                    } else {
                        Err(format!("expected {in_progress} sprints"))
                    },
                ]
            },
        )
        .await,
    );
    let velocity: Vec<f64> = floats(
        db,
        "SELECT CAST(SUM(CASE WHEN k.status = 'done' THEN k.points ELSE 0 END) AS REAL) FROM sprints s JOIN teams t ON t.id = s.team_id JOIN tickets k ON k.sprint_id = s.id \
         WHERE t.name = 'Data' AND s.ends_on < '2025-06-30' GROUP BY s.id ORDER BY s.number DESC LIMIT 6",
    )
    .await;
    let avg = velocity.iter().sum::<f64>() / velocity.len() as f64;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What is the velocity of the Data team?",
            RESOURCES,
            "team_velocity",
            json!({"team": "Data"}),
            |a| {
                vec![
                    number_after(a, "**Data**: ", avg, 0.051),
                    has(a, &format!("last {} sprints", velocity.len())),
                ]
            },
        )
        .await,
    );

    let at_risk = strings(db, "SELECT name FROM projects WHERE status = 'at_risk'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Which projects are at risk?",
            RESOURCES,
            "project_status",
            json!({"status": "at risk"}),
            |a| {
                let mut v: Vec<Check> = at_risk
                    .iter()
                    .map(|p| has(a, &format!("**{p}**")))
                    .collect();
                v.push(if a.matches("**at risk**").count() == at_risk.len() {
                    Ok(())
                } else {
                    Err("only at-risk projects".into())
                });
                v
            },
        )
        .await,
    );
    let (status, due) = sqlx::query_as::<_, (String, String)>(
        "SELECT status, due_date FROM projects WHERE name = 'Ledger v2 migration'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "What's the status of the Ledger v2 migration project?",
            RESOURCES,
            "project_status",
            json!({"project": "Ledger v2 migration"}),
            |a| {
                vec![has(
                    a,
                    &format!("**{}**, due {due}", status.replace('_', " ")),
                )]
            },
        )
        .await,
    );

    report(fails, asked);
    assert!(asked >= 14);
}

// ── Delivery: DORA, deployments, incidents, reviews, CI (DORA_Pro) ──────────────────

const DORA: &str = "DORA_Pro";

/// The DORA table of an answer matches metrics computed from the raw rows.
fn dora_facts(a: &str, d: &Dora) -> Vec<Check> {
    let mut v = vec![
        has(
            a,
            &format!("{} successful production deployments", d.deployments),
        ),
        number_after(a, "Deployment frequency | ", d.days_per_week, 0.0)
            .or_else(|_| has(a, &format!("median {:.1} days/week", d.days_per_week))),
        has(a, &format!("days/month | {} |", d.freq_band)),
    ];
    v.push(match d.lead_hours {
        Some(h) => number_after(a, "Lead time for changes | median ", h, 0.051)
            .and(has(a, &format!(" changes | {} |", d.lead_band))),
        None => has(a, "no changes shipped"),
    });
    v.push(match d.cfr {
        Some(r) => number_after(a, "Change failure rate | ", r * 100.0, 0.051)
            .and(has(a, &format!("caused incidents) | {} |", d.cfr_band))),
        None => has(a, "Change failure rate | no deployments"),
    });
    v.push(match d.recovery_hours {
        Some(h) => number_after(a, "recovery time | median ", h, 0.051)
            .and(has(a, &format!("| {} |\n\n", d.recovery_band))),
        None => has(a, "no resolved incidents"),
    });
    v
}

#[tokio::test]
async fn delivery_dora_incidents_and_reviews() {
    let s = suite().await;
    let db = &s.db;
    let mut fails = Vec::new();
    let mut asked = 0;

    let org = dora(db, 90, "1 = 1").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What are our DORA metrics?",
            DORA,
            "dora_metrics",
            json!({}),
            |a| dora_facts(a, &org),
        )
        .await,
    );
    let pay30 = dora(db, 30, "d.team = 'Payments'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Show DORA metrics for the Payments team over the last 30 days",
            DORA,
            "dora_metrics",
            json!({"team": "Payments", "days": 30}),
            |a| {
                let mut v = dora_facts(a, &pay30);
                v.push(has(a, "for the Payments team**, last 30 days"));
                v
            },
        )
        .await,
    );
    let platform = dora(db, 90, "d.team = 'Platform'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What's the change failure rate for Platform?",
            DORA,
            "dora_metrics",
            json!({"team": "Platform"}),
            |a| dora_facts(a, &platform),
        )
        .await,
    );
    let mobile = dora(db, 90, "d.team = 'Mobile'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "How often does the Mobile team deploy to production?",
            DORA,
            "dora_metrics",
            json!({"team": "Mobile"}),
            |a| dora_facts(a, &mobile),
        )
        .await,
    );
    let data = dora(db, 90, "d.team = 'Data'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "What is the lead time for changes of the Data team?",
            DORA,
            "dora_metrics",
            json!({"team": "Data"}),
            |a| dora_facts(a, &data),
        )
        .await,
    );
    let payments_api = dora(db, 90, "d.service = 'payments-api'").await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "DORA metrics for payments-api",
            DORA,
            "dora_metrics",
            json!({"service": "payments-api"}),
            |a| {
                let mut v = dora_facts(a, &payments_api);
                v.push(has(a, "for service payments-api**"));
                v
            },
        )
        .await,
    );

    // Lead time of the last 3 weeks against the 9 weeks before, per team (by deployment finish).
    let mut ratios: Vec<(f64, String, f64)> = Vec::new();
    for team in strings(db, "SELECT name FROM teams").await {
        let lead = |from: String, to: String| {
            format!(
                "SELECT (julianday(d.finished_at) - julianday(p.first_commit_at)) * 24 FROM pull_requests p JOIN deployments d ON d.id = p.deployment_id \
                 WHERE d.team = '{team}' AND d.environment = 'production' AND d.status = 'success' AND d.finished_at >= '{from}' AND d.finished_at < '{to}'"
            )
        };
        let recent = lower_median(floats(db, &lead(since(21), NOW.into())).await);
        let earlier = lower_median(floats(db, &lead(since(84), since(21))).await);
        if let (Some(r), Some(e)) = (recent, earlier) {
            ratios.push((r / e, team, r));
        }
    }
    ratios.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (worst_ratio, worst, worst_recent) = ratios[0].clone();
    assert_eq!(
        worst, "Payments",
        "the planted degrading team degrades most"
    );
    assert!(worst_ratio >= 1.5);
    asked += 1;
    fails.extend(
        check(
            &s,
            "Which team's lead time is getting worse?",
            DORA,
            "lead_time_trend",
            json!({}),
            |a| {
                vec![
                    has(a, &format!("getting worse for **{worst}")),
                    has(a, &format!("weeks before:\n- **{worst}**: ")),
                ]
            },
        )
        .await,
    );
    asked += 1;
    fails.extend(
        check(
            &s,
            "Show me the lead time trend for Payments",
            DORA,
            "lead_time_trend",
            json!({"team": "Payments"}),
            |a| {
                vec![
                    number_after(a, "- **Payments**: ", worst_recent, 0.051),
                    has(a, "Week by week: "),
                ]
            },
        )
        .await,
    );

    // Failed production deployments per calendar week, from the raw rows.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT finished_at, status FROM deployments WHERE environment = 'production'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut weeks: HashMap<NaiveDate, (i64, i64)> = HashMap::new();
    for (at, status) in &rows {
        let day = NaiveDate::parse_from_str(&at[..10], "%Y-%m-%d").unwrap();
        let w = weeks
            .entry(day - Duration::days(day.weekday().num_days_from_monday() as i64))
            .or_default();
        w.0 += i64::from(status == "failure");
        w.1 += 1;
    }
    let (week, (failed, total)) = weeks
        .iter()
        .max_by_key(|(w, (f, _))| (*f, std::cmp::Reverse(**w)))
        .map(|(w, c)| (*w, *c))
        .unwrap();
    assert_eq!(week.to_string(), "2025-05-12", "the planted failing week");
    asked += 1;
    fails.extend(
        check(
            &s,
            "Which week had the most failed deployments?",
            DORA,
            "deployment_trend",
            json!({}),
            |a| {
                vec![has(
                    a,
                    &format!(
                        "the week of {week}**: {failed} of {total} production deployments failed"
                    ),
                )]
            },
        )
        .await,
    );

    let ledger = int(db, &format!("SELECT COUNT(*) FROM deployments WHERE service = 'ledger-service' AND environment = 'production' AND finished_at >= '{}' AND finished_at < '{NOW}'", since(14))).await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Show recent deployments of ledger-service",
            DORA,
            "deployment_history",
            json!({"service": "ledger-service"}),
            |a| {
                vec![if ledger > 0 {
                    has(
                        a,
                        &format!("{ledger} production deployments in the last 14 days"),
                    )
                } else {
                    has(a, "No production deployments of ledger-service")
                }]
            },
        )
        .await,
    );
    let failed60 = int(db, &format!("SELECT COUNT(*) FROM deployments WHERE status = 'failure' AND environment = 'production' AND finished_at >= '{}' AND finished_at < '{NOW}'", since(60))).await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "List failed deployments in the last 60 days",
            DORA,
            "deployment_history",
            json!({"status": "failure", "days": 60}),
            |a| {
                vec![
                    has(
                        a,
                        &format!("{failed60} failed production deployments in the last 60 days"),
                    ),
                    lacks(a, "— success"),
                ]
            },
        )
        .await,
    );

    let per_team: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT team, COUNT(*) FROM incidents WHERE opened_at >= '{}' AND opened_at < '{NOW}' GROUP BY team", since(90)))).fetch_all(db).await.unwrap();
    let all: i64 = per_team.iter().map(|t| t.1).sum();
    asked += 1;
    fails.extend(
        check(
            &s,
            "How many incidents did each team have in the last 90 days?",
            DORA,
            "incident_stats",
            json!({"days": 90}),
            |a| {
                let mut v = vec![has(a, &format!("{all} incidents in the last 90 days"))];
                v.extend(
                    per_team
                        .iter()
                        .map(|(t, n)| has(a, &format!("**{t}**: {n} incidents"))),
                );
                v
            },
        )
        .await,
    );
    let (pay_n, pay_sev1): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), SUM(severity = 'SEV1') FROM incidents WHERE team = 'Payments' AND opened_at >= '{}' AND opened_at < '{NOW}'",
        since(90)
    )))
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "Incident stats for the Payments team",
            DORA,
            "incident_stats",
            json!({"team": "Payments"}),
            |a| {
                vec![has(
                    a,
                    &format!("**Payments**: {pay_n} incidents ({pay_sev1} SEV1"),
                )]
            },
        )
        .await,
    );
    let open = strings(db, "SELECT title FROM incidents WHERE resolved_at IS NULL").await;
    assert!(!open.is_empty());
    asked += 1;
    fails.extend(
        check(
            &s,
            "Are there any unresolved incidents?",
            DORA,
            "open_incidents",
            json!({}),
            |a| {
                let mut v = vec![has(a, &format!("{} incident", open.len()))];
                v.extend(open.iter().map(|t| has(a, &format!("**{t}**"))));
                v
            },
        )
        .await,
    );

    let top_reviewer = string(
        db,
        &format!("SELECT reviewer FROM pr_reviews WHERE reviewed_at IS NOT NULL AND requested_at >= '{}' AND requested_at < '{NOW}' GROUP BY reviewer ORDER BY COUNT(*) DESC, reviewer LIMIT 1", since(30)),
    )
    .await;
    asked += 1;
    fails.extend(
        check(
            &s,
            "Who reviews the most pull requests?",
            DORA,
            "review_stats",
            json!({}),
            |a| vec![has(a, &format!("**{top_reviewer}** did the most reviews"))],
        )
        .await,
    );
    let (pay_reviewer, pay_wait): (String, f64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT reviewer, AVG((julianday(reviewed_at) - julianday(requested_at)) * 24) FROM pr_reviews WHERE reviewer_team = 'Payments' AND requested_at >= '{}' AND requested_at < '{NOW}' \
         GROUP BY reviewer ORDER BY COUNT(reviewed_at) DESC, reviewer LIMIT 1",
        since(30)
    )))
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "How long do code reviews take on the Payments team?",
            DORA,
            "review_stats",
            json!({"team": "Payments"}),
            |a| {
                vec![
                    number_after(a, &format!("| {pay_reviewer} | Payments | "), 0.0, f64::MAX),
                    {
                        let row = a
                            .lines()
                            .find(|l| l.starts_with(&format!("| {pay_reviewer} |")))
                            .unwrap_or_default();
                        let wait: f64 = row
                            .split('|')
                            .nth(5)
                            .and_then(|c| c.trim().trim_end_matches(" h").parse().ok())
                            .unwrap_or(-1.0);
                        if (wait - pay_wait).abs() <= 0.051 {
                            Ok(())
                        } else {
                            Err(format!(
                                "{pay_reviewer}'s wait {wait}, expected {pay_wait:.2}"
                            ))
                        }
                    },
                ]
            },
        )
        .await,
    );

    for (q, person, days) in [
        (
            "What has Alex Kumar been working on lately?",
            "Alex Kumar",
            30,
        ),
        (
            "Show commit activity for Ravi Patel over the last 14 days",
            "Ravi Patel",
            14,
        ),
    ] {
        let commits = int(db, &format!("SELECT COUNT(*) FROM commits WHERE author = '{person}' AND authored_at >= '{}' AND authored_at < '{NOW}'", since(days))).await;
        let merged = int(db, &format!("SELECT COUNT(*) FROM pull_requests WHERE author = '{person}' AND merged_at >= '{}' AND merged_at < '{NOW}'", since(days))).await;
        let args = if days == 30 {
            json!({"person": person})
        } else {
            json!({"person": person, "days": days})
        };
        asked += 1;
        fails.extend(
            check(&s, q, DORA, "developer_activity", args, |a| {
                vec![
                    has(
                        a,
                        &format!("last {days} days **{person}** made {commits} commits"),
                    ),
                    has(a, &format!("merged {merged} and")),
                ]
            })
            .await,
        );
    }

    let (flaky, failures, runs): (String, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT service, SUM(status = 'failure'), COUNT(*) FROM ci_runs WHERE team = 'Data' AND started_at >= '{}' AND started_at < '{NOW}' \
         GROUP BY service ORDER BY 1.0 * SUM(status = 'failure') / COUNT(*) DESC, service LIMIT 1",
        since(30)
    )))
    .fetch_one(db)
    .await
    .unwrap();
    asked += 1;
    fails.extend(
        check(
            &s,
            "How healthy is CI for the Data team?",
            DORA,
            "ci_health",
            json!({"team": "Data"}),
            |a| {
                vec![has(
                    a,
                    &format!(
                        "flakiest first:\n- **{flaky}** (Data): {failures} of {runs} runs failed"
                    ),
                )]
            },
        )
        .await,
    );

    report(fails, asked);
    assert!(asked >= 18);
}

// ── Bad input ───────────────────────────────────────────────────────────────────────

/// A question whose tool call fails: `tool_end` says why, and the run still answers.
async fn fails_clearly(s: &Suite, q: &str, route: &str, tool: &str, message: &str) -> Vec<String> {
    let o = ask(&s.engine, q).await;
    let mut errs = Vec::new();
    if o.route.as_deref() != Some(route) {
        errs.push(format!("routed to {:?}, expected {route}", o.route));
    }
    match o.ends.first() {
        Some((t, false, preview)) if t == tool && preview.contains(message) => {}
        other => errs.push(format!(
            "tool_end {other:?}, expected {tool} failing with {message:?}"
        )),
    }
    if !o.ok {
        errs.push("the run did not go on to an answer".into());
    }
    if !o.answer.contains(message) {
        errs.push(format!("the answer does not say {message:?}"));
    }
    errs.into_iter()
        .map(|e| format!("{q}: {e}\n    answer: {}", o.answer))
        .collect()
}

#[tokio::test]
async fn bad_input_is_explained_and_the_run_goes_on() {
    let s = suite().await;
    let mut fails = Vec::new();
    // A name within a small edit distance is read as the name it misspells.
    fails.extend(
        check(
            &s,
            "Who is Alx Kumar?",
            INSIGHTS,
            "employee_profile",
            json!({"person": "Alex Kumar"}),
            |a| vec![has(a, "Alex Kumar")],
        )
        .await,
    );
    // A name within a small edit distance is read as the name it misspells.
    fails.extend(
        check(
            &s,
            "Who is on the Paymnts team?",
            INSIGHTS,
            "team_members",
            json!({"team": "Payments"}),
            |a| vec![has(a, "Payments")],
        )
        .await,
    );
    // A name within a small edit distance is read as the name it misspells.
    fails.extend(
        check(
            &s,
            "Who reports to Danial Okafor?",
            INSIGHTS,
            "direct_reports",
            json!({"person": "Daniel Okafor"}),
            |a| vec![has(a, "Daniel Okafor")],
        )
        .await,
    );
    fails.extend(
        fails_clearly(
            &s,
            "Who knows COBOL?",
            INSIGHTS,
            "find_developer_by_skills",
            "no skill named COBOL; known skills are Python, Go",
        )
        .await,
    );
    // Arguments that fail the tool's JSON Schema (days ≤ 365).
    fails.extend(
        fails_clearly(
            &s,
            "Show DORA metrics for the last 1000 days",
            DORA,
            "dora_metrics",
            "invalid arguments for dora_metrics: days: 1000 is greater than the maximum of 365",
        )
        .await,
    );
    // "next fortnight" is the next 14 days.
    fails.extend(
        check(
            &s,
            "Who is on call next fortnight?",
            RESOURCES,
            "on_call",
            json!({"since": "2025-06-30", "until": "2025-07-13"}),
            |_| vec![],
        )
        .await,
    );
    report(fails, 6);
}

#[tokio::test]
async fn an_empty_result_says_so_plainly() {
    let s = suite().await;
    let db = &s.db;
    let mut fails = Vec::new();
    let completed = int(db, "SELECT COUNT(*) FROM projects p JOIN teams t ON t.id = p.team_id WHERE t.name = 'Payments' AND p.status = 'completed'").await;
    assert_eq!(completed, 0, "the Payments team has no completed project");
    fails.extend(
        check(
            &s,
            "Which projects are completed for the Payments team?",
            RESOURCES,
            "project_status",
            json!({"status": "completed", "team": "Payments"}),
            |a| {
                vec![has(
                    a,
                    "No projects match the status \"completed\" for the Payments team.",
                )]
            },
        )
        .await,
    );
    let data_open = int(
        db,
        "SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL AND team = 'Data'",
    )
    .await;
    assert_eq!(data_open, 0);
    fails.extend(
        check(
            &s,
            "Are there open incidents for the Data team?",
            DORA,
            "open_incidents",
            json!({"team": "Data"}),
            |a| vec![has(a, "There are no open incidents for the Data team.")],
        )
        .await,
    );
    let swift = int(db, "SELECT COUNT(*) FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id JOIN teams t ON t.id = e.team_id WHERE s.name = 'Swift' AND t.name = 'Payments'").await;
    assert_eq!(swift, 0);
    fails.extend(
        check(
            &s,
            "Who on the Payments team knows Swift?",
            INSIGHTS,
            "find_developer_by_skills",
            json!({"skills": "Swift", "team": "Payments"}),
            |a| {
                vec![has(
                    a,
                    "Nobody on the Payments team lists Swift among their skills.",
                )]
            },
        )
        .await,
    );
    report(fails, 3);
}
