//! Six months of delivery history: pull requests with their commits, reviews and CI runs;
//! staging and production deployments that ship the merged changes; incidents caused by
//! production deployments. The planted patterns live here: the degrading lead time of
//! one team, the week of failing production deployments, the single-committer service and
//! the review backlog of the overloaded engineer.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::roster::{
    DEGRADING_TEAM, DEGRADING_WEEKS, FAILING_WEEK, OVERLOADED, SILO_OWNER, SILO_SERVICE,
};
use super::{
    CiRun, Commit, Deployment, HISTORY_WEEKS, Incident, Org, PullRequest, Review, Rng, as_of,
    at_midnight, history_start, hours, is_workday,
};

const VERBS: [&str; 10] = [
    "Add",
    "Fix",
    "Refactor",
    "Remove",
    "Speed up",
    "Harden",
    "Document",
    "Migrate",
    "Simplify",
    "Instrument",
];
const THINGS: [&str; 12] = [
    "retry budget",
    "request validation",
    "connection pooling",
    "feature flag",
    "metrics export",
    "error handling",
    "cache invalidation",
    "schema migration",
    "rate limiter",
    "health checks",
    "config loading",
    "pagination",
];

/// Facts every part of the simulation needs.
struct Ctx {
    now: DateTime<Utc>,
    off: HashSet<(i64, NaiveDate)>,
    /// Team id → members (managers included), for reviewers.
    members: HashMap<i64, Vec<i64>>,
    /// Team id → its services, the silo service left out.
    team_services: HashMap<i64, Vec<i64>>,
    all_services: Vec<i64>,
    silo_service: i64,
    silo_owner: i64,
    overloaded: i64,
    degrading_team: i64,
}

/// The week (from the start of the history) a degradation factor applies to, 1 = first.
fn degrading_week(week: i64) -> Option<i64> {
    let first = HISTORY_WEEKS - DEGRADING_WEEKS;
    (week >= first).then_some(week - first + 1)
}

pub fn history(org: &mut Org, rng: &mut Rng) {
    let ctx = context(org);
    pull_requests(org, rng, &ctx);
    deployments(org, rng, &ctx);
    incidents(org, rng, &ctx);
}

fn context(org: &Org) -> Ctx {
    let mut off = HashSet::new();
    for t in &org.time_off {
        let mut d = t.starts_on;
        while d <= t.ends_on {
            off.insert((t.employee_id, d));
            d = d.succ_opt().expect("date in range");
        }
    }
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for e in &org.employees {
        members.entry(e.team_id).or_default().push(e.id);
    }
    let silo_service = org.service_by_name(SILO_SERVICE).expect("silo service").id;
    let mut team_services: HashMap<i64, Vec<i64>> = HashMap::new();
    for s in org.services.iter().filter(|s| s.id != silo_service) {
        team_services.entry(s.team_id).or_default().push(s.id);
    }
    Ctx {
        now: as_of(),
        off,
        members,
        team_services,
        all_services: org
            .services
            .iter()
            .filter(|s| s.id != silo_service)
            .map(|s| s.id)
            .collect(),
        silo_service,
        silo_owner: org.employee_by_name(SILO_OWNER).expect("silo owner").id,
        overloaded: org
            .employee_by_name(OVERLOADED)
            .expect("overloaded engineer")
            .id,
        degrading_team: org.team_by_name(DEGRADING_TEAM).expect("degrading team").id,
    }
}

/// Every workday, each engineer at work may open a pull request.
fn pull_requests(org: &mut Org, rng: &mut Rng, ctx: &Ctx) {
    let start = history_start().date_naive();
    let people: Vec<(i64, i64, bool)> = org
        .employees
        .iter()
        .map(|e| (e.id, e.team_id, e.is_manager))
        .collect();
    for day in 0..HISTORY_WEEKS * 7 {
        let date = start + Duration::days(day);
        if !is_workday(date) {
            continue;
        }
        let week = day / 7;
        for &(id, team, manager) in &people {
            if ctx.off.contains(&(id, date)) || !rng.chance(if manager { 0.08 } else { 0.55 }) {
                continue;
            }
            let service = if id == ctx.silo_owner && rng.chance(0.6) {
                ctx.silo_service
            } else if rng.chance(0.1) {
                *rng.pick(&ctx.all_services)
            } else {
                match ctx.team_services.get(&team) {
                    Some(s) => *rng.pick(s),
                    None => *rng.pick(&ctx.all_services),
                }
            };
            pull_request(org, rng, ctx, id, team, service, date, week);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn pull_request(
    org: &mut Org,
    rng: &mut Rng,
    ctx: &Ctx,
    author: i64,
    team: i64,
    service: i64,
    date: NaiveDate,
    week: i64,
) {
    let pr_id = org.pull_requests.len() as i64 + 1;
    let first = at_midnight(date) + hours(9.0 + rng.f64() * 8.0);
    let title = format!(
        "{} {} in {}",
        rng.pick(&VERBS),
        rng.pick(&THINGS),
        org.service(service).name
    );
    let mut t = first;
    let mut commit_times = Vec::new();
    for k in 0..rng.range(1, 4) {
        if k > 0 {
            t += hours(rng.lognormal(3.0, 0.8));
        }
        if t >= ctx.now {
            break;
        }
        commit_times.push(t);
        let message = format!("{} {}", rng.pick(&VERBS), rng.pick(&THINGS)).to_lowercase();
        org.commits.push(Commit {
            sha: rng.sha(),
            author_id: author,
            pr_id,
            service_id: service,
            authored_at: t,
            message,
            additions: rng.range(5, 400),
            deletions: rng.range(0, 200),
            deployment_id: None,
        });
    }
    let opened = t + hours(0.2 + rng.f64() * 1.5);
    if opened >= ctx.now {
        // Still a local branch at the end of the history: nothing pushed yet, so drop the
        // commits (they are the tail of the list).
        let kept = org.commits.len()
            - org
                .commits
                .iter()
                .rev()
                .take_while(|c| c.pr_id == pr_id)
                .count();
        org.commits.truncate(kept);
        return;
    }
    // Slower reviews in the degrading team, worse every week.
    let slow = match (team == ctx.degrading_team, degrading_week(week)) {
        (true, Some(k)) => 1.0 + 0.9 * k as f64,
        _ => 1.0,
    };
    let mut candidates: Vec<i64> = ctx.members[&team]
        .iter()
        .copied()
        .filter(|&m| m != author)
        .collect();
    let mut reviewers = Vec::new();
    if team == ctx.degrading_team && author != ctx.overloaded && rng.chance(0.8) {
        // Everyone wants the staff engineer's review.
        reviewers.push(ctx.overloaded);
        candidates.retain(|&m| m != ctx.overloaded);
    }
    let extra = rng.range(0, 1) as usize + usize::from(reviewers.is_empty());
    for i in rng.sample(candidates.len(), extra) {
        reviewers.push(candidates[i]);
    }
    let mut last_review = opened;
    let mut pending = false;
    for r in reviewers {
        let mut reviewed = opened + hours(rng.lognormal(3.0, 0.9) * slow);
        // The overloaded engineer has not got to last week's requests.
        if r == ctx.overloaded && opened >= ctx.now - Duration::days(8) && rng.chance(0.85) {
            reviewed = ctx.now + Duration::days(1);
        }
        let done = reviewed < ctx.now;
        pending |= !done;
        last_review = last_review.max(reviewed);
        org.reviews.push(Review {
            id: org.reviews.len() as i64 + 1,
            pr_id,
            reviewer_id: r,
            requested_at: opened,
            reviewed_at: done.then_some(reviewed),
            verdict: if !done {
                "pending"
            } else if rng.chance(0.85) {
                "approved"
            } else {
                "changes_requested"
            }
            .into(),
        });
    }
    let merged = last_review + hours(0.1 + rng.f64() * 2.0);
    let (state, merged_at) = if rng.chance(0.04) {
        ("closed", None)
    } else if pending || merged >= ctx.now {
        ("open", None)
    } else {
        ("merged", Some(merged))
    };
    for (i, &at) in commit_times.iter().enumerate() {
        let last = i + 1 == commit_times.len();
        let started = at + hours(0.05);
        let status = if !last && rng.chance(0.2) || last && rng.chance(0.06) {
            "failure"
        } else {
            "success"
        };
        org.ci_runs.push(CiRun {
            id: org.ci_runs.len() as i64 + 1,
            pr_id,
            service_id: service,
            started_at: started,
            finished_at: started + Duration::seconds(rng.range(240, 900)),
            status: status.into(),
        });
    }
    org.pull_requests.push(PullRequest {
        id: pr_id,
        title,
        author_id: author,
        service_id: service,
        state: state.into(),
        first_commit_at: first,
        opened_at: opened,
        merged_at,
        deployment_id: None,
    });
}

/// Per service, on some workdays: a staging deployment, then a production deployment that
/// ships every change merged before it started (when it succeeds).
fn deployments(org: &mut Org, rng: &mut Rng, ctx: &Ctx) {
    let start = history_start().date_naive();
    // Merged PRs per service in merge order: each successful deployment takes a prefix.
    let mut queue: HashMap<i64, Vec<(DateTime<Utc>, usize)>> = HashMap::new();
    for (i, pr) in org.pull_requests.iter().enumerate() {
        if let Some(m) = pr.merged_at {
            queue.entry(pr.service_id).or_default().push((m, i));
        }
    }
    for q in queue.values_mut() {
        q.sort();
    }
    let services: Vec<(i64, i64)> = org.services.iter().map(|s| (s.id, s.team_id)).collect();
    for (service, team) in services {
        let q = queue.remove(&service).unwrap_or_default();
        let mut next = 0;
        for day in 0..HISTORY_WEEKS * 7 {
            let date = start + Duration::days(day);
            if !is_workday(date) {
                continue;
            }
            let week = day / 7;
            let mut p = if service == ctx.silo_service {
                0.35
            } else {
                0.5
            };
            if let (true, Some(k)) = (team == ctx.degrading_team, degrading_week(week)) {
                p /= 1.0 + 0.5 * k as f64;
            }
            if !rng.chance(p) {
                continue;
            }
            let started = at_midnight(date) + hours(14.0 + rng.f64() * 3.0);
            let staging_start = started - hours(1.0 + rng.f64());
            push_deployment(
                org,
                service,
                "staging",
                rng.chance(0.06),
                staging_start,
                rng.range(180, 720),
            );
            let failed = rng.chance(if week == FAILING_WEEK { 0.6 } else { 0.04 });
            let id = push_deployment(
                org,
                service,
                "production",
                failed,
                started,
                rng.range(300, 1500),
            );
            if failed {
                continue;
            }
            while next < q.len() && q[next].0 < started {
                org.pull_requests[q[next].1].deployment_id = Some(id);
                next += 1;
            }
        }
    }
    let shipped: HashMap<i64, i64> = org
        .pull_requests
        .iter()
        .filter_map(|p| p.deployment_id.map(|d| (p.id, d)))
        .collect();
    for c in org.commits.iter_mut() {
        c.deployment_id = shipped.get(&c.pr_id).copied();
    }
}

fn push_deployment(
    org: &mut Org,
    service: i64,
    env: &str,
    failed: bool,
    started: DateTime<Utc>,
    secs: i64,
) -> i64 {
    let id = org.deployments.len() as i64 + 1;
    org.deployments.push(Deployment {
        id,
        service_id: service,
        environment: env.into(),
        status: if failed { "failure" } else { "success" }.into(),
        started_at: started,
        finished_at: started + Duration::seconds(secs),
    });
    id
}

const INCIDENT_TITLES: [&str; 6] = [
    "Elevated 5xx error rate on {}",
    "Latency spike in {}",
    "{} pods crash-looping after release",
    "Stale data served by {}",
    "Memory leak in {}",
    "Timeouts calling {} from upstream services",
];

/// Incidents caused by successful production deployments (many in the failing week), a
/// few not caused by any deployment, and the most recent ones still unresolved.
fn incidents(org: &mut Org, rng: &mut Rng, ctx: &Ctx) {
    let failing_start = history_start() + Duration::weeks(FAILING_WEEK);
    let failing_end = failing_start + Duration::weeks(1);
    let prod: Vec<(i64, i64, DateTime<Utc>)> = org
        .deployments
        .iter()
        .filter(|d| d.environment == "production" && d.status == "success")
        .map(|d| (d.id, d.service_id, d.finished_at))
        .collect();
    let mut found = Vec::new();
    for (id, service, finished) in prod {
        let failing = finished >= failing_start && finished < failing_end;
        if rng.chance(if failing { 0.45 } else { 0.035 }) {
            let opened = finished + hours(rng.lognormal(0.7, 0.8));
            found.push((opened, service, Some(id)));
        }
    }
    let start = history_start();
    for week in 0..HISTORY_WEEKS {
        if rng.chance(0.3) {
            let service = org.services[rng.range(0, org.services.len() as i64 - 1) as usize].id;
            let opened = start + Duration::weeks(week) + hours(rng.f64() * 24.0 * 7.0);
            found.push((opened, service, None));
        }
    }
    found.sort();
    for (opened, service, deployment_id) in found {
        if opened >= ctx.now {
            continue;
        }
        let severity = *rng.pick(&["SEV1", "SEV2", "SEV2", "SEV3", "SEV3", "SEV3"]);
        let resolved = opened + hours(rng.lognormal(2.5, 1.1));
        // Recent incidents are often still being worked on; a few minor ones linger.
        let recent = opened >= ctx.now - Duration::days(14);
        let stuck = (recent && rng.chance(0.6)) || (severity == "SEV3" && rng.chance(0.12));
        let title = rng
            .pick(&INCIDENT_TITLES)
            .replace("{}", &org.service(service).name);
        org.incidents.push(Incident {
            id: org.incidents.len() as i64 + 1,
            title,
            severity: severity.into(),
            service_id: service,
            deployment_id,
            opened_at: opened,
            resolved_at: (resolved < ctx.now && !stuck).then_some(resolved),
        });
    }
    // There is always at least one open incident to ask about.
    if org.incidents.iter().all(|i| i.resolved_at.is_some())
        && let Some(last) = org.incidents.last_mut()
    {
        last.resolved_at = None;
    }
}
