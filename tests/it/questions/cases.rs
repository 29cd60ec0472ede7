//! The questions, by specialist. Each `Answer` computes its expected facts by SQL over the
//! demo data (the `db` it is given) when the case runs; a `planted` fact checks that the
//! data hold the pattern the question is about.

use std::cmp::Reverse;
use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};

use super::Expect::{Answer, ToolFails};
use super::{
    Case, Db, Dora, Fact, NOW, check, count, counted, dora, dora_facts, floats, has, int, lacks,
    lower_median, number_after, planted, row, rows, since, string, strings,
};

const INSIGHTS: &str = "Insights_Specialist";
const RESOURCES: &str = "Resource_Planner";
const DORA: &str = "DORA_Pro";

pub static CASES: &[Case] = &[
    // ── People, skills, collaboration, documents (Insights_Specialist) ──────────────
    Case {
        question: "Who is Alex Kumar?",
        route: INSIGHTS,
        tool: "employee_profile",
        expect: Answer {
            args: r#"{"person": "Alex Kumar"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (title, team, manager): (String, String, String) = row(
                        &db,
                        "SELECT e.title, t.name, m.name FROM employees e JOIN teams t ON t.id = e.team_id JOIN employees m ON m.id = e.manager_id WHERE e.name = 'Alex Kumar'",
                    )
                    .await;
                    vec![
                        has("**Alex Kumar**"),
                        has(title),
                        has(format!("{team} team")),
                        has(format!("reporting to {manager}")),
                    ]
                })
            },
        },
    },
    Case {
        question: "Tell me about Sofia Rossi",
        route: INSIGHTS,
        tool: "employee_profile",
        expect: Answer {
            args: r#"{"person": "Sofia Rossi"}"#,
            facts: |db| {
                Box::pin(async move {
                    let title = string(
                        &db,
                        "SELECT title FROM employees WHERE name = 'Sofia Rossi'",
                    )
                    .await;
                    let owns = strings(&db, "SELECT s.name FROM services s JOIN employees e ON e.id = s.owner_id WHERE e.name = 'Sofia Rossi'").await;
                    let top_skill = string(&db, "SELECT s.name || ' (' || es.proficiency || '/5)' FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id WHERE e.name = 'Sofia Rossi' ORDER BY es.proficiency DESC, s.name LIMIT 1").await;
                    let mut v = vec![has(title), has(format!("Skills: {top_skill}"))];
                    v.extend(owns.into_iter().map(has));
                    v
                })
            },
        },
    },
    Case {
        question: "who's working on the ledger v2 migration?",
        route: RESOURCES,
        tool: "tickets",
        expect: Answer {
            args: r#"{"project": "Ledger v2 migration"}"#,
            facts: |db| {
                Box::pin(async move {
                    let people = strings(&db, "SELECT DISTINCT e.name FROM tickets k JOIN projects p ON p.id = k.project_id JOIN employees e ON e.id = k.assignee_id WHERE p.name = 'Ledger v2 migration' AND k.status IN ('todo', 'in_progress', 'in_review')").await;
                    let open = int(&db, "SELECT COUNT(*) FROM tickets k JOIN projects p ON p.id = k.project_id WHERE p.name = 'Ledger v2 migration' AND k.status IN ('todo', 'in_progress', 'in_review')").await;
                    let mut v = vec![
                        planted(!people.is_empty(), "the project has assigned open tickets"),
                        has(format!(
                            "{} on Ledger v2 migration",
                            counted(open, "ticket")
                        )),
                    ];
                    v.extend(people.into_iter().map(|p| has(format!("**{p}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "which services does the data team own?",
        route: INSIGHTS,
        tool: "services",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move {
                    let owned = strings(&db, "SELECT s.name FROM services s JOIN teams t ON t.id = s.team_id WHERE t.name = 'Data'").await;
                    let mut v = vec![
                        planted(!owned.is_empty(), "the Data team owns services"),
                        has(format!(
                            "The Data team owns {}",
                            counted(owned.len() as i64, "service")
                        )),
                    ];
                    v.extend(owned.into_iter().map(|s| has(format!("**{s}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "How many employees do we have?",
        route: INSIGHTS,
        tool: "headcount",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let employees = int(&db, "SELECT COUNT(*) FROM employees").await;
                    let teams = int(&db, "SELECT COUNT(*) FROM teams").await;
                    vec![
                        has(format!("{employees} employees")),
                        has(format!("{teams} teams")),
                    ]
                })
            },
        },
    },
    Case {
        question: "What's the headcount by team?",
        route: INSIGHTS,
        tool: "headcount",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let sizes: Vec<(String, i64)> = rows(
                        &db,
                        "SELECT t.name, COUNT(*) FROM employees e JOIN teams t ON t.id = e.team_id GROUP BY t.name",
                    )
                    .await;
                    sizes
                        .iter()
                        .map(|(t, n)| has(format!("{t}: {n}")))
                        .collect()
                })
            },
        },
    },
    Case {
        question: "Find developers with Python expertise",
        route: INSIGHTS,
        tool: "find_developer_by_skills",
        expect: Answer {
            args: r#"{"skills": "Python"}"#,
            facts: |db| Box::pin(async move { people_with_skill(&db, "Python").await }),
        },
    },
    Case {
        question: "Who knows Kubernetes?",
        route: INSIGHTS,
        tool: "find_developer_by_skills",
        expect: Answer {
            args: r#"{"skills": "Kubernetes"}"#,
            facts: |db| Box::pin(async move { people_with_skill(&db, "Kubernetes").await }),
        },
    },
    Case {
        question: "Who is on the Data team?",
        route: INSIGHTS,
        tool: "team_members",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move {
                    let members = strings(
                        &db,
                        "SELECT e.name FROM employees e JOIN teams t ON t.id = e.team_id WHERE t.name = 'Data'",
                    )
                    .await;
                    let mut v = vec![has(format!("{} members", members.len()))];
                    v.extend(members.iter().map(|p| has(format!("**{p}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "Who does Alex Kumar report to?",
        route: INSIGHTS,
        tool: "reporting_chain",
        expect: Answer {
            args: r#"{"person": "Alex Kumar"}"#,
            facts: |db| {
                Box::pin(async move {
                    let chain = strings(
                        &db,
                        "WITH RECURSIVE up(id, name, manager_id, n) AS (SELECT id, name, manager_id, 0 FROM employees WHERE name = 'Alex Kumar' \
                         UNION ALL SELECT e.id, e.name, e.manager_id, up.n + 1 FROM employees e JOIN up ON e.id = up.manager_id) SELECT name FROM up ORDER BY n",
                    )
                    .await;
                    vec![
                        has(format!("reports to **{}**", chain[1])),
                        has(chain.join(" → ")),
                    ]
                })
            },
        },
    },
    Case {
        question: "Who reports to Daniel Okafor?",
        route: INSIGHTS,
        tool: "direct_reports",
        expect: Answer {
            args: r#"{"person": "Daniel Okafor"}"#,
            facts: |db| {
                Box::pin(async move {
                    let reports = strings(&db, "SELECT e.name FROM employees e JOIN employees m ON m.id = e.manager_id WHERE m.name = 'Daniel Okafor'").await;
                    let mut v = vec![has(format!("{} people report directly", reports.len()))];
                    v.extend(reports.iter().map(|p| has(format!("**{p}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "What did we discuss in the last 1:1s with Sofia Rossi?",
        route: INSIGHTS,
        tool: "one_on_one_notes",
        expect: Answer {
            args: r#"{"person": "Sofia Rossi"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (held, notes): (String, String) = row(
                        &db,
                        "SELECT o.held_on, o.notes FROM one_on_ones o JOIN employees e ON e.id = o.employee_id WHERE e.name = 'Sofia Rossi' ORDER BY o.held_on DESC LIMIT 1",
                    )
                    .await;
                    vec![has(format!("**{held}**: {notes}")), has("stretched thin")]
                })
            },
        },
    },
    Case {
        question: "Who does Alex Kumar work with most?",
        route: INSIGHTS,
        tool: "collaborators",
        expect: Answer {
            args: r#"{"person": "Alex Kumar"}"#,
            facts: |db| {
                Box::pin(async move {
                    let top = string(
                        &db,
                        // Reviews exchanged and commits written together (the demo has no
                        // co-changed files).
                        "SELECT other FROM (SELECT author AS other, 1 AS n FROM pr_reviews WHERE reviewer = 'Alex Kumar' AND reviewed_at IS NOT NULL \
                         UNION ALL SELECT reviewer, 1 FROM pr_reviews WHERE author = 'Alex Kumar' AND reviewed_at IS NOT NULL \
                         UNION ALL SELECT other, weight FROM collaborations WHERE employee = 'Alex Kumar' AND kind = 'co_authored') \
                         GROUP BY other ORDER BY SUM(n) DESC, other LIMIT 1",
                    )
                    .await;
                    vec![has(format!("works most closely with **{top}**"))]
                })
            },
        },
    },
    Case {
        question: "Who are the experts on Kafka?",
        route: INSIGHTS,
        tool: "experts",
        expect: Answer {
            args: r#"{"topic": "Kafka"}"#,
            facts: |db| {
                Box::pin(async move {
                    // Proficiency × 10 plus a fifth of (at most 100) commits to services built
                    // with the skill.
                    let expert = string(
                        &db,
                        "SELECT e.name FROM employees e LEFT JOIN (SELECT es.employee_id, es.proficiency FROM employee_skills es JOIN skills s ON s.id = es.skill_id WHERE s.name = 'Kafka') k ON k.employee_id = e.id \
                         LEFT JOIN (SELECT author_id, COUNT(*) AS n FROM commits WHERE service IN (SELECT name FROM services WHERE ',' || stack || ',' LIKE '%,Kafka,%') GROUP BY author_id) c ON c.author_id = e.id \
                         WHERE k.proficiency IS NOT NULL OR c.n IS NOT NULL \
                         ORDER BY COALESCE(k.proficiency, 0) * 10 + MIN(COALESCE(c.n, 0), 100) / 5 DESC, e.name LIMIT 1",
                    )
                    .await;
                    vec![
                        has("for **Kafka**"),
                        has(format!("Kafka**:\n- **{expert}**")),
                    ]
                })
            },
        },
    },
    Case {
        question: "Who should I ask about ledger-service?",
        route: INSIGHTS,
        tool: "experts",
        expect: Answer {
            args: r#"{"topic": "ledger-service"}"#,
            facts: |db| {
                Box::pin(async move {
                    let top = string(&db, "SELECT author FROM commits WHERE service = 'ledger-service' GROUP BY author ORDER BY COUNT(*) DESC LIMIT 1").await;
                    vec![has(format!("ledger-service**:\n- **{top}**"))]
                })
            },
        },
    },
    Case {
        question: "Which services have a bus factor of one?",
        route: INSIGHTS,
        tool: "knowledge_silos",
        expect: Answer {
            args: "{}",
            facts: |db| Box::pin(async move { silos(&db).await }),
        },
    },
    Case {
        question: "Where are our knowledge silos?",
        route: INSIGHTS,
        tool: "knowledge_silos",
        expect: Answer {
            args: "{}",
            facts: |db| Box::pin(async move { silos(&db).await }),
        },
    },
    Case {
        question: "What depends on ledger-service?",
        route: INSIGHTS,
        tool: "service_dependencies",
        expect: Answer {
            args: r#"{"service": "ledger-service"}"#,
            facts: |db| {
                Box::pin(async move {
                    let used_by = strings(&db, "SELECT s.name FROM service_dependencies d JOIN services s ON s.id = d.service_id JOIN services x ON x.id = d.depends_on_id WHERE x.name = 'ledger-service' ORDER BY s.name").await;
                    let impacted = int(
                        &db,
                        "WITH RECURSIVE up(id) AS (SELECT id FROM services WHERE name = 'ledger-service' UNION SELECT d.service_id FROM service_dependencies d JOIN up ON d.depends_on_id = up.id) SELECT COUNT(*) - 1 FROM up",
                    )
                    .await;
                    vec![
                        has(format!("Used directly by: {}", used_by.join(", "))),
                        has(format!("Impacted if it fails ({impacted})")),
                    ]
                })
            },
        },
    },
    Case {
        question: "What does mobile-bff depend on?",
        route: INSIGHTS,
        tool: "service_dependencies",
        expect: Answer {
            args: r#"{"service": "mobile-bff"}"#,
            facts: |db| {
                Box::pin(async move {
                    let deps = strings(&db, "SELECT x.name FROM service_dependencies d JOIN services s ON s.id = d.service_id JOIN services x ON x.id = d.depends_on_id WHERE s.name = 'mobile-bff' ORDER BY x.name").await;
                    vec![has(format!("Depends on: {}", deps.join(", ")))]
                })
            },
        },
    },
    Case {
        question: "Who owns ledger-service?",
        route: INSIGHTS,
        tool: "service_dependencies",
        expect: Answer {
            args: r#"{"service": "ledger-service"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (owner, team): (String, String) = row(
                        &db,
                        "SELECT e.name, t.name FROM services s JOIN employees e ON e.id = s.owner_id JOIN teams t ON t.id = s.team_id WHERE s.name = 'ledger-service'",
                    )
                    .await;
                    vec![has(format!(
                        "owned by the {team} team (owner: **{owner}**)"
                    ))]
                })
            },
        },
    },
    Case {
        question: "Find the runbook for payments-api",
        route: INSIGHTS,
        tool: "document_search",
        expect: Answer {
            args: r#"{"kind": "runbook", "query": "Find the runbook for payments-api"}"#,
            facts: |db| {
                Box::pin(async move {
                    let runbook = string(&db, "SELECT d.title FROM documents d JOIN services s ON s.id = d.service_id WHERE d.kind = 'runbook' AND s.name = 'payments-api'").await;
                    vec![
                        has(format!("the best match is **{runbook}**")),
                        lacks("(design doc"),
                    ]
                })
            },
        },
    },
    Case {
        question: "Where is the onboarding guide for the Data team?",
        route: INSIGHTS,
        tool: "document_search",
        expect: Answer {
            args: r#"{"kind": "onboarding", "query": "Where is the onboarding guide for the Data team?"}"#,
            facts: |db| {
                Box::pin(async move {
                    let guide = string(&db, "SELECT d.title FROM documents d JOIN teams t ON t.id = d.team_id WHERE d.kind = 'onboarding' AND t.name = 'Data'").await;
                    vec![has(format!("the best match is **{guide}**"))]
                })
            },
        },
    },
    Case {
        question: "Are there postmortems about payments-api?",
        route: INSIGHTS,
        tool: "document_search",
        expect: Answer {
            args: r#"{"kind": "postmortem", "query": "Are there postmortems about payments-api?"}"#,
            facts: |db| {
                Box::pin(async move {
                    let postmortems = strings(&db, "SELECT d.title FROM documents d JOIN services s ON s.id = d.service_id WHERE d.kind = 'postmortem' AND s.name = 'payments-api'").await;
                    vec![
                        planted(
                            !postmortems.is_empty(),
                            "payments-api has postmortems to find",
                        ),
                        check(move |a| {
                            let best = a
                                .split("the best match is **")
                                .nth(1)
                                .and_then(|r| r.split("**").next())
                                .unwrap_or_default();
                            if postmortems.iter().any(|p| p == best) {
                                Ok(())
                            } else {
                                Err(format!(
                                    "best match {best:?} is not a payments-api postmortem"
                                ))
                            }
                        }),
                    ]
                })
            },
        },
    },
    // ── Staffing: workload, availability, sprints, projects (Resource_Planner) ──────
    Case {
        question: "Who is overloaded right now?",
        route: RESOURCES,
        tool: "workload",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let w = workload(&db).await;
                    let overloaded: Vec<&str> = w
                        .people
                        .iter()
                        .filter(|p| p.load() as f64 >= w.threshold)
                        .map(|p| p.name.as_str())
                        .collect();
                    vec![
                        planted(
                            overloaded == ["Sofia Rossi"],
                            format!("the planted overloaded engineer stands out: {overloaded:?}"),
                        ),
                        has(format!("**{}**", overloaded.first().unwrap_or(&"?"))),
                        has(format!("median of {:.1}", w.median)),
                        has(format!("load of {:.1} or more", w.threshold)),
                    ]
                })
            },
        },
    },
    Case {
        question: "Show the workload of the Payments team",
        route: RESOURCES,
        tool: "workload",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let w = workload(&db).await;
                    let sofia = w.people.iter().find(|p| p.name == "Sofia Rossi").unwrap();
                    vec![
                        has(format!(
                            "| Sofia Rossi ⚠️ | Payments | {} | {} | {} | {} |",
                            sofia.tickets,
                            sofia.points,
                            sofia.reviews,
                            sofia.load()
                        )),
                        has("the Payments team"),
                    ]
                })
            },
        },
    },
    Case {
        question: "Which engineers have the most open story points?",
        route: RESOURCES,
        tool: "workload",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let w = workload(&db).await;
                    let most = w
                        .people
                        .iter()
                        .max_by_key(|p| (p.load(), Reverse(p.name.clone())))
                        .unwrap();
                    vec![has(format!(
                        "|---|---|---|---|---|---|\n| {} ⚠️ |",
                        most.name
                    ))]
                })
            },
        },
    },
    // Next week is 7–13 July 2025 (the data end on Monday 30 June).
    Case {
        question: "Who is available next week?",
        route: RESOURCES,
        tool: "who_is_available",
        expect: Answer {
            args: r#"{"period": "next week"}"#,
            facts: |db| {
                Box::pin(async move {
                    let away = strings(&db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id WHERE o.starts_on <= '2025-07-13' AND o.ends_on >= '2025-07-07'").await;
                    let total = int(&db, "SELECT COUNT(*) FROM employees").await;
                    let mut v = vec![has(format!(
                        "{} of {total} people are available next week",
                        total - away.len() as i64
                    ))];
                    v.extend(away.iter().map(|p| has(format!("- **{p}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "Is anyone on the Platform team out next week?",
        route: RESOURCES,
        tool: "upcoming_time_off",
        expect: Answer {
            args: r#"{"team": "Platform", "period": "next week"}"#,
            facts: |db| {
                Box::pin(async move {
                    let away = strings(&db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id JOIN teams t ON t.id = e.team_id WHERE t.name = 'Platform' AND o.starts_on <= '2025-07-13' AND o.ends_on >= '2025-07-07'").await;
                    let mut v = vec![planted(
                        away.iter().any(|p| p == "Emily Zhang"),
                        "Emily Zhang's vacation",
                    )];
                    v.extend(away.iter().map(|p| has(format!("- **{p}** (Platform)"))));
                    v
                })
            },
        },
    },
    Case {
        question: "Who is available on the Mobile team this week?",
        route: RESOURCES,
        tool: "who_is_available",
        expect: Answer {
            args: r#"{"team": "Mobile", "period": "this week"}"#,
            facts: |db| {
                Box::pin(async move {
                    let away = strings(&db, "SELECT DISTINCT e.name FROM time_off o JOIN employees e ON e.id = o.employee_id JOIN teams t ON t.id = e.team_id WHERE t.name = 'Mobile' AND o.starts_on <= '2025-07-06' AND o.ends_on >= '2025-06-30'").await;
                    let mobile = int(
                        &db,
                        "SELECT COUNT(*) FROM employees e JOIN teams t ON t.id = e.team_id WHERE t.name = 'Mobile'",
                    )
                    .await;
                    let mut v = vec![has(format!(
                        "{} of {mobile} people on the Mobile team are available this week",
                        mobile - away.len() as i64
                    ))];
                    v.extend(away.iter().map(|p| has(format!("- **{p}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "Who has time off coming up?",
        route: RESOURCES,
        tool: "upcoming_time_off",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let upcoming: Vec<(String, String)> = rows(&db, "SELECT e.name, o.starts_on FROM time_off o JOIN employees e ON e.id = o.employee_id WHERE o.starts_on <= '2025-07-29' AND o.ends_on >= '2025-06-30'").await;
                    let mut v = vec![has(format!("{} absence", upcoming.len()))];
                    for (p, from) in &upcoming {
                        v.extend([has(format!("**{p}**")), has(format!("from {from}"))]);
                    }
                    v
                })
            },
        },
    },
    Case {
        question: "Who is on call for Payments?",
        route: RESOURCES,
        tool: "on_call",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let oncall = strings(&db, &format!("SELECT e.name || ' (' || s.role || ')' FROM oncall_shifts s JOIN employees e ON e.id = s.employee_id JOIN teams t ON t.id = s.team_id WHERE t.name = 'Payments' AND s.starts_at <= '{NOW}' AND s.ends_at > '{NOW}'")).await;
                    let mut v = vec![planted(
                        !oncall.is_empty(),
                        "someone is on call for Payments",
                    )];
                    v.extend(
                        oncall
                            .iter()
                            .map(|p| has(format!("**{}", p.replacen(" (", "** (", 1)))),
                    );
                    v
                })
            },
        },
    },
    Case {
        question: "Who is on call this week?",
        route: RESOURCES,
        tool: "on_call",
        expect: Answer {
            args: r#"{"period": "this week"}"#,
            facts: |db| {
                Box::pin(async move {
                    let shifts = int(&db, "SELECT COUNT(*) FROM oncall_shifts WHERE starts_at <= '2025-07-07T00:00:00Z' AND ends_at > '2025-06-30T00:00:00Z'").await;
                    vec![check(move |a| {
                        let listed = a.lines().filter(|l| l.ends_with("UTC")).count();
                        if listed == shifts as usize {
                            Ok(())
                        } else {
                            Err(format!("{listed} shifts listed, expected {shifts}"))
                        }
                    })]
                })
            },
        },
    },
    Case {
        question: "How is the current sprint going for the Mobile team?",
        route: RESOURCES,
        tool: "sprint_progress",
        expect: Answer {
            args: r#"{"team": "Mobile"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (sprint, done, committed): (String, i64, i64) = row(
                        &db,
                        "SELECT s.name, SUM(CASE WHEN k.status = 'done' THEN k.points ELSE 0 END), SUM(k.points) FROM sprints s JOIN teams t ON t.id = s.team_id \
                         JOIN tickets k ON k.sprint_id = s.id WHERE t.name = 'Mobile' AND s.starts_on <= '2025-06-30' AND s.ends_on >= '2025-06-30' GROUP BY s.id",
                    )
                    .await;
                    vec![
                        has(format!("**{sprint}**")),
                        has(format!("{done} of {committed} points done")),
                    ]
                })
            },
        },
    },
    Case {
        question: "Sprint progress for all teams",
        route: RESOURCES,
        tool: "sprint_progress",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let in_progress = int(&db, "SELECT COUNT(DISTINCT team_id) FROM sprints WHERE starts_on <= '2025-06-30' AND ends_on >= '2025-06-30'").await;
                    vec![count(
                        " points done",
                        in_progress as usize,
                        "one line per sprint in progress",
                    )]
                })
            },
        },
    },
    Case {
        question: "What is the velocity of the Data team?",
        route: RESOURCES,
        tool: "team_velocity",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move {
                    let velocity = floats(
                        &db,
                        "SELECT CAST(SUM(CASE WHEN k.status = 'done' THEN k.points ELSE 0 END) AS REAL) FROM sprints s JOIN teams t ON t.id = s.team_id JOIN tickets k ON k.sprint_id = s.id \
                         WHERE t.name = 'Data' AND s.ends_on < '2025-06-30' GROUP BY s.id ORDER BY s.number DESC LIMIT 6",
                    )
                    .await;
                    let avg = velocity.iter().sum::<f64>() / velocity.len() as f64;
                    vec![
                        number_after("**Data**: ", avg, 0.051),
                        has(format!("last {} sprints", velocity.len())),
                    ]
                })
            },
        },
    },
    Case {
        question: "Which projects are at risk?",
        route: RESOURCES,
        tool: "project_status",
        expect: Answer {
            args: r#"{"status": "at risk"}"#,
            facts: |db| {
                Box::pin(async move {
                    let at_risk =
                        strings(&db, "SELECT name FROM projects WHERE status = 'at_risk'").await;
                    let mut v: Vec<Fact> =
                        at_risk.iter().map(|p| has(format!("**{p}**"))).collect();
                    v.push(count("**at risk**", at_risk.len(), "only at-risk projects"));
                    v
                })
            },
        },
    },
    Case {
        question: "What's the status of the Ledger v2 migration project?",
        route: RESOURCES,
        tool: "project_status",
        expect: Answer {
            args: r#"{"project": "Ledger v2 migration"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (status, due): (String, String) = row(
                        &db,
                        "SELECT status, due_date FROM projects WHERE name = 'Ledger v2 migration'",
                    )
                    .await;
                    vec![has(format!("**{}**: due {due}", status.replace('_', " ")))]
                })
            },
        },
    },
    // ── Delivery: DORA, deployments, incidents, reviews, CI (DORA_Pro) ──────────────
    Case {
        question: "What are our DORA metrics?",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: "{}",
            facts: |db| Box::pin(async move { dora_facts(&dora(&db, 90, "1 = 1").await) }),
        },
    },
    Case {
        question: "Show DORA metrics for the Payments team over the last 30 days",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: r#"{"team": "Payments", "days": 30}"#,
            facts: |db| {
                Box::pin(async move {
                    let mut v = dora_facts(&dora(&db, 30, "d.team = 'Payments'").await);
                    v.push(has("for the Payments team**, last 30 days"));
                    v
                })
            },
        },
    },
    Case {
        question: "What's the change failure rate for Platform?",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: r#"{"team": "Platform"}"#,
            facts: |db| {
                Box::pin(async move { dora_facts(&dora(&db, 90, "d.team = 'Platform'").await) })
            },
        },
    },
    Case {
        question: "How often does the Mobile team deploy to production?",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: r#"{"team": "Mobile"}"#,
            facts: |db| {
                Box::pin(async move { dora_facts(&dora(&db, 90, "d.team = 'Mobile'").await) })
            },
        },
    },
    Case {
        question: "What is the lead time for changes of the Data team?",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move { dora_facts(&dora(&db, 90, "d.team = 'Data'").await) })
            },
        },
    },
    Case {
        question: "DORA metrics for payments-api",
        route: DORA,
        tool: "dora_metrics",
        expect: Answer {
            args: r#"{"service": "payments-api"}"#,
            facts: |db| {
                Box::pin(async move {
                    let d: Dora = dora(&db, 90, "d.service = 'payments-api'").await;
                    let mut v = dora_facts(&d);
                    v.push(has("for service payments-api**"));
                    v
                })
            },
        },
    },
    Case {
        question: "Which team's lead time is getting worse?",
        route: DORA,
        tool: "lead_time_trend",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let (mut v, worst, _) = worst_lead_time(&db).await;
                    v.extend([
                        has(format!("getting worse for **{worst}")),
                        has(format!("weeks before:\n- **{worst}**: ")),
                    ]);
                    v
                })
            },
        },
    },
    Case {
        question: "Show me the lead time trend for Payments",
        route: DORA,
        tool: "lead_time_trend",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (mut v, _, recent) = worst_lead_time(&db).await;
                    v.extend([
                        number_after("- **Payments**: ", recent, 0.051),
                        has("Week by week: "),
                    ]);
                    v
                })
            },
        },
    },
    Case {
        question: "Which week had the most failed deployments?",
        route: DORA,
        tool: "deployment_trend",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    // Failed production deployments per calendar week, from the raw rows.
                    let deployments: Vec<(String, String)> = rows(
                        &db,
                        "SELECT finished_at, status FROM deployments WHERE environment = 'production'",
                    )
                    .await;
                    let mut weeks: HashMap<NaiveDate, (i64, i64)> = HashMap::new();
                    for (at, status) in &deployments {
                        let day = NaiveDate::parse_from_str(&at[..10], "%Y-%m-%d").unwrap();
                        let w = weeks
                            .entry(
                                day - Duration::days(day.weekday().num_days_from_monday() as i64),
                            )
                            .or_default();
                        w.0 += i64::from(status == "failure");
                        w.1 += 1;
                    }
                    let (week, (failed, total)) = weeks
                        .iter()
                        .max_by_key(|(w, (f, _))| (*f, Reverse(**w)))
                        .map(|(w, c)| (*w, *c))
                        .unwrap();
                    vec![
                        planted(
                            week.to_string() == "2025-05-12",
                            format!("the planted failing week is 2025-05-12, not {week}"),
                        ),
                        has(format!("the week of {week}**: {failed} of {total} failed")),
                    ]
                })
            },
        },
    },
    Case {
        question: "Show recent deployments of ledger-service",
        route: DORA,
        tool: "deployment_history",
        expect: Answer {
            args: r#"{"service": "ledger-service"}"#,
            facts: |db| {
                Box::pin(async move {
                    let ledger = int(&db, &format!("SELECT COUNT(*) FROM deployments WHERE service = 'ledger-service' AND environment = 'production' AND finished_at >= '{}' AND finished_at < '{NOW}'", since(14))).await;
                    vec![if ledger > 0 {
                        has(format!(
                            "{} in the last 14 days",
                            counted(ledger, "production deployment")
                        ))
                    } else {
                        has("No production deployments of ledger-service")
                    }]
                })
            },
        },
    },
    Case {
        question: "List failed deployments in the last 60 days",
        route: DORA,
        tool: "deployment_history",
        expect: Answer {
            args: r#"{"status": "failure", "days": 60}"#,
            facts: |db| {
                Box::pin(async move {
                    let failed = int(&db, &format!("SELECT COUNT(*) FROM deployments WHERE status = 'failure' AND environment = 'production' AND finished_at >= '{}' AND finished_at < '{NOW}'", since(60))).await;
                    vec![
                        has(format!(
                            "{} in the last 60 days",
                            counted(failed, "failed production deployment")
                        )),
                        lacks("— success"),
                    ]
                })
            },
        },
    },
    Case {
        question: "How many incidents did each team have in the last 90 days?",
        route: DORA,
        tool: "incident_stats",
        expect: Answer {
            args: r#"{"days": 90}"#,
            facts: |db| {
                Box::pin(async move {
                    let per_team: Vec<(String, i64)> = rows(&db, &format!("SELECT team, COUNT(*) FROM incidents WHERE opened_at >= '{}' AND opened_at < '{NOW}' GROUP BY team", since(90))).await;
                    let all: i64 = per_team.iter().map(|t| t.1).sum();
                    let mut v = vec![has(format!("{all} incidents in the last 90 days"))];
                    v.extend(
                        per_team
                            .iter()
                            .map(|(t, n)| has(format!("**{t}**: {n} incidents"))),
                    );
                    v
                })
            },
        },
    },
    Case {
        question: "Incident stats for the Payments team",
        route: DORA,
        tool: "incident_stats",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (n, sev1): (i64, i64) = row(
                        &db,
                        &format!(
                            "SELECT COUNT(*), SUM(severity = 'SEV1') FROM incidents WHERE team = 'Payments' AND opened_at >= '{}' AND opened_at < '{NOW}'",
                            since(90)
                        ),
                    )
                    .await;
                    vec![has(format!("**Payments**: {n} incidents ({sev1} SEV1"))]
                })
            },
        },
    },
    Case {
        question: "Are there any unresolved incidents?",
        route: DORA,
        tool: "open_incidents",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let open =
                        strings(&db, "SELECT title FROM incidents WHERE resolved_at IS NULL").await;
                    let mut v = vec![
                        planted(!open.is_empty(), "some incident is unresolved"),
                        has(format!("{} incident", open.len())),
                    ];
                    v.extend(open.iter().map(|t| has(format!("**{t}**"))));
                    v
                })
            },
        },
    },
    Case {
        question: "Who reviews the most pull requests?",
        route: DORA,
        tool: "review_stats",
        expect: Answer {
            args: "{}",
            facts: |db| {
                Box::pin(async move {
                    let top = string(
                        &db,
                        &format!("SELECT reviewer FROM pr_reviews WHERE reviewed_at IS NOT NULL AND requested_at >= '{}' AND requested_at < '{NOW}' GROUP BY reviewer ORDER BY COUNT(*) DESC, reviewer LIMIT 1", since(30)),
                    )
                    .await;
                    vec![has(format!("**{top}** has the most reviews"))]
                })
            },
        },
    },
    Case {
        question: "which kafka experts are on call this week?",
        route: RESOURCES,
        tool: "experts",
        // The experts first, then this week's rota kept to them.
        expect: Answer {
            args: r#"{"topic": "Kafka"}"#,
            facts: |db| {
                Box::pin(async move {
                    let on_call = strings(&db, "SELECT DISTINCT e.name FROM oncall_shifts s JOIN employees e ON e.id = s.employee_id WHERE s.starts_at < '2025-07-07T00:00:00Z' AND s.ends_at > '2025-06-30T00:00:00Z'").await;
                    let kafka = strings(&db, "SELECT DISTINCT e.name FROM employees e WHERE e.id IN (SELECT es.employee_id FROM employee_skills es JOIN skills k ON k.id = es.skill_id WHERE k.name = 'Kafka') OR e.name IN (SELECT c.author FROM commits c JOIN services s ON s.name = c.service WHERE s.stack LIKE '%Kafka%')").await;
                    let others: Vec<String> = on_call
                        .iter()
                        .filter(|n| !kafka.contains(n))
                        .cloned()
                        .collect();
                    vec![
                        planted(
                            !others.is_empty(),
                            "someone on call this week has nothing to do with Kafka",
                        ),
                        check(move |a| {
                            let note = a
                                .lines()
                                .find_map(|l| l.strip_prefix("_Kafka experts: "))
                                .ok_or("no line naming the Kafka experts")?;
                            let experts: Vec<&str> = note
                                .trim_end_matches("._")
                                .trim_end_matches(" (experts)")
                                .split(", ")
                                .collect();
                            if let Some(x) = experts.iter().find(|x| !kafka.iter().any(|k| k == *x))
                            {
                                return Err(format!("{x} is no Kafka expert"));
                            }
                            for name in &on_call {
                                let shown = a.contains(&format!("**{name}**"));
                                let expected = experts.contains(&name.as_str());
                                if shown != expected {
                                    return Err(format!(
                                        "{name}: shown {shown}, expected {expected}"
                                    ));
                                }
                            }
                            Ok(())
                        }),
                    ]
                })
            },
        },
    },
    Case {
        question: "how many deploys did we do in april vs may?",
        route: DORA,
        tool: "deployment_trend",
        expect: Answer {
            args: r#"{"since": "2025-04-01", "until": "2025-04-30"}"#,
            facts: |db| {
                Box::pin(async move {
                    let shipped = |a: &str, b: &str| {
                        format!(
                            "SELECT COUNT(*) FROM deployments WHERE environment = 'production' AND finished_at >= '{a}' AND finished_at < '{b}'"
                        )
                    };
                    let april = int(&db, &shipped("2025-04-01", "2025-05-01")).await;
                    let may = int(&db, &shipped("2025-05-01", "2025-06-01")).await;
                    let (won, lost) = if april >= may {
                        (("April 2025", april), ("May 2025", may))
                    } else {
                        (("May 2025", may), ("April 2025", april))
                    };
                    vec![
                        planted(april != may, "April and May differ"),
                        has(format!(
                            "**{}** has more deployments: {} production deployments, against {} {} production deployments.",
                            won.0, won.1, lost.0, lost.1
                        )),
                        has("#### April 2025"),
                        has("#### May 2025"),
                    ]
                })
            },
        },
    },
    Case {
        question: "who merged the most pull requests in may?",
        route: DORA,
        tool: "contributors",
        expect: Answer {
            args: r#"{"since": "2025-05-01", "until": "2025-05-31"}"#,
            facts: |db| {
                Box::pin(async move {
                    let per_author: Vec<(String, i64)> = rows(
                        &db,
                        "SELECT author, COUNT(*) FROM pull_requests WHERE merged_at >= '2025-05-01' AND merged_at < '2025-06-01' GROUP BY author",
                    )
                    .await;
                    let most = per_author.iter().map(|r| r.1).max().unwrap_or(0);
                    let mut v = vec![
                        planted(most > 0, "pull requests were merged in May"),
                        has(format!("pull requests: {most} pull requests merged.")),
                    ];
                    v.extend(
                        per_author
                            .into_iter()
                            .filter(|r| r.1 == most)
                            .map(|r| has(format!("**{}**", r.0))),
                    );
                    v
                })
            },
        },
    },
    Case {
        question: "How long do code reviews take on the Payments team?",
        route: DORA,
        tool: "review_stats",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (reviewer, wait): (String, f64) = row(
                        &db,
                        &format!(
                            "SELECT reviewer, AVG((julianday(reviewed_at) - julianday(requested_at)) * 24) FROM pr_reviews WHERE reviewer_team = 'Payments' AND requested_at >= '{}' AND requested_at < '{NOW}' \
                             GROUP BY reviewer ORDER BY COUNT(reviewed_at) DESC, reviewer LIMIT 1",
                            since(30)
                        ),
                    )
                    .await;
                    vec![
                        number_after(format!("| {reviewer} | Payments | "), 0.0, f64::MAX),
                        check(move |a| {
                            let row = a
                                .lines()
                                .find(|l| l.starts_with(&format!("| {reviewer} |")))
                                .unwrap_or_default();
                            let got: f64 = row
                                .split('|')
                                .nth(5)
                                .and_then(|c| c.trim().trim_end_matches(" h").parse().ok())
                                .unwrap_or(-1.0);
                            if (got - wait).abs() <= 0.051 {
                                Ok(())
                            } else {
                                Err(format!("{reviewer}'s wait {got}, expected {wait:.2}"))
                            }
                        }),
                    ]
                })
            },
        },
    },
    Case {
        question: "What has Alex Kumar been working on lately?",
        route: DORA,
        tool: "developer_activity",
        expect: Answer {
            args: r#"{"person": "Alex Kumar"}"#,
            facts: |db| Box::pin(async move { activity(&db, "Alex Kumar", 30).await }),
        },
    },
    Case {
        question: "Show commit activity for Ravi Patel over the last 14 days",
        route: DORA,
        tool: "developer_activity",
        expect: Answer {
            args: r#"{"person": "Ravi Patel", "days": 14}"#,
            facts: |db| Box::pin(async move { activity(&db, "Ravi Patel", 14).await }),
        },
    },
    Case {
        question: "How healthy is CI for the Data team?",
        route: DORA,
        tool: "ci_health",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move {
                    let (flaky, failures, runs): (String, i64, i64) = row(
                        &db,
                        &format!(
                            "SELECT service, SUM(status = 'failure'), COUNT(*) FROM ci_runs WHERE team = 'Data' AND started_at >= '{}' AND started_at < '{NOW}' \
                             GROUP BY service ORDER BY 1.0 * SUM(status = 'failure') / COUNT(*) DESC, service LIMIT 1",
                            since(30)
                        ),
                    )
                    .await;
                    vec![has(format!(
                        "flakiest first:\n- **{flaky}** (Data): {failures} of {runs} runs failed"
                    ))]
                })
            },
        },
    },
    // ── Bad input: a misspelt name is read as the name it misspells (within a small edit
    // distance); anything else fails, says why, and the run goes on ──────────────────
    Case {
        question: "Who is Alx Kumar?",
        route: INSIGHTS,
        tool: "employee_profile",
        expect: Answer {
            args: r#"{"person": "Alex Kumar"}"#,
            facts: |_| Box::pin(async { vec![has("Alex Kumar")] }),
        },
    },
    Case {
        question: "Who is on the Paymnts team?",
        route: INSIGHTS,
        tool: "team_members",
        expect: Answer {
            args: r#"{"team": "Payments"}"#,
            facts: |_| Box::pin(async { vec![has("Payments")] }),
        },
    },
    Case {
        question: "Who reports to Danial Okafor?",
        route: INSIGHTS,
        tool: "direct_reports",
        expect: Answer {
            args: r#"{"person": "Daniel Okafor"}"#,
            facts: |_| Box::pin(async { vec![has("Daniel Okafor")] }),
        },
    },
    Case {
        question: "Who knows COBOL?",
        route: INSIGHTS,
        tool: "find_developer_by_skills",
        expect: ToolFails("no skill named COBOL; known skills are Python, Go"),
    },
    // Arguments that fail the tool's JSON Schema (days ≤ 365).
    Case {
        question: "Show DORA metrics for the last 1000 days",
        route: DORA,
        tool: "dora_metrics",
        expect: ToolFails(
            "invalid arguments for dora_metrics: days: 1000 is greater than the maximum of 365",
        ),
    },
    Case {
        question: "Who is on call next fortnight?",
        route: RESOURCES,
        tool: "on_call",
        // "next fortnight" is the next 14 days.
        expect: Answer {
            args: r#"{"since": "2025-06-30", "until": "2025-07-13"}"#,
            facts: |_| Box::pin(async { vec![] }),
        },
    },
    // ── An empty result says so plainly ─────────────────────────────────────────────
    Case {
        question: "Which projects are completed for the Payments team?",
        route: RESOURCES,
        tool: "project_status",
        expect: Answer {
            args: r#"{"status": "completed", "team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let completed = int(&db, "SELECT COUNT(*) FROM projects p JOIN teams t ON t.id = p.team_id WHERE t.name = 'Payments' AND p.status = 'completed'").await;
                    vec![
                        planted(completed == 0, "the Payments team has no completed project"),
                        has("No projects match the status \"completed\" for the Payments team."),
                    ]
                })
            },
        },
    },
    Case {
        question: "Are there open incidents for the Data team?",
        route: DORA,
        tool: "open_incidents",
        expect: Answer {
            args: r#"{"team": "Data"}"#,
            facts: |db| {
                Box::pin(async move {
                    let open = int(
                        &db,
                        "SELECT COUNT(*) FROM incidents WHERE resolved_at IS NULL AND team = 'Data'",
                    )
                    .await;
                    vec![
                        planted(open == 0, "the Data team has no open incident"),
                        has("There are no open incidents for the Data team."),
                    ]
                })
            },
        },
    },
    Case {
        question: "Who on the Payments team knows Swift?",
        route: INSIGHTS,
        tool: "find_developer_by_skills",
        expect: Answer {
            args: r#"{"skills": "Swift", "team": "Payments"}"#,
            facts: |db| {
                Box::pin(async move {
                    let swift = int(&db, "SELECT COUNT(*) FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id JOIN teams t ON t.id = e.team_id WHERE s.name = 'Swift' AND t.name = 'Payments'").await;
                    vec![
                        planted(swift == 0, "nobody on the Payments team knows Swift"),
                        has("Nobody on the Payments team lists Swift among their skills."),
                    ]
                })
            },
        },
    },
];

// ── Expectations several cases share ───────────────────────────────────────────────

/// Everyone with `skill`, counted and named.
async fn people_with_skill(db: &Db, skill: &str) -> Vec<Fact> {
    let people = strings(db, &format!("SELECT e.name FROM employee_skills es JOIN skills s ON s.id = es.skill_id JOIN employees e ON e.id = es.employee_id WHERE s.name = '{skill}'")).await;
    let mut v = vec![has(format!("{} people have {skill}", people.len()))];
    v.extend(people.iter().map(|p| has(format!("**{p}**"))));
    v
}

/// Services only one person ever committed to, with that person and their commits.
async fn silos(db: &Db) -> Vec<Fact> {
    let silos: Vec<(String, String, i64)> = rows(
        db,
        "SELECT service, MIN(author), COUNT(*) FROM commits GROUP BY service HAVING COUNT(DISTINCT author_id) = 1",
    )
    .await;
    let mut v = vec![planted(
        !silos.is_empty(),
        "the planted silo is in the data",
    )];
    for (service, who, n) in &silos {
        v.extend([
            has(format!("**{service}**")),
            has(format!("only **{who}** has ever committed ({n} commits)")),
        ]);
    }
    v
}

/// Open tickets, story points and pending reviews of one person.
struct Load {
    name: String,
    is_manager: bool,
    tickets: i64,
    points: i64,
    reviews: i64,
}

impl Load {
    /// Open story points + 2 per pending review.
    fn load(&self) -> i64 {
        self.points + 2 * self.reviews
    }
}

struct Workload {
    people: Vec<Load>,
    /// The engineers' median load.
    median: f64,
    /// Overloaded from here: at least three times the median and at least 20.
    threshold: f64,
}

async fn workload(db: &Db) -> Workload {
    let loads: Vec<(String, String, i64, i64, i64, i64)> = rows(
        db,
        "SELECT e.name, t.name, e.is_manager, \
           (SELECT COUNT(*) FROM tickets k WHERE k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review')), \
           (SELECT COALESCE(SUM(points), 0) FROM tickets k WHERE k.assignee_id = e.id AND k.status IN ('todo', 'in_progress', 'in_review')), \
           (SELECT COUNT(*) FROM pr_reviews r WHERE r.reviewer_id = e.id AND r.reviewed_at IS NULL) \
         FROM employees e JOIN teams t ON t.id = e.team_id",
    )
    .await;
    let people: Vec<Load> = loads
        .into_iter()
        .map(|(name, _team, is_manager, tickets, points, reviews)| Load {
            name,
            is_manager: is_manager != 0,
            tickets,
            points,
            reviews,
        })
        .collect();
    let median = lower_median(
        people
            .iter()
            .filter(|p| !p.is_manager)
            .map(|p| p.load() as f64)
            .collect(),
    )
    .unwrap();
    Workload {
        people,
        median,
        threshold: (3.0 * median).max(20.0),
    }
}

/// Lead time of the last 3 weeks against the 9 weeks before, per team (by deployment
/// finish): the planted degrading team (as facts), the team degrading most and its recent
/// lead time.
async fn worst_lead_time(db: &Db) -> (Vec<Fact>, String, f64) {
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
    let (ratio, worst, recent) = ratios[0].clone();
    let facts = vec![
        planted(
            worst == "Payments",
            format!("the planted degrading team degrades most, not {worst}"),
        ),
        planted(
            ratio >= 1.5,
            format!("Payments' lead time degrades by half or more, not ×{ratio:.2}"),
        ),
    ];
    (facts, worst, recent)
}

/// A person's commits and merged pull requests over the last `days`.
async fn activity(db: &Db, person: &str, days: i64) -> Vec<Fact> {
    let commits = int(db, &format!("SELECT COUNT(*) FROM commits WHERE author = '{person}' AND authored_at >= '{}' AND authored_at < '{NOW}'", since(days))).await;
    let merged = int(db, &format!("SELECT COUNT(*) FROM pull_requests WHERE author = '{person}' AND merged_at >= '{}' AND merged_at < '{NOW}'", since(days))).await;
    vec![
        has(format!("**{person}** made {commits} commits")),
        has(format!("in the last {days} days")),
        has(format!("merged {merged} and")),
    ]
}
