//! The dataset's tables, described once — name, typed columns, sort key — and an `Org` as
//! their rows, produced lazily (a scaled organisation has millions of rows), with the
//! metrics tables' names denormalised. The SQLite and PostgreSQL schemas are the
//! migrations under `migrations/` (a test checks they match these descriptions); a
//! column store's tables (ClickHouse) are created from the descriptions.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::migrate::Migrator;

use super::graph::graph_rows;
use super::org::{Deployment, Org, as_of};
use crate::store::Ty::{Int, NullInt, NullReal, NullText, Text};
use crate::store::{Cell, Snapshot, SqlGuard, Table, TableDef, timestamp};

/// The SQLite schema of the tables (and `meta`).
pub static SQLITE_SCHEMA: Migrator = sqlx::migrate!("engine/dataset/migrations/sqlite");
/// The PostgreSQL schema: the same tables, and full-text search over the documents.
pub static POSTGRES_SCHEMA: Migrator = sqlx::migrate!("engine/dataset/migrations/postgres");

/// People, teams, skills, services, planning and documents, parents before children.
pub static RELATIONAL: &[&TableDef] = &[
    &TEAMS,
    &EMPLOYEES,
    &SKILLS,
    &EMPLOYEE_SKILLS,
    &SERVICES,
    &SERVICE_DEPENDENCIES,
    &PROJECTS,
    &SPRINTS,
    &TICKETS,
    &ONCALL_SHIFTS,
    &TIME_OFF,
    &ONE_ON_ONES,
    &DOCUMENTS,
];

/// Events over time, self-contained (names denormalised) so that a column store can hold
/// them without joins to the relational tables.
pub static METRICS: &[&TableDef] = &[
    &COMMITS,
    &PULL_REQUESTS,
    &PR_REVIEWS,
    &CI_RUNS,
    &DEPLOYMENTS,
    &INCIDENTS,
    &COLLABORATIONS,
    &DELIVERY_DAYS,
];

/// Tables generated SQL may not read at all, and private columns of the others.
const PRIVATE_TABLES: &[&str] = &["meta", "one_on_ones"];
const PRIVATE_COLUMNS: &[(&str, &str)] = &[("employees", "email")];

/// Columns whose few values are words of the organisation ("based in London", "critical
/// tier", "open PRs"): the vocabulary learns them, so a drafted query can filter on them.
pub const VALUE_COLUMNS: &[(&str, &str)] = &[
    ("employees", "location"),
    ("employees", "level"),
    ("services", "tier"),
    ("services", "language"),
    ("projects", "status"),
    ("pull_requests", "state"),
    ("tickets", "status"),
];

/// The guard of generated SQL over these tables: everything but the `meta` bookkeeping,
/// private 1:1 notes and e-mail addresses.
pub fn sql_guard() -> &'static SqlGuard {
    static GUARD: LazyLock<SqlGuard> = LazyLock::new(|| {
        let all: Vec<&TableDef> = RELATIONAL.iter().chain(METRICS).copied().collect();
        SqlGuard::new(&all, PRIVATE_TABLES, PRIVATE_COLUMNS)
    });
    &GUARD
}

/// Everything a load writes for `o`: the tables' rows, the graph and the `meta` rows.
pub fn snapshot(o: &Org) -> Snapshot<'_> {
    Snapshot {
        tables: tables(o),
        graph: Box::new(move || graph_rows(o)),
        meta: meta(o),
    }
}

static TEAMS: TableDef = TableDef {
    name: "teams",
    columns: &[
        ("id", Int),
        ("name", Text),
        ("description", Text),
        ("manager_id", Int),
    ],
    sort_key: "id",
};

static EMPLOYEES: TableDef = TableDef {
    name: "employees",
    columns: &[
        ("id", Int),
        ("name", Text),
        ("email", Text),
        ("title", Text),
        ("level", Text),
        ("team_id", Int),
        ("manager_id", NullInt),
        ("location", Text),
        ("hire_date", Text),
        ("is_manager", Int),
    ],
    sort_key: "id",
};

static SKILLS: TableDef = TableDef {
    name: "skills",
    columns: &[("id", Int), ("name", Text), ("category", Text)],
    sort_key: "id",
};

static EMPLOYEE_SKILLS: TableDef = TableDef {
    name: "employee_skills",
    columns: &[
        ("employee_id", Int),
        ("skill_id", Int),
        ("proficiency", Int),
    ],
    sort_key: "employee_id, skill_id",
};

static SERVICES: TableDef = TableDef {
    name: "services",
    columns: &[
        ("id", Int),
        ("name", Text),
        ("team_id", Int),
        ("owner_id", Int),
        ("language", Text),
        ("tier", Text),
        ("description", Text),
        ("stack", Text),
    ],
    sort_key: "id",
};

static SERVICE_DEPENDENCIES: TableDef = TableDef {
    name: "service_dependencies",
    columns: &[("service_id", Int), ("depends_on_id", Int)],
    sort_key: "service_id, depends_on_id",
};

static PROJECTS: TableDef = TableDef {
    name: "projects",
    columns: &[
        ("id", Int),
        ("name", Text),
        ("team_id", Int),
        ("lead_id", Int),
        ("status", Text),
        ("start_date", Text),
        ("due_date", Text),
        ("description", Text),
    ],
    sort_key: "id",
};

static SPRINTS: TableDef = TableDef {
    name: "sprints",
    columns: &[
        ("id", Int),
        ("team_id", Int),
        ("name", Text),
        ("number", Int),
        ("starts_on", Text),
        ("ends_on", Text),
    ],
    sort_key: "team_id, starts_on",
};

static TICKETS: TableDef = TableDef {
    name: "tickets",
    columns: &[
        ("id", Int),
        ("key", Text),
        ("title", Text),
        ("team_id", Int),
        ("sprint_id", NullInt),
        ("project_id", NullInt),
        ("assignee_id", NullInt),
        ("points", Int),
        ("status", Text),
        ("created_at", Text),
        ("completed_at", NullText),
    ],
    sort_key: "id",
};

static ONCALL_SHIFTS: TableDef = TableDef {
    name: "oncall_shifts",
    columns: &[
        ("id", Int),
        ("team_id", Int),
        ("employee_id", Int),
        ("starts_at", Text),
        ("ends_at", Text),
        ("role", Text),
    ],
    sort_key: "starts_at",
};

static TIME_OFF: TableDef = TableDef {
    name: "time_off",
    columns: &[
        ("id", Int),
        ("employee_id", Int),
        ("starts_on", Text),
        ("ends_on", Text),
        ("kind", Text),
    ],
    sort_key: "employee_id",
};

static ONE_ON_ONES: TableDef = TableDef {
    name: "one_on_ones",
    columns: &[
        ("id", Int),
        ("manager_id", Int),
        ("employee_id", Int),
        ("held_on", Text),
        ("notes", Text),
    ],
    sort_key: "employee_id, held_on",
};

static DOCUMENTS: TableDef = TableDef {
    name: "documents",
    columns: &[
        ("id", Int),
        ("kind", Text),
        ("title", Text),
        ("body", Text),
        ("team_id", NullInt),
        ("service_id", NullInt),
        ("author_id", Int),
        ("incident_id", NullInt),
        ("created_at", Text),
    ],
    sort_key: "id",
};

static COMMITS: TableDef = TableDef {
    name: "commits",
    columns: &[
        ("sha", Text),
        ("author_id", Int),
        ("author", Text),
        ("team", Text),
        ("service", Text),
        ("service_team", Text),
        ("pr_id", Int),
        ("authored_at", Text),
        ("message", Text),
        ("additions", Int),
        ("deletions", Int),
        ("deployment_id", NullInt),
    ],
    sort_key: "author, authored_at",
};

static PULL_REQUESTS: TableDef = TableDef {
    name: "pull_requests",
    columns: &[
        ("id", Int),
        ("title", Text),
        ("author_id", Int),
        ("author", Text),
        ("team", Text),
        ("service", Text),
        ("service_team", Text),
        ("state", Text),
        ("first_commit_at", Text),
        ("opened_at", Text),
        ("merged_at", NullText),
        ("deployment_id", NullInt),
        // Denormalised from its deployment when that shipped it to production: when, and
        // the lead time (first commit to then) in seconds, so that DORA's lead-time
        // aggregates read one index range instead of joining every change to its deployment.
        ("deployed_at", NullText),
        ("lead_seconds", NullInt),
    ],
    sort_key: "author, opened_at",
};

static PR_REVIEWS: TableDef = TableDef {
    name: "pr_reviews",
    columns: &[
        ("id", Int),
        ("pr_id", Int),
        ("reviewer_id", Int),
        ("reviewer", Text),
        ("reviewer_team", Text),
        ("author_id", Int),
        ("author", Text),
        ("service", Text),
        ("requested_at", Text),
        ("reviewed_at", NullText),
        ("wait_hours", NullReal),
        ("verdict", Text),
    ],
    sort_key: "reviewer, requested_at",
};

static CI_RUNS: TableDef = TableDef {
    name: "ci_runs",
    columns: &[
        ("id", Int),
        ("pr_id", Int),
        ("service", Text),
        ("team", Text),
        ("started_at", Text),
        ("finished_at", Text),
        ("duration_s", Int),
        ("status", Text),
    ],
    sort_key: "started_at",
};

static DEPLOYMENTS: TableDef = TableDef {
    name: "deployments",
    columns: &[
        ("id", Int),
        ("service", Text),
        ("team", Text),
        ("environment", Text),
        ("status", Text),
        ("started_at", Text),
        ("finished_at", Text),
    ],
    sort_key: "environment, finished_at",
};

static INCIDENTS: TableDef = TableDef {
    name: "incidents",
    columns: &[
        ("id", Int),
        ("title", Text),
        ("severity", Text),
        ("service", Text),
        ("team", Text),
        ("deployment_id", NullInt),
        ("opened_at", Text),
        ("resolved_at", NullText),
        ("resolution_hours", NullReal),
        // The finish of the deployment that caused it, when that shipped to production:
        // DORA's failure rate and recovery read the window's incidents by it, without a join.
        ("deployed_at", NullText),
    ],
    sort_key: "opened_at",
};

/// The organisation's production deployments and the changes they shipped, per UTC day:
/// the whole organisation's DORA reads its window's whole days here (a row a day) and only
/// the two partial days at its ends from the events.
static DELIVERY_DAYS: TableDef = TableDef {
    name: "delivery_days",
    columns: &[
        ("day", Text),
        // Production deployments that finished that day, successful and not.
        ("ok", Int),
        ("failed", Int),
        // Changes the successful ones shipped (pull requests with that `deployed_at` day).
        ("changes", Int),
    ],
    sort_key: "day",
};

/// One row per direction, so "who does X work with" reads `employee = X` alone.
static COLLABORATIONS: TableDef = TableDef {
    name: "collaborations",
    columns: &[
        ("employee_id", Int),
        ("employee", Text),
        ("team", Text),
        ("other_id", Int),
        ("other", Text),
        ("other_team", Text),
        ("kind", Text),
        ("weight", Int),
        ("last_at", Text),
    ],
    sort_key: "employee, kind",
};

fn ts(t: DateTime<Utc>) -> Cell {
    Cell::Text(Some(timestamp(t)))
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

/// Every table, in an order that loads parents before children.
pub fn tables(o: &Org) -> Vec<Table<'_>> {
    let delivery_days = delivery_days(o);
    let emp = move |id: i64| o.employee(id);
    let team_of = move |id: i64| o.team(emp(id).team_id).name.as_str();
    let svc = move |id: i64| o.service(id);
    let shipped = move |id: Option<i64>| shipped(o, id);
    vec![
        Table {
            def: &TEAMS,
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
            def: &EMPLOYEES,
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
            def: &SKILLS,
            len: o.skills.len(),
            row: Box::new(move |i| {
                let s = &o.skills[i];
                vec![int(s.id), text(&s.name), text(&s.category)]
            }),
        },
        Table {
            def: &EMPLOYEE_SKILLS,
            len: o.employee_skills.len(),
            row: Box::new(move |i| {
                let s = &o.employee_skills[i];
                vec![int(s.employee_id), int(s.skill_id), int(s.proficiency)]
            }),
        },
        Table {
            def: &SERVICES,
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
            def: &SERVICE_DEPENDENCIES,
            len: o.service_dependencies.len(),
            row: Box::new(move |i| {
                let d = &o.service_dependencies[i];
                vec![int(d.service_id), int(d.depends_on_id)]
            }),
        },
        Table {
            def: &PROJECTS,
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
            def: &SPRINTS,
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
            def: &TICKETS,
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
            def: &ONCALL_SHIFTS,
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
            def: &TIME_OFF,
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
            def: &ONE_ON_ONES,
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
            def: &DOCUMENTS,
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
            def: &COMMITS,
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
            def: &PULL_REQUESTS,
            len: o.pull_requests.len(),
            row: Box::new(move |i| {
                let p = &o.pull_requests[i];
                let s = svc(p.service_id);
                let shipped = shipped(p.deployment_id);
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
                    ts_opt(shipped.map(|d| d.finished_at)),
                    Cell::Int(shipped.map(|d| (d.finished_at - p.first_commit_at).num_seconds())),
                ]
            }),
        },
        Table {
            def: &PR_REVIEWS,
            len: o.reviews.len(),
            row: Box::new(move |i| {
                let r = &o.reviews[i];
                let p = o.pull_request(r.pr_id);
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
            def: &CI_RUNS,
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
            def: &DEPLOYMENTS,
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
            def: &INCIDENTS,
            len: o.incidents.len(),
            row: Box::new(move |i| {
                let n = &o.incidents[i];
                let s = svc(n.service_id);
                let caused_by = shipped(n.deployment_id);
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
                    ts_opt(caused_by.map(|d| d.finished_at)),
                ]
            }),
        },
        Table {
            def: &COLLABORATIONS,
            len: o.collaborations.len() * 2,
            row: Box::new(move |i| {
                let c = &o.collaborations[i / 2];
                let (me, other) = if i % 2 == 0 {
                    (c.a_id, c.b_id)
                } else {
                    (c.b_id, c.a_id)
                };
                vec![
                    int(me),
                    text(&emp(me).name),
                    text(team_of(me)),
                    int(other),
                    text(&emp(other).name),
                    text(team_of(other)),
                    text(&c.kind),
                    int(c.weight),
                    ts(c.last_at),
                ]
            }),
        },
        Table {
            def: &DELIVERY_DAYS,
            len: delivery_days.len(),
            row: Box::new(move |i| {
                let (d, [ok, failed, changes]) = delivery_days[i];
                vec![day(d), int(ok), int(failed), int(changes)]
            }),
        },
    ]
}

/// The deployment `id`, when it shipped to production (what DORA counts).
fn shipped(o: &Org, id: Option<i64>) -> Option<&Deployment> {
    id.and_then(|d| o.deployment(d))
        .filter(|d| d.environment == "production" && d.status == "success")
}

/// Per UTC day with a production deployment: deployments that succeeded, that failed, and
/// the changes the successful ones shipped; in day order.
fn delivery_days(o: &Org) -> Vec<(NaiveDate, [i64; 3])> {
    let mut days: BTreeMap<NaiveDate, [i64; 3]> = BTreeMap::new();
    for d in o
        .deployments
        .iter()
        .filter(|d| d.environment == "production")
    {
        days.entry(d.finished_at.date_naive()).or_default()[usize::from(d.status != "success")] +=
            1;
    }
    for p in &o.pull_requests {
        if let Some(d) = shipped(o, p.deployment_id) {
            days.entry(d.finished_at.date_naive()).or_default()[2] += 1;
        }
    }
    days.into_iter().collect()
}

/// The `meta` rows: where the data came from and the instant it describes ("now").
pub fn meta(o: &Org) -> Vec<(&'static str, String)> {
    vec![
        ("as_of", timestamp(o.as_of.unwrap_or_else(as_of))),
        ("seed", o.seed.to_string()),
        ("employees", o.employees.len().to_string()),
        ("teams", o.teams.len().to_string()),
        (
            "generator",
            o.generator
                .clone()
                .unwrap_or_else(|| format!("eng-intel {}", env!("CARGO_PKG_VERSION"))),
        ),
        // Columns copied from another table at load, which a store's own statements read
        // instead of joining (`toolbox::aggregates::Dialect::ClickHouseJoined`).
        ("derived_columns", DERIVED_COLUMNS.into()),
    ]
}

/// The columns a load derives from other tables, as `table.column`.
pub const DERIVED_COLUMNS: &str =
    "pull_requests.deployed_at pull_requests.lead_seconds incidents.deployed_at";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{META, Ty};

    fn all() -> impl Iterator<Item = &'static TableDef> {
        RELATIONAL.iter().chain(METRICS).copied()
    }

    /// The migrations and the descriptions are one schema: the same tables, columns in
    /// the same order, of the same type and nullability.
    #[tokio::test]
    async fn the_sqlite_schema_is_the_description() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Sqlite::open(&dir.path().join("s.sqlite"), &SQLITE_SCHEMA)
            .await
            .unwrap();
        let declared: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        let described: Vec<&str> = [&META].into_iter().chain(all()).map(|t| t.name).collect();
        assert_eq!(declared, described);
        for t in [&META].into_iter().chain(all()) {
            let columns: Vec<(String, String, bool, bool)> = sqlx::query_as(
                "SELECT name, type, \"notnull\", pk > 0 FROM pragma_table_info(?1) ORDER BY cid",
            )
            .bind(t.name)
            .fetch_all(db.pool())
            .await
            .unwrap();
            let from_sql: Vec<(&str, Ty)> = columns
                .iter()
                .map(|(name, ty, not_null, key)| {
                    let null = !(*not_null || *key);
                    let ty = match (ty.as_str(), null) {
                        ("INTEGER", false) => Ty::Int,
                        ("INTEGER", true) => Ty::NullInt,
                        ("TEXT", false) => Ty::Text,
                        ("TEXT", true) => Ty::NullText,
                        ("REAL", true) => Ty::NullReal,
                        other => panic!("{}.{name}: no Ty for {other:?}", t.name),
                    };
                    (name.as_str(), ty)
                })
                .collect();
            assert_eq!(from_sql, t.columns, "{}", t.name);
        }
    }

    #[test]
    fn rows_fit_their_columns() {
        let o = crate::dataset::generate(3, 0);
        for t in tables(&o) {
            assert!(t.len > 0, "{} is empty", t.name());
            let row = (t.row)(t.len - 1);
            assert_eq!(row.len(), t.def.columns.len(), "{}", t.name());
            for (cell, (name, ty)) in row.iter().zip(t.def.columns) {
                let fits = match cell {
                    Cell::Int(v) => {
                        matches!(ty, Ty::Int | Ty::NullInt) && (v.is_some() || ty.nullable())
                    }
                    Cell::Real(_) => *ty == Ty::NullReal,
                    Cell::Text(v) => {
                        matches!(ty, Ty::Text | Ty::NullText) && (v.is_some() || ty.nullable())
                    }
                };
                assert!(fits, "{}.{name}: {cell:?} in a {ty:?} column", t.name());
            }
        }
    }

    #[test]
    fn no_table_is_named_like_a_column() {
        // Else `SELECT t FROM t` would pass the guard's column check and return whole rows.
        for t in all() {
            assert!(
                !sql_guard().any_column(t.name),
                "table {} is also a column name",
                t.name
            );
        }
    }
}
