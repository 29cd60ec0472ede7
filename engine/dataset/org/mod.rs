//! The demo engineering organisation: a deterministic generator.
//!
//! `generate(seed, employees)` builds an [`Org`] — people, teams, skills, services and six
//! months of delivery history ending at [`as_of`] — from nothing but the seed, so every
//! machine gets the same data. The tables and the planted patterns are documented in
//! docs/DATA.md; `dataset::snapshot` turns an `Org` into what the stores load.

mod docs;
mod history;
mod pairing;
mod people;
mod roster;
mod work;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

pub use crate::core::Rng;

/// Employees in the default organisation (the seed's "How many employees do we have?").
pub const DEFAULT_EMPLOYEES: usize = roster::ROSTER.len();
/// The default seed of `eng-intel seed`.
pub const DEFAULT_SEED: u64 = 42;
/// Weeks of history before [`as_of`].
pub const HISTORY_WEEKS: i64 = 26;

/// The fixed instant the history ends at (a Monday, 00:00 UTC): "now" for the demo data,
/// so answers do not drift with the wall clock.
pub fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0).unwrap()
}

/// The first instant of the history (a Monday, [`HISTORY_WEEKS`] before [`as_of`]).
pub fn history_start() -> DateTime<Utc> {
    as_of() - chrono::Duration::weeks(HISTORY_WEEKS)
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub manager_id: i64,
}

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub title: String,
    pub level: String,
    pub team_id: i64,
    pub manager_id: Option<i64>,
    pub location: String,
    pub hire_date: NaiveDate,
    pub is_manager: bool,
}

#[derive(Debug, Clone)]
pub struct Skill {
    pub id: i64,
    pub name: String,
    pub category: String,
}

#[derive(Debug, Clone)]
pub struct EmployeeSkill {
    pub employee_id: i64,
    pub skill_id: i64,
    /// 1 (aware) to 5 (expert).
    pub proficiency: i64,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub name: String,
    pub team_id: i64,
    /// The engineer accountable for it (tech lead).
    pub owner_id: i64,
    pub language: String,
    /// critical or standard.
    pub tier: String,
    pub description: String,
    /// Skills the service is built with (names), for experts and silos.
    pub stack: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ServiceDependency {
    pub service_id: i64,
    pub depends_on_id: i64,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub team_id: i64,
    pub lead_id: i64,
    /// on_track, at_risk, off_track or completed.
    pub status: String,
    pub start_date: NaiveDate,
    pub due_date: NaiveDate,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Sprint {
    pub id: i64,
    pub team_id: i64,
    pub name: String,
    pub number: i64,
    pub starts_on: NaiveDate,
    /// Inclusive.
    pub ends_on: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub team_id: i64,
    pub sprint_id: Option<i64>,
    pub project_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub points: i64,
    /// todo, in_progress, in_review, done or carried_over.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct OncallShift {
    pub id: i64,
    pub team_id: i64,
    pub employee_id: i64,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// primary or secondary.
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct TimeOff {
    pub id: i64,
    pub employee_id: i64,
    pub starts_on: NaiveDate,
    /// Inclusive.
    pub ends_on: NaiveDate,
    /// vacation, sick, conference or parental.
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct OneOnOne {
    pub id: i64,
    pub manager_id: i64,
    pub employee_id: i64,
    pub held_on: NaiveDate,
    pub notes: String,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub id: i64,
    /// design_doc, postmortem, runbook or onboarding.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub team_id: Option<i64>,
    pub service_id: Option<i64>,
    pub author_id: i64,
    pub incident_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Commit {
    pub sha: String,
    pub author_id: i64,
    pub pr_id: i64,
    pub service_id: i64,
    pub authored_at: DateTime<Utc>,
    pub message: String,
    pub additions: i64,
    pub deletions: i64,
    /// The production deployment that shipped it.
    pub deployment_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct PullRequest {
    pub id: i64,
    pub title: String,
    pub author_id: i64,
    pub service_id: i64,
    /// open, merged or closed.
    pub state: String,
    pub first_commit_at: DateTime<Utc>,
    pub opened_at: DateTime<Utc>,
    pub merged_at: Option<DateTime<Utc>>,
    /// The successful production deployment that shipped it.
    pub deployment_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub pr_id: i64,
    pub reviewer_id: i64,
    pub requested_at: DateTime<Utc>,
    /// None while the review is pending.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// approved, changes_requested or pending.
    pub verdict: String,
}

#[derive(Debug, Clone)]
pub struct CiRun {
    pub id: i64,
    pub pr_id: i64,
    pub service_id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// success or failure.
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: i64,
    pub service_id: i64,
    /// staging or production.
    pub environment: String,
    /// success or failure.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: i64,
    pub title: String,
    /// SEV1 (worst) to SEV3.
    pub severity: String,
    pub service_id: i64,
    /// The deployment that caused it, when one did.
    pub deployment_id: Option<i64>,
    pub opened_at: DateTime<Utc>,
    /// None while unresolved.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Two people who worked on the same code, once per pair (`a_id` < `b_id`) and kind
/// (docs/DATA.md, `collaborations`).
#[derive(Debug, Clone)]
pub struct Collaboration {
    pub a_id: i64,
    pub b_id: i64,
    /// co_authored (commits written together) or co_changed (files both changed within a
    /// few weeks of each other).
    pub kind: String,
    /// Commits written together, or files changed together.
    pub weight: i64,
    /// When they last did.
    pub last_at: DateTime<Utc>,
}

/// The whole organisation; ids are 1-based positions in their vectors.
#[derive(Debug, Clone, Default)]
pub struct Org {
    /// The generator's seed; for an imported organisation, a fingerprint of what was read
    /// (so `LoadTarget::holds` tells whether a store already holds it).
    pub seed: u64,
    /// The instant the data describes ("now" for queries); None: the demo's [`as_of`].
    pub as_of: Option<DateTime<Utc>>,
    /// What produced the data, for `meta.generator`; None: the demo generator.
    pub generator: Option<String>,
    pub teams: Vec<Team>,
    pub employees: Vec<Employee>,
    pub skills: Vec<Skill>,
    pub employee_skills: Vec<EmployeeSkill>,
    pub services: Vec<Service>,
    pub service_dependencies: Vec<ServiceDependency>,
    pub projects: Vec<Project>,
    pub sprints: Vec<Sprint>,
    pub tickets: Vec<Ticket>,
    pub oncall_shifts: Vec<OncallShift>,
    pub time_off: Vec<TimeOff>,
    pub one_on_ones: Vec<OneOnOne>,
    pub documents: Vec<Document>,
    pub commits: Vec<Commit>,
    pub pull_requests: Vec<PullRequest>,
    pub reviews: Vec<Review>,
    pub ci_runs: Vec<CiRun>,
    pub deployments: Vec<Deployment>,
    pub incidents: Vec<Incident>,
    pub collaborations: Vec<Collaboration>,
}

impl Org {
    pub fn employee(&self, id: i64) -> &Employee {
        &self.employees[(id - 1) as usize]
    }
    pub fn team(&self, id: i64) -> &Team {
        &self.teams[(id - 1) as usize]
    }
    pub fn service(&self, id: i64) -> &Service {
        &self.services[(id - 1) as usize]
    }
    /// Pull requests are in id order; an import's ids are their numbers, not positions.
    pub fn pull_request(&self, id: i64) -> &PullRequest {
        let i = self
            .pull_requests
            .binary_search_by_key(&id, |p| p.id)
            .expect("a review's pull request exists");
        &self.pull_requests[i]
    }
    /// Deployments are in id order, from 1.
    pub fn deployment(&self, id: i64) -> Option<&Deployment> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.deployments.get(i))
            .filter(|d| d.id == id)
    }
    pub fn employee_by_name(&self, name: &str) -> Option<&Employee> {
        self.employees.iter().find(|e| e.name == name)
    }
    pub fn team_by_name(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }
    pub fn service_by_name(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// Generates the organisation: `employees` people (at least the 18 of the base roster),
/// about five per team, with six months of history ending at [`as_of`].
pub fn generate(seed: u64, employees: usize) -> Org {
    let rng = Rng::new(seed);
    let mut org = Org {
        seed,
        ..Default::default()
    };
    people::people(&mut org, &mut rng.fork(1), employees.max(DEFAULT_EMPLOYEES));
    people::services(&mut org, &mut rng.fork(2));
    work::time_off(&mut org, &mut rng.fork(3));
    work::oncall(&mut org);
    history::history(&mut org, &mut rng.fork(4));
    work::projects_and_tickets(&mut org, &mut rng.fork(5));
    work::one_on_ones(&mut org, &mut rng.fork(6));
    docs::documents(&mut org, &mut rng.fork(7));
    pairing::pairing(&mut org, &mut rng.fork(8));
    org
}

/// True on Monday to Friday.
pub(super) fn is_workday(d: NaiveDate) -> bool {
    use chrono::Datelike;
    d.weekday().num_days_from_monday() < 5
}

/// Midnight UTC of a day.
pub(super) fn at_midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// A duration of fractional hours.
pub(super) fn hours(h: f64) -> chrono::Duration {
    chrono::Duration::seconds((h * 3600.0).round() as i64)
}

#[cfg(test)]
mod tests;
