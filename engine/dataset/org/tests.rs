//! The generator's promises: determinism, shape, and the planted patterns.

use std::collections::{HashMap, HashSet};

use super::roster::{
    DEGRADING_TEAM, DEGRADING_WEEKS, FAILING_WEEK, OVERLOADED, SILO_OWNER, SILO_SERVICE,
};
use super::*;
use crate::analytics::dora;

fn digest(o: &Org) -> Vec<String> {
    vec![
        format!(
            "{:?}",
            o.employees.iter().map(|e| &e.name).collect::<Vec<_>>()
        ),
        format!(
            "{}/{}/{}/{}/{}",
            o.commits.len(),
            o.pull_requests.len(),
            o.deployments.len(),
            o.incidents.len(),
            o.tickets.len()
        ),
        o.commits.last().map(|c| c.sha.clone()).unwrap_or_default(),
        format!(
            "{:?}",
            o.incidents.last().map(|i| (i.opened_at, i.resolved_at))
        ),
    ]
}

#[test]
fn same_seed_same_org_and_another_seed_differs() {
    let a = generate(42, 18);
    assert_eq!(digest(&a), digest(&generate(42, 18)));
    assert_ne!(digest(&a), digest(&generate(43, 18)));
}

#[test]
fn default_shape() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    assert_eq!(o.employees.len(), 18);
    assert_eq!(o.teams.len(), 4);
    assert!(o.employee_by_name("Alex Kumar").is_some());
    // Everyone but the director has a manager, and every chain ends at the director.
    let director = o
        .employees
        .iter()
        .filter(|e| e.manager_id.is_none())
        .collect::<Vec<_>>();
    assert_eq!(director.len(), 1);
    for e in &o.employees {
        let mut cur = e;
        for _ in 0..5 {
            match cur.manager_id {
                Some(m) => cur = o.employee(m),
                None => break,
            }
        }
        assert_eq!(cur.id, director[0].id, "{} reaches the director", e.name);
    }
    assert!(
        o.employee_skills
            .iter()
            .all(|s| (1..=5).contains(&s.proficiency))
    );
    // History stays inside the six months.
    assert!(
        o.commits
            .iter()
            .all(|c| c.authored_at >= history_start() && c.authored_at < as_of())
    );
    assert!(o.incidents.iter().any(|i| i.resolved_at.is_none()));
    assert!(
        o.incidents
            .iter()
            .all(|i| i.resolved_at.is_none_or(|r| r > i.opened_at))
    );
    // Incidents are caused only by successful production deployments.
    for i in o.incidents.iter().filter_map(|i| i.deployment_id) {
        let d = &o.deployments[(i - 1) as usize];
        assert_eq!(
            (d.environment.as_str(), d.status.as_str()),
            ("production", "success")
        );
    }
    // A shipped change was merged before its deployment started.
    for p in &o.pull_requests {
        if let Some(d) = p.deployment_id {
            assert!(p.merged_at.unwrap() < o.deployments[(d - 1) as usize].started_at);
        }
    }
}

#[test]
fn one_person_committed_to_the_silo_service() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    let s = o.service_by_name(SILO_SERVICE).unwrap().id;
    let authors: HashSet<i64> = o
        .commits
        .iter()
        .filter(|c| c.service_id == s)
        .map(|c| c.author_id)
        .collect();
    assert_eq!(
        authors,
        HashSet::from([o.employee_by_name(SILO_OWNER).unwrap().id])
    );
    let others = o.services.iter().filter(|x| x.id != s).all(|x| {
        o.commits
            .iter()
            .filter(|c| c.service_id == x.id)
            .map(|c| c.author_id)
            .collect::<HashSet<_>>()
            .len()
            > 1
    });
    assert!(others, "every other service has more than one committer");
}

#[test]
fn pairs_are_teammates_who_co_authored_commits() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    assert!(o.collaborations.len() >= 10, "{}", o.collaborations.len());
    let commits = o.commits.len() as i64;
    let mut total = 0;
    for c in &o.collaborations {
        assert!(
            c.a_id < c.b_id && c.weight >= 1 && c.last_at <= as_of(),
            "{c:?}"
        );
        assert_eq!(c.kind, "co_authored", "the demo's commits have no files");
        let (a, b) = (o.employee(c.a_id), o.employee(c.b_id));
        assert_eq!(a.team_id, b.team_id, "{} and {}", a.name, b.name);
        total += c.weight;
    }
    assert!(
        total < commits / 5,
        "a tenth of pull requests: {total} of {commits}"
    );
}

#[test]
fn the_overloaded_engineer_carries_far_more_than_peers() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    let mut points: HashMap<i64, i64> = HashMap::new();
    for t in o
        .tickets
        .iter()
        .filter(|t| matches!(t.status.as_str(), "todo" | "in_progress" | "in_review"))
    {
        if let Some(a) = t.assignee_id {
            *points.entry(a).or_default() += t.points;
        }
    }
    let mut pending: HashMap<i64, i64> = HashMap::new();
    for r in o.reviews.iter().filter(|r| r.reviewed_at.is_none()) {
        *pending.entry(r.reviewer_id).or_default() += 1;
    }
    let me = o.employee_by_name(OVERLOADED).unwrap().id;
    let max_other = |m: &HashMap<i64, i64>| {
        m.iter()
            .filter(|(k, _)| **k != me)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    };
    assert!(points[&me] >= 2 * max_other(&points), "points {points:?}");
    assert!(
        pending[&me] >= 2 * max_other(&pending).max(1),
        "pending reviews {pending:?}"
    );
}

#[test]
fn one_week_of_failing_production_deployments() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    let mut by_week: HashMap<i64, (usize, usize)> = HashMap::new();
    for d in o
        .deployments
        .iter()
        .filter(|d| d.environment == "production")
    {
        let w = (d.started_at - history_start()).num_weeks();
        let e = by_week.entry(w).or_default();
        e.0 += usize::from(d.status == "failure");
        e.1 += 1;
    }
    let rate = |w: &i64| by_week[w].0 as f64 / by_week[w].1 as f64;
    assert!(rate(&FAILING_WEEK) > 0.4);
    for w in by_week.keys().filter(|w| **w != FAILING_WEEK) {
        assert!(rate(w) < 0.25, "week {w} fails {}", rate(w));
    }
}

#[test]
fn the_degrading_team_lead_time_grows() {
    let o = generate(DEFAULT_SEED, DEFAULT_EMPLOYEES);
    let team = o.team_by_name(DEGRADING_TEAM).unwrap().id;
    let window = dora::Window {
        start: history_start(),
        end: as_of(),
    };
    let deploys: Vec<dora::Deploy> = o
        .deployments
        .iter()
        .filter(|d| o.service(d.service_id).team_id == team)
        .map(|d| dora::Deploy {
            id: d.id,
            production: d.environment == "production",
            success: d.status == "success",
            finished_at: d.finished_at,
        })
        .collect();
    let changes: Vec<dora::Change> = o
        .pull_requests
        .iter()
        .filter_map(|p| {
            p.deployment_id.map(|d| dora::Change {
                deployment_id: d,
                first_commit_at: p.first_commit_at,
            })
        })
        .collect();
    let before = dora::compute(
        dora::Window {
            start: window.start,
            end: as_of() - chrono::Duration::weeks(DEGRADING_WEEKS),
        },
        &deploys,
        &changes,
        &[],
    );
    let after = dora::compute(
        dora::Window::last_days(as_of(), 21),
        &deploys,
        &changes,
        &[],
    );
    let (b, a) = (
        before.lead_time.median_hours.unwrap(),
        after.lead_time.median_hours.unwrap(),
    );
    assert!(
        a > 2.5 * b,
        "lead time before {b:.1} h, last three weeks {a:.1} h"
    );
}

#[test]
fn scales_with_teams_of_about_five() {
    let o = generate(7, 200);
    assert_eq!(o.employees.len(), 200);
    assert_eq!(o.teams.len(), 40);
    let names: HashSet<&str> = o.employees.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), 200, "names are unique");
    for t in &o.teams {
        assert_eq!(o.employee(t.manager_id).team_id, t.id);
        assert!(o.employee(t.manager_id).is_manager);
    }
    // The base roster and its plants are unchanged by scaling.
    assert_eq!(
        o.employees[..18]
            .iter()
            .map(|e| &e.name)
            .collect::<Vec<_>>(),
        generate(7, 18)
            .employees
            .iter()
            .map(|e| &e.name)
            .collect::<Vec<_>>()
    );
}
