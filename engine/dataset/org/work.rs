//! Planning and people data: time off, on-call rotations, projects, sprints and tickets,
//! and the notes of past 1:1s. Plants the overloaded engineer's sprint and the notes that
//! go with the other planted patterns.

use std::collections::HashSet;

use chrono::{Datelike, Duration, NaiveDate};

use super::roster::{DEGRADING_TEAM, DEGRADING_WEEKS, DIRECTOR, OVERLOADED, SILO_OWNER, TEAMS};
use super::{
    HISTORY_WEEKS, OncallShift, OneOnOne, Org, Project, Rng, Sprint, Ticket, TimeOff, as_of,
    at_midnight, history_start, hours,
};

/// First day of sprint 1 (a Monday); sprints last two weeks and the last one is in progress at `as_of`.
pub fn first_sprint_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 6).expect("valid date")
}
pub const SPRINTS: i64 = 13;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Past absences for everyone, and a few planned ones around `as_of` (planted for the roster).
pub fn time_off(org: &mut Org, rng: &mut Rng) {
    let start = history_start().date_naive();
    let today = as_of().date_naive();
    let planned = [
        ("Chloe Martin", date(2025, 6, 30), date(2025, 7, 1), "sick"),
        (
            "Lucas Silva",
            date(2025, 7, 2),
            date(2025, 7, 8),
            "conference",
        ),
        (
            "Emily Zhang",
            date(2025, 7, 7),
            date(2025, 7, 11),
            "vacation",
        ),
        (
            "Ravi Patel",
            date(2025, 7, 14),
            date(2025, 7, 25),
            "vacation",
        ),
    ];
    let ids: Vec<i64> = org.employees.iter().map(|e| e.id).collect();
    for id in ids {
        for _ in 0..rng.range(1, 2) {
            let s = start + Duration::days(rng.range(0, HISTORY_WEEKS * 7 - 10));
            let kind = *rng.pick(&[
                "vacation",
                "vacation",
                "vacation",
                "sick",
                "sick",
                "conference",
            ]);
            let len = if kind == "sick" {
                rng.range(0, 1)
            } else {
                rng.range(2, 6)
            };
            push_time_off(org, id, s, s + Duration::days(len), kind);
        }
        let name = org.employee(id).name.clone();
        if let Some((_, s, e, kind)) = planned.iter().find(|p| p.0 == name) {
            push_time_off(org, id, *s, *e, kind);
        } else if id as usize > super::DEFAULT_EMPLOYEES && rng.chance(0.15) {
            let s = today + Duration::days(rng.range(1, 21));
            push_time_off(org, id, s, s + Duration::days(rng.range(2, 9)), "vacation");
        }
    }
}

fn push_time_off(
    org: &mut Org,
    employee_id: i64,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    kind: &str,
) {
    org.time_off.push(TimeOff {
        id: org.time_off.len() as i64 + 1,
        employee_id,
        starts_on,
        ends_on,
        kind: kind.into(),
    });
}

/// Weekly rotations (Monday 09:00 UTC to Monday 09:00 UTC) per team among its engineers,
/// skipping anyone off that week, from the start of the history to three weeks after `as_of`.
pub fn oncall(org: &mut Org) {
    let off: HashSet<(i64, NaiveDate)> = org
        .time_off
        .iter()
        .flat_map(|t| {
            t.starts_on
                .iter_days()
                .take_while(move |d| *d <= t.ends_on)
                .map(move |d| (t.employee_id, d))
        })
        .collect();
    let weeks = HISTORY_WEEKS + 3;
    for team in org.teams.clone() {
        let mut rota: Vec<i64> = org
            .employees
            .iter()
            .filter(|e| e.team_id == team.id && !e.is_manager)
            .map(|e| e.id)
            .collect();
        if rota.is_empty() {
            rota.push(team.manager_id);
        }
        for w in 0..weeks {
            let monday = history_start().date_naive() + Duration::weeks(w);
            let starts = at_midnight(monday) + hours(9.0);
            let free = |id: i64| (0..7).all(|d| !off.contains(&(id, monday + Duration::days(d))));
            let n = rota.len();
            let order: Vec<i64> = (0..n).map(|k| rota[(w as usize + k) % n]).collect();
            let primary = order
                .iter()
                .copied()
                .find(|&id| free(id))
                .unwrap_or(order[0]);
            let mut roles = vec![(primary, "primary")];
            if let Some(second) = order.iter().copied().find(|&id| id != primary && free(id)) {
                roles.push((second, "secondary"));
            }
            for (id, role) in roles {
                org.oncall_shifts.push(OncallShift {
                    id: org.oncall_shifts.len() as i64 + 1,
                    team_id: team.id,
                    employee_id: id,
                    starts_at: starts,
                    ends_at: starts + Duration::weeks(1),
                    role: role.into(),
                });
            }
        }
    }
}

struct ProjectDef {
    name: &'static str,
    team: usize,
    lead: &'static str,
    status: &'static str,
    start: (u32, u32),
    due: (u32, u32),
    description: &'static str,
}

const PROJECTS: [ProjectDef; 8] = [
    ProjectDef {
        name: "Kubernetes 1.30 upgrade",
        team: 0,
        lead: "Diego Fernandez",
        status: "on_track",
        start: (4, 1),
        due: (8, 15),
        description: "Upgrade every cluster to Kubernetes 1.30 without downtime",
    },
    ProjectDef {
        name: "Zero-downtime deploys",
        team: 0,
        lead: "Alex Kumar",
        status: "completed",
        start: (1, 6),
        due: (4, 30),
        description: "Blue-green deployments for every critical service",
    },
    ProjectDef {
        name: "Real-time event pipeline",
        team: 1,
        lead: "Ravi Patel",
        status: "at_risk",
        start: (3, 3),
        due: (7, 31),
        description: "Replace nightly batch loads with streaming ingestion",
    },
    ProjectDef {
        name: "Warehouse cost reduction",
        team: 1,
        lead: "Chloe Martin",
        status: "on_track",
        start: (5, 5),
        due: (9, 30),
        description: "Cut warehouse spend by a third",
    },
    ProjectDef {
        name: "Offline mode",
        team: 2,
        lead: "Lucas Silva",
        status: "on_track",
        start: (2, 17),
        due: (8, 29),
        description: "Let the apps work without a connection and sync later",
    },
    ProjectDef {
        name: "App start-time improvements",
        team: 2,
        lead: "Aisha Bello",
        status: "completed",
        start: (1, 13),
        due: (3, 28),
        description: "Halve cold-start time on both apps",
    },
    ProjectDef {
        name: "Ledger v2 migration",
        team: 3,
        lead: "Kenji Tanaka",
        status: "off_track",
        start: (2, 3),
        due: (6, 27),
        description: "Move every balance to the v2 double-entry schema",
    },
    ProjectDef {
        name: "PCI DSS audit readiness",
        team: 3,
        lead: "Sofia Rossi",
        status: "at_risk",
        start: (4, 7),
        due: (7, 18),
        description: "Controls and evidence for the PCI DSS audit",
    },
];

const TICKET_VERBS: [&str; 8] = [
    "Implement",
    "Investigate",
    "Fix",
    "Write tests for",
    "Design",
    "Automate",
    "Clean up",
    "Monitor",
];
const TICKET_THINGS: [&str; 10] = [
    "alerting thresholds",
    "retry logic",
    "dashboard",
    "schema change",
    "load test",
    "API pagination",
    "access controls",
    "backfill job",
    "client SDK update",
    "runbook gaps",
];

/// Projects, two-week sprints per team and their tickets; the overloaded engineer carries
/// about three times a normal sprint.
pub fn projects_and_tickets(org: &mut Org, rng: &mut Rng) {
    for def in &PROJECTS {
        let lead = org.employee_by_name(def.lead).expect("lead in roster").id;
        push_project(
            org,
            def.name.into(),
            def.team as i64 + 1,
            lead,
            def.status,
            date(2025, def.start.0, def.start.1),
            date(2025, def.due.0, def.due.1),
            def.description.into(),
        );
    }
    for t in TEAMS.len()..org.teams.len() {
        let team = org.teams[t].clone();
        let status = *rng.pick(&["on_track", "on_track", "at_risk", "off_track"]);
        push_project(
            org,
            format!("{} roadmap", team.name),
            team.id,
            team.manager_id,
            status,
            date(2025, 3, 3),
            date(2025, 8, 29),
            format!("The {} team's plan for the half", team.name),
        );
        push_project(
            org,
            format!("{} reliability", team.name),
            team.id,
            team.manager_id,
            "completed",
            date(2025, 1, 6),
            date(2025, 4, 25),
            "Error budgets and alerts for every service".into(),
        );
    }
    let today = as_of().date_naive();
    let overloaded = org.employee_by_name(OVERLOADED).expect("planted").id;
    for team in org.teams.clone() {
        let key = match TEAMS.get((team.id - 1) as usize) {
            Some(def) => def.key.to_string(),
            None => team
                .name
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .take(4)
                .collect::<String>()
                .to_uppercase(),
        };
        let mut seq = 100;
        let members: Vec<(i64, bool)> = org
            .employees
            .iter()
            .filter(|e| e.team_id == team.id)
            .map(|e| (e.id, e.is_manager))
            .collect();
        let services: Vec<String> = org
            .services
            .iter()
            .filter(|s| s.team_id == team.id)
            .map(|s| s.name.clone())
            .collect();
        for n in 1..=SPRINTS {
            let starts_on = first_sprint_day() + Duration::days(14 * (n - 1));
            let ends_on = starts_on + Duration::days(13);
            let sprint_id = org.sprints.len() as i64 + 1;
            org.sprints.push(Sprint {
                id: sprint_id,
                team_id: team.id,
                name: format!("{} Sprint {n}", team.name),
                number: n,
                starts_on,
                ends_on,
            });
            let current = starts_on <= today && today <= ends_on;
            let projects: Vec<i64> = org
                .projects
                .iter()
                .filter(|p| {
                    p.team_id == team.id && p.start_date <= ends_on && p.due_date >= starts_on
                })
                .map(|p| p.id)
                .collect();
            for &(member, manager) in &members {
                let target = if manager {
                    3
                } else if current && member == overloaded {
                    34
                } else {
                    rng.range(8, 13)
                };
                let mut points = 0;
                while points < target {
                    let p = *rng.pick(&[1, 2, 3, 3, 5, 5, 8]);
                    points += p;
                    seq += 1;
                    let (status, completed_at) = if !current {
                        if rng.chance(0.85) {
                            (
                                "done",
                                Some(
                                    at_midnight(starts_on) + hours(24.0 + rng.f64() * 24.0 * 12.0),
                                ),
                            )
                        } else {
                            ("carried_over", None)
                        }
                    } else {
                        let done_p = if member == overloaded { 0.1 } else { 0.4 };
                        if rng.chance(done_p) {
                            let elapsed = (as_of() - at_midnight(starts_on)).num_hours() as f64;
                            (
                                "done",
                                Some(at_midnight(starts_on) + hours(rng.f64() * elapsed)),
                            )
                        } else {
                            (
                                *rng.pick(&[
                                    "todo",
                                    "todo",
                                    "in_progress",
                                    "in_progress",
                                    "in_review",
                                ]),
                                None,
                            )
                        }
                    };
                    let title = match services.first() {
                        Some(_) => format!(
                            "{} {} for {}",
                            rng.pick(&TICKET_VERBS),
                            rng.pick(&TICKET_THINGS),
                            rng.pick(&services)
                        ),
                        None => format!("{} {}", rng.pick(&TICKET_VERBS), rng.pick(&TICKET_THINGS)),
                    };
                    org.tickets.push(Ticket {
                        id: org.tickets.len() as i64 + 1,
                        key: format!("{key}-{seq}"),
                        title,
                        team_id: team.id,
                        sprint_id: Some(sprint_id),
                        project_id: (!projects.is_empty() && rng.chance(0.6))
                            .then(|| *rng.pick(&projects)),
                        assignee_id: Some(member),
                        points: p,
                        status: status.into(),
                        created_at: at_midnight(starts_on) - hours(rng.f64() * 24.0 * 10.0),
                        completed_at,
                    });
                }
            }
        }
        // An unassigned backlog.
        for _ in 0..5 {
            seq += 1;
            org.tickets.push(Ticket {
                id: org.tickets.len() as i64 + 1,
                key: format!("{key}-{seq}"),
                title: format!("{} {}", rng.pick(&TICKET_VERBS), rng.pick(&TICKET_THINGS)),
                team_id: team.id,
                sprint_id: None,
                project_id: None,
                assignee_id: None,
                points: *rng.pick(&[1, 2, 3, 5, 8]),
                status: "todo".into(),
                created_at: as_of() - hours(rng.f64() * 24.0 * 60.0),
                completed_at: None,
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn push_project(
    org: &mut Org,
    name: String,
    team_id: i64,
    lead_id: i64,
    status: &str,
    start_date: NaiveDate,
    due_date: NaiveDate,
    description: String,
) {
    org.projects.push(Project {
        id: org.projects.len() as i64 + 1,
        name,
        team_id,
        lead_id,
        status: status.into(),
        start_date,
        due_date,
        description,
    });
}

const TOPICS: [&str; 10] = [
    "Talked about career growth; agreed on a stretch goal for next quarter.",
    "Reviewed progress on current sprint work; no blockers.",
    "Feedback: great work on {service} reliability; offered to share the learnings at the guild.",
    "Discussed on-call load; the last rotation was quiet.",
    "Wants more time for deep work; will try no-meeting Wednesdays.",
    "Interested in mentoring the newest team member.",
    "Raised concerns about flaky CI in {service}.",
    "Planning some vacation later this quarter.",
    "Asked for more context on how the team's priorities are set.",
    "Happy with the team; would like to present at the next all-hands.",
];

/// Fortnightly 1:1s between every manager and each direct report; planted worries show
/// up in the notes of the last weeks.
pub fn one_on_ones(org: &mut Org, rng: &mut Rng) {
    let start = history_start().date_naive();
    let today = as_of().date_naive();
    let recent = today - Duration::weeks(DEGRADING_WEEKS);
    let overloaded = org.employee_by_name(OVERLOADED).expect("planted").id;
    let silo = org.employee_by_name(SILO_OWNER).expect("planted").id;
    let director = org.employee_by_name(DIRECTOR).expect("roster").id;
    let degrading_manager = org
        .team_by_name(DEGRADING_TEAM)
        .expect("planted")
        .manager_id;
    let pairs: Vec<(i64, i64, i64)> = org
        .employees
        .iter()
        .filter_map(|e| e.manager_id.map(|m| (m, e.id, e.team_id)))
        .collect();
    for (manager, report, team) in pairs {
        let service = org
            .services
            .iter()
            .find(|s| s.team_id == team)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "the build".into());
        // Tuesdays, alternating weeks by report.
        let mut day = start + Duration::days(1 + 7 * (report % 2));
        while day < today {
            debug_assert_eq!(day.weekday(), chrono::Weekday::Tue);
            let mut notes: Vec<String> = rng
                .sample(TOPICS.len(), 2)
                .into_iter()
                .map(|i| TOPICS[i].replace("{service}", &service))
                .collect();
            if day >= recent {
                if report == overloaded {
                    notes.insert(0, "Feeling stretched thin: reviewing most of the team's pull requests on top of the PCI audit work; asked to spread reviews around.".into());
                }
                if report == silo {
                    notes.insert(0, "Still the only one who knows ledger-service internals; agreed to pair with Laura Nguyen on the next migration step.".into());
                }
                if manager == director && report == degrading_manager {
                    notes.insert(0, "Payments lead time keeps getting worse: changes wait on reviews from Sofia Rossi and production deploys are batched.".into());
                }
            }
            org.one_on_ones.push(OneOnOne {
                id: org.one_on_ones.len() as i64 + 1,
                manager_id: manager,
                employee_id: report,
                held_on: day,
                notes: notes.join(" "),
            });
            day += Duration::days(14);
        }
    }
}
