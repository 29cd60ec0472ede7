//! Documents for retrieval: onboarding guides per team, a runbook and a design doc per
//! service, design docs per project and a postmortem for every resolved SEV1/SEV2 incident.

use chrono::Duration;

use super::{Document, Org, Rng, as_of, history_start, hours};

pub fn documents(org: &mut Org, rng: &mut Rng) {
    let early = |rng: &mut Rng| history_start() + hours(rng.f64() * 24.0 * 40.0);
    for team in org.teams.clone() {
        let services: Vec<&str> = org
            .services
            .iter()
            .filter(|s| s.team_id == team.id)
            .map(|s| s.name.as_str())
            .collect();
        let members: Vec<&str> = org
            .employees
            .iter()
            .filter(|e| e.team_id == team.id)
            .map(|e| e.name.as_str())
            .collect();
        let body = format!(
            "Welcome to the {name} team ({desc}). The team owns {services}. People: {people}. \
             Rituals: sprint planning every other Monday, daily stand-up at 10:00, retro at the end of each sprint. \
             On-call rotates weekly among the engineers; shifts start Monday 09:00 UTC. \
             First week: get access to the repositories and dashboards, pair with a teammate on a small change, \
             and ship it to production through the deploy pipeline.",
            name = team.name,
            desc = team.description.to_lowercase(),
            services = list(&services),
            people = members.join(", "),
        );
        let created_at = early(rng);
        push(
            org,
            "onboarding",
            format!("Onboarding: {} team", team.name),
            body,
            Some(team.id),
            None,
            team.manager_id,
            None,
            created_at,
        );
    }
    for s in org.services.clone() {
        let team = org.team(s.team_id).name.clone();
        let owner = org.employee(s.owner_id).name.clone();
        let deps: Vec<String> = org
            .service_dependencies
            .iter()
            .filter(|d| d.service_id == s.id)
            .map(|d| org.service(d.depends_on_id).name.clone())
            .collect();
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        let runbook = format!(
            "Runbook for {name}, owned by the {team} team (contact: {owner}). {desc}. \
             Alerts: error rate above 2% for 5 minutes, p99 latency above 800 ms, pod restarts. \
             First steps: check the {name} dashboard, compare with the last production deployment, \
             and roll back through the deploy pipeline if the deployment is the cause. \
             Dependencies to check: {deps}. Escalate to the {team} on-call, then to {owner}.",
            name = s.name,
            desc = s.description,
            deps = list(&deps),
        );
        let created_at = early(rng);
        push(
            org,
            "runbook",
            format!("Runbook: {}", s.name),
            runbook,
            Some(s.team_id),
            Some(s.id),
            s.owner_id,
            None,
            created_at,
        );
        let design = format!(
            "Design of {name}. {desc}. Written in {lang} with {stack}; a {tier} service owned by the {team} team. \
             It depends on {deps}. Deployments go to staging first, then production; \
             every change ships behind a feature flag and is observable through metrics and traces.",
            name = s.name,
            desc = s.description,
            lang = s.language,
            stack = list(&s.stack.iter().map(String::as_str).collect::<Vec<_>>()),
            tier = s.tier,
            deps = list(&deps),
        );
        let created_at = early(rng);
        push(
            org,
            "design_doc",
            format!("Design: {} architecture", s.name),
            design,
            Some(s.team_id),
            Some(s.id),
            s.owner_id,
            None,
            created_at,
        );
    }
    for p in org.projects.clone() {
        let body = format!(
            "Design doc for {name}. Goal: {desc}. Lead: {lead}. Planned from {start} to {due}; \
             milestones are tracked as tickets linked to the project.",
            name = p.name,
            desc = p.description.to_lowercase(),
            lead = org.employee(p.lead_id).name,
            start = p.start_date,
            due = p.due_date,
        );
        let created_at = history_start().max(super::at_midnight(p.start_date) - Duration::days(7));
        push(
            org,
            "design_doc",
            format!("Design: {}", p.name),
            body,
            Some(p.team_id),
            None,
            p.lead_id,
            None,
            created_at,
        );
    }
    for i in org.incidents.clone() {
        let (Some(resolved), true) = (i.resolved_at, i.severity != "SEV3") else {
            continue;
        };
        let s = org.service(i.service_id).clone();
        let cause = match i.deployment_id {
            Some(d) => {
                let dep = &org.deployments[(d - 1) as usize];
                format!(
                    "production deployment #{d} of {}, finished {}, shipped a change that",
                    s.name,
                    dep.finished_at.format("%Y-%m-%d %H:%M UTC")
                )
            }
            None => "an infrastructure change outside the deploy pipeline".into(),
        };
        let minutes = (resolved - i.opened_at).num_minutes();
        let body = format!(
            "Postmortem of incident #{id} ({sev}) on {svc}: {title}. Opened {opened}, resolved after {minutes} minutes. \
             Root cause: {cause} was not covered by tests; the rollback restored service. \
             What went well: alerts fired within minutes. What went wrong: the change reached production without a canary. \
             Action items: add a canary stage, add an alert on the failing path, update the {svc} runbook.",
            id = i.id,
            sev = i.severity,
            svc = s.name,
            title = i.title,
            opened = i.opened_at.format("%Y-%m-%d %H:%M UTC"),
        );
        let created_at = (resolved + Duration::days(2)).min(as_of() - Duration::hours(1));
        push(
            org,
            "postmortem",
            format!("Postmortem: {}", i.title),
            body,
            Some(s.team_id),
            Some(s.id),
            s.owner_id,
            Some(i.id),
            created_at,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn push(
    org: &mut Org,
    kind: &str,
    title: String,
    body: String,
    team_id: Option<i64>,
    service_id: Option<i64>,
    author_id: i64,
    incident_id: Option<i64>,
    created_at: chrono::DateTime<chrono::Utc>,
) {
    org.documents.push(Document {
        id: org.documents.len() as i64 + 1,
        kind: kind.into(),
        title,
        body,
        team_id,
        service_id,
        author_id,
        incident_id,
        created_at,
    });
}

fn list(items: &[&str]) -> String {
    match items {
        [] => "nothing else".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
