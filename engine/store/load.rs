//! An `Org` as rows of the schema's tables, produced lazily (a scaled organisation has
//! millions of rows), with the metrics tables' names denormalised.

use chrono::{DateTime, NaiveDate, Utc};

use crate::org::Org;

/// One value to bind. Nulls carry their column type: PostgreSQL wants typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

pub struct Table<'a> {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub len: usize,
    pub row: Box<dyn Fn(usize) -> Vec<Cell> + Send + Sync + 'a>,
}

fn ts(t: DateTime<Utc>) -> Cell {
    Cell::Text(Some(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}
fn ts_opt(t: Option<DateTime<Utc>>) -> Cell {
    t.map_or(Cell::Text(None), ts)
}
fn day(d: NaiveDate) -> Cell {
    Cell::Text(Some(d.format("%Y-%m-%d").to_string()))
}
fn int(i: i64) -> Cell {
    Cell::Int(Some(i))
}
fn text(s: &str) -> Cell {
    Cell::Text(Some(s.to_string()))
}
fn hours_between(a: DateTime<Utc>, b: Option<DateTime<Utc>>) -> Cell {
    Cell::Real(b.map(|b| (b - a).num_seconds() as f64 / 3600.0))
}

/// The ISO-8601 text form every timestamp column uses.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every table, in an order that loads parents before children.
pub fn tables(o: &Org) -> Vec<Table<'_>> {
    let emp = move |id: i64| o.employee(id);
    let team_of = move |id: i64| o.team(emp(id).team_id).name.as_str();
    let svc = move |id: i64| o.service(id);
    vec![
        Table {
            name: "teams",
            columns: &["id", "name", "description", "manager_id"],
            len: o.teams.len(),
            row: Box::new(move |i| {
                let t = &o.teams[i];
                vec![
                    int(t.id),
                    text(&t.name),
                    text(&t.description),
                    int(t.manager_id),
                ]
            }),
        },
        Table {
            name: "employees",
            columns: &[
                "id",
                "name",
                "email",
                "title",
                "level",
                "team_id",
                "manager_id",
                "location",
                "hire_date",
                "is_manager",
            ],
            len: o.employees.len(),
            row: Box::new(move |i| {
                let e = &o.employees[i];
                vec![
                    int(e.id),
                    text(&e.name),
                    text(&e.email),
                    text(&e.title),
                    text(&e.level),
                    int(e.team_id),
                    Cell::Int(e.manager_id),
                    text(&e.location),
                    day(e.hire_date),
                    int(i64::from(e.is_manager)),
                ]
            }),
        },
        Table {
            name: "skills",
            columns: &["id", "name", "category"],
            len: o.skills.len(),
            row: Box::new(move |i| {
                let s = &o.skills[i];
                vec![int(s.id), text(&s.name), text(&s.category)]
            }),
        },
        Table {
            name: "employee_skills",
            columns: &["employee_id", "skill_id", "proficiency"],
            len: o.employee_skills.len(),
            row: Box::new(move |i| {
                let s = &o.employee_skills[i];
                vec![int(s.employee_id), int(s.skill_id), int(s.proficiency)]
            }),
        },
        Table {
            name: "services",
            columns: &[
                "id",
                "name",
                "team_id",
                "owner_id",
                "language",
                "tier",
                "description",
                "stack",
            ],
            len: o.services.len(),
            row: Box::new(move |i| {
                let s = &o.services[i];
                vec![
                    int(s.id),
                    text(&s.name),
                    int(s.team_id),
                    int(s.owner_id),
                    text(&s.language),
                    text(&s.tier),
                    text(&s.description),
                    text(&s.stack.join(",")),
                ]
            }),
        },
        Table {
            name: "service_dependencies",
            columns: &["service_id", "depends_on_id"],
            len: o.service_dependencies.len(),
            row: Box::new(move |i| {
                let d = &o.service_dependencies[i];
                vec![int(d.service_id), int(d.depends_on_id)]
            }),
        },
        Table {
            name: "projects",
            columns: &[
                "id",
                "name",
                "team_id",
                "lead_id",
                "status",
                "start_date",
                "due_date",
                "description",
            ],
            len: o.projects.len(),
            row: Box::new(move |i| {
                let p = &o.projects[i];
                vec![
                    int(p.id),
                    text(&p.name),
                    int(p.team_id),
                    int(p.lead_id),
                    text(&p.status),
                    day(p.start_date),
                    day(p.due_date),
                    text(&p.description),
                ]
            }),
        },
        Table {
            name: "sprints",
            columns: &["id", "team_id", "name", "number", "starts_on", "ends_on"],
            len: o.sprints.len(),
            row: Box::new(move |i| {
                let s = &o.sprints[i];
                vec![
                    int(s.id),
                    int(s.team_id),
                    text(&s.name),
                    int(s.number),
                    day(s.starts_on),
                    day(s.ends_on),
                ]
            }),
        },
        Table {
            name: "tickets",
            columns: &[
                "id",
                "key",
                "title",
                "team_id",
                "sprint_id",
                "project_id",
                "assignee_id",
                "points",
                "status",
                "created_at",
                "completed_at",
            ],
            len: o.tickets.len(),
            row: Box::new(move |i| {
                let t = &o.tickets[i];
                vec![
                    int(t.id),
                    text(&t.key),
                    text(&t.title),
                    int(t.team_id),
                    Cell::Int(t.sprint_id),
                    Cell::Int(t.project_id),
                    Cell::Int(t.assignee_id),
                    int(t.points),
                    text(&t.status),
                    ts(t.created_at),
                    ts_opt(t.completed_at),
                ]
            }),
        },
        Table {
            name: "oncall_shifts",
            columns: &[
                "id",
                "team_id",
                "employee_id",
                "starts_at",
                "ends_at",
                "role",
            ],
            len: o.oncall_shifts.len(),
            row: Box::new(move |i| {
                let s = &o.oncall_shifts[i];
                vec![
                    int(s.id),
                    int(s.team_id),
                    int(s.employee_id),
                    ts(s.starts_at),
                    ts(s.ends_at),
                    text(&s.role),
                ]
            }),
        },
        Table {
            name: "time_off",
            columns: &["id", "employee_id", "starts_on", "ends_on", "kind"],
            len: o.time_off.len(),
            row: Box::new(move |i| {
                let t = &o.time_off[i];
                vec![
                    int(t.id),
                    int(t.employee_id),
                    day(t.starts_on),
                    day(t.ends_on),
                    text(&t.kind),
                ]
            }),
        },
        Table {
            name: "one_on_ones",
            columns: &["id", "manager_id", "employee_id", "held_on", "notes"],
            len: o.one_on_ones.len(),
            row: Box::new(move |i| {
                let n = &o.one_on_ones[i];
                vec![
                    int(n.id),
                    int(n.manager_id),
                    int(n.employee_id),
                    day(n.held_on),
                    text(&n.notes),
                ]
            }),
        },
        Table {
            name: "documents",
            columns: &[
                "id",
                "kind",
                "title",
                "body",
                "team_id",
                "service_id",
                "author_id",
                "incident_id",
                "created_at",
            ],
            len: o.documents.len(),
            row: Box::new(move |i| {
                let d = &o.documents[i];
                vec![
                    int(d.id),
                    text(&d.kind),
                    text(&d.title),
                    text(&d.body),
                    Cell::Int(d.team_id),
                    Cell::Int(d.service_id),
                    int(d.author_id),
                    Cell::Int(d.incident_id),
                    ts(d.created_at),
                ]
            }),
        },
        Table {
            name: "commits",
            columns: &[
                "sha",
                "author_id",
                "author",
                "team",
                "service",
                "service_team",
                "pr_id",
                "authored_at",
                "message",
                "additions",
                "deletions",
                "deployment_id",
            ],
            len: o.commits.len(),
            row: Box::new(move |i| {
                let c = &o.commits[i];
                let s = svc(c.service_id);
                vec![
                    text(&c.sha),
                    int(c.author_id),
                    text(&emp(c.author_id).name),
                    text(team_of(c.author_id)),
                    text(&s.name),
                    text(&o.team(s.team_id).name),
                    int(c.pr_id),
                    ts(c.authored_at),
                    text(&c.message),
                    int(c.additions),
                    int(c.deletions),
                    Cell::Int(c.deployment_id),
                ]
            }),
        },
        Table {
            name: "pull_requests",
            columns: &[
                "id",
                "title",
                "author_id",
                "author",
                "team",
                "service",
                "service_team",
                "state",
                "first_commit_at",
                "opened_at",
                "merged_at",
                "deployment_id",
            ],
            len: o.pull_requests.len(),
            row: Box::new(move |i| {
                let p = &o.pull_requests[i];
                let s = svc(p.service_id);
                vec![
                    int(p.id),
                    text(&p.title),
                    int(p.author_id),
                    text(&emp(p.author_id).name),
                    text(team_of(p.author_id)),
                    text(&s.name),
                    text(&o.team(s.team_id).name),
                    text(&p.state),
                    ts(p.first_commit_at),
                    ts(p.opened_at),
                    ts_opt(p.merged_at),
                    Cell::Int(p.deployment_id),
                ]
            }),
        },
        Table {
            name: "pr_reviews",
            columns: &[
                "id",
                "pr_id",
                "reviewer_id",
                "reviewer",
                "reviewer_team",
                "author_id",
                "author",
                "service",
                "requested_at",
                "reviewed_at",
                "wait_hours",
                "verdict",
            ],
            len: o.reviews.len(),
            row: Box::new(move |i| {
                let r = &o.reviews[i];
                let p = &o.pull_requests[(r.pr_id - 1) as usize];
                vec![
                    int(r.id),
                    int(r.pr_id),
                    int(r.reviewer_id),
                    text(&emp(r.reviewer_id).name),
                    text(team_of(r.reviewer_id)),
                    int(p.author_id),
                    text(&emp(p.author_id).name),
                    text(&svc(p.service_id).name),
                    ts(r.requested_at),
                    ts_opt(r.reviewed_at),
                    hours_between(r.requested_at, r.reviewed_at),
                    text(&r.verdict),
                ]
            }),
        },
        Table {
            name: "ci_runs",
            columns: &[
                "id",
                "pr_id",
                "service",
                "team",
                "started_at",
                "finished_at",
                "duration_s",
                "status",
            ],
            len: o.ci_runs.len(),
            row: Box::new(move |i| {
                let r = &o.ci_runs[i];
                let s = svc(r.service_id);
                vec![
                    int(r.id),
                    int(r.pr_id),
                    text(&s.name),
                    text(&o.team(s.team_id).name),
                    ts(r.started_at),
                    ts(r.finished_at),
                    int((r.finished_at - r.started_at).num_seconds()),
                    text(&r.status),
                ]
            }),
        },
        Table {
            name: "deployments",
            columns: &[
                "id",
                "service",
                "team",
                "environment",
                "status",
                "started_at",
                "finished_at",
            ],
            len: o.deployments.len(),
            row: Box::new(move |i| {
                let d = &o.deployments[i];
                let s = svc(d.service_id);
                vec![
                    int(d.id),
                    text(&s.name),
                    text(&o.team(s.team_id).name),
                    text(&d.environment),
                    text(&d.status),
                    ts(d.started_at),
                    ts(d.finished_at),
                ]
            }),
        },
        Table {
            name: "incidents",
            columns: &[
                "id",
                "title",
                "severity",
                "service",
                "team",
                "deployment_id",
                "opened_at",
                "resolved_at",
                "resolution_hours",
            ],
            len: o.incidents.len(),
            row: Box::new(move |i| {
                let n = &o.incidents[i];
                let s = svc(n.service_id);
                vec![
                    int(n.id),
                    text(&n.title),
                    text(&n.severity),
                    text(&s.name),
                    text(&o.team(s.team_id).name),
                    Cell::Int(n.deployment_id),
                    ts(n.opened_at),
                    ts_opt(n.resolved_at),
                    hours_between(n.opened_at, n.resolved_at),
                ]
            }),
        },
    ]
}

/// The `meta` rows: where the data came from and the instant it describes ("now").
pub fn meta(o: &Org) -> Vec<(&'static str, String)> {
    vec![
        ("as_of", timestamp(crate::org::as_of())),
        ("seed", o.seed.to_string()),
        ("employees", o.employees.len().to_string()),
        ("teams", o.teams.len().to_string()),
        (
            "generator",
            format!("eng-intel {}", env!("CARGO_PKG_VERSION")),
        ),
    ]
}

/// Rows per INSERT statement: SQLite allows 32 766 parameters, PostgreSQL 65 535.
pub fn chunk_rows(columns: usize) -> usize {
    (8000 / columns).max(1)
}
