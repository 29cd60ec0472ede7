//! GitHub's records as the dataset's rows, defined as Apache DevLake defines them so that
//! DORA works on them unchanged (docs/DATA.md, "From GitHub to the tables"):
//!
//! - a deployment is production when its environment matches `github.production` (a
//!   workflow run matching `deploy_workflow` always is); its outcome is its last success
//!   or failure status (`error` is a failure); unfinished ones wait for the next import;
//! - a deployment ships the commits reachable from its commit and not from an earlier
//!   successful production deployment of the repository (DevLake's commit diff; the first
//!   one has nothing to compare with, so it ships nothing and only sets the baseline), and
//!   a pull request is shipped by the deployment that shipped its merging commit;
//! - an incident is caused by the repository's last successful production deployment
//!   finished before the incident was opened (DevLake's `ConnectIncidentToDeployment`).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{Deployment as GhDeployment, RepoData};
use crate::dataset::org::{Deployment, Document, Incident, Review};
use crate::dataset::{Org, PullRequest};
use crate::import::config::Github;
use crate::import::git::{RawCommit, Signature};

/// A GitHub account as an identity: its login as the name, its no-reply address as the
/// e-mail, so that it joins the git identities of the same person (docs/DATA.md,
/// "Identities").
pub fn signature(login: &str) -> Signature {
    Signature {
        name: login.to_string(),
        email: format!("{login}@users.noreply.github.com"),
    }
}

/// Every login the data names.
pub fn logins(data: &RepoData) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in data.pulls.values() {
        out.insert(p.author.clone());
        out.extend(p.reviews.iter().map(|r| r.login.clone()));
        out.extend(p.requested.iter().cloned());
    }
    out.extend(data.releases.values().map(|r| r.author.clone()));
    out.remove("");
    out
}

/// The newest instant the data knows of.
pub fn newest(data: &RepoData) -> Option<DateTime<Utc>> {
    let pulls = data.pulls.values().flat_map(|p| {
        [Some(p.created_at), p.closed_at, p.merged_at]
            .into_iter()
            .chain(p.reviews.iter().map(|r| Some(r.submitted_at)))
    });
    let incidents = data
        .incidents
        .values()
        .flat_map(|i| [Some(i.created_at), i.closed_at]);
    let deployments = data
        .deployments
        .values()
        .chain(data.runs.values())
        .map(|d| d.finished_at);
    let releases = data.releases.values().map(|r| Some(r.published_at));
    pulls
        .chain(incidents)
        .chain(deployments)
        .chain(releases)
        .flatten()
        .max()
}

/// One repository's GitHub side, with what the build knows of it.
pub struct Side<'a> {
    pub data: &'a RepoData,
    /// The offset of its pull request ids (`number + offset`).
    pub pr_offset: i64,
    /// The repository's commits by sha (bots' included: the history is one).
    pub commits: HashMap<&'a str, &'a RawCommit>,
    /// The service its deployments, incidents and releases belong to.
    pub service_id: i64,
    /// The merging commit of each pull request recovered from git, by id.
    pub merges: HashMap<i64, String>,
}

/// Counts for the summary.
#[derive(Debug, Default, Clone)]
pub struct Added {
    pub pull_requests: usize,
    pub reviews: usize,
    pub deployments: usize,
    pub incidents: usize,
    pub releases: usize,
}

/// Adds the GitHub rows to `org` (pull requests merged with those git recovered) and
/// returns the production deployment that shipped each commit.
pub fn apply(
    org: &mut Org,
    config: &Github,
    sides: &[Side<'_>],
    person: &dyn Fn(&str) -> Option<i64>,
) -> (HashMap<String, i64>, Added) {
    let mut added = Added::default();
    pull_requests(org, sides, person, &mut added);

    // Deployments of every repository, in time order, then ids.
    let mut all: Vec<(usize, &GhDeployment, bool)> = Vec::new();
    for (s, side) in sides.iter().enumerate() {
        for d in side
            .data
            .deployments
            .values()
            .chain(side.data.runs.values())
        {
            if matches!(d.outcome.as_deref(), Some("success" | "failure")) {
                let production = d.workflow || config.production.matches(&d.environment);
                all.push((s, d, production));
            }
        }
    }
    all.sort_by_key(|(s, d, _)| (d.finished_at, *s, d.workflow, d.id));
    let mut shipped: HashMap<String, i64> = HashMap::new();
    // Per repository: commits already shipped, and successful production deployments.
    let mut done: Vec<HashSet<&str>> = vec![HashSet::new(); sides.len()];
    let mut prod: Vec<Vec<(DateTime<Utc>, i64)>> = vec![Vec::new(); sides.len()];
    for (s, d, production) in all {
        let id = org.deployments.len() as i64 + 1;
        let finished_at = d.finished_at.expect("finished");
        let success = d.outcome.as_deref() == Some("success");
        org.deployments.push(Deployment {
            id,
            service_id: sides[s].service_id,
            environment: if production { "production" } else { "staging" }.into(),
            status: if success { "success" } else { "failure" }.into(),
            started_at: d.created_at.min(finished_at),
            finished_at,
        });
        if production && success {
            let baseline = prod[s].is_empty();
            prod[s].push((finished_at, id));
            for sha in ship(&sides[s].commits, &d.sha, &mut done[s]) {
                if !baseline {
                    shipped.insert(sha.to_string(), id);
                }
            }
        }
    }
    added.deployments = org.deployments.len();
    for side in sides {
        for pr in org.pull_requests.iter_mut() {
            if let Some(sha) = side.merges.get(&pr.id) {
                pr.deployment_id = shipped.get(sha).copied();
            }
        }
    }

    // Incidents: caused by the last successful production deployment finished before.
    let mut incidents: Vec<(usize, &super::Incident)> = sides
        .iter()
        .enumerate()
        .flat_map(|(s, side)| side.data.incidents.values().map(move |i| (s, i)))
        .collect();
    incidents.sort_by_key(|(s, i)| (i.created_at, *s, i.number));
    for (s, i) in incidents {
        let cause = prod[s]
            .iter()
            .filter(|(f, _)| *f < i.created_at)
            .max_by_key(|(f, id)| (*f, *id))
            .map(|(_, id)| *id);
        org.incidents.push(Incident {
            id: org.incidents.len() as i64 + 1,
            title: i.title.clone(),
            severity: severity(&i.labels),
            service_id: cause
                .map(|d| org.deployments[(d - 1) as usize].service_id)
                .unwrap_or(sides[s].service_id),
            deployment_id: cause,
            opened_at: i.created_at,
            resolved_at: i.closed_at,
        });
    }
    added.incidents = org.incidents.len();

    // Releases: their notes, searchable as documents.
    for side in sides {
        for r in side.data.releases.values() {
            // A bot's release is the service owner's.
            let author_id =
                person(&r.author).unwrap_or(org.services[(side.service_id - 1) as usize].owner_id);
            org.documents.push(Document {
                id: org.documents.len() as i64 + 1,
                kind: "release_notes".into(),
                title: format!(
                    "{} {}",
                    org.services[(side.service_id - 1) as usize].name,
                    r.name
                ),
                body: r.body.clone(),
                team_id: None,
                service_id: Some(side.service_id),
                author_id,
                incident_id: None,
                created_at: r.published_at,
            });
            added.releases += 1;
        }
    }
    (shipped, added)
}

/// GitHub's pull requests: those git recovered get GitHub's title, author and opening
/// time; the others (open, closed unmerged, merged outside the branch read) are added.
/// Then their reviews: one row per reviewer, the first review's time, the last verdict;
/// reviewers still asked on open pull requests are pending.
fn pull_requests(
    org: &mut Org,
    sides: &[Side<'_>],
    person: &dyn Fn(&str) -> Option<i64>,
    added: &mut Added,
) {
    let mut index: HashMap<i64, usize> = org
        .pull_requests
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id, i))
        .collect();
    let mut reviews = Vec::new();
    for side in sides {
        for p in side.data.pulls.values() {
            let id = p.number + side.pr_offset;
            let Some(author_id) = person(&p.author) else {
                continue; // a bot's or an excluded person's
            };
            let row = match index.get(&id) {
                Some(&i) => &mut org.pull_requests[i],
                None => {
                    index.insert(id, org.pull_requests.len());
                    org.pull_requests.push(PullRequest {
                        id,
                        title: String::new(),
                        author_id,
                        service_id: side.service_id,
                        state: match (p.merged_at, p.closed_at) {
                            (Some(_), _) => "merged",
                            (None, Some(_)) => "closed",
                            _ => "open",
                        }
                        .into(),
                        first_commit_at: p.created_at,
                        opened_at: p.created_at,
                        merged_at: p.merged_at,
                        deployment_id: None,
                    });
                    added.pull_requests += 1;
                    org.pull_requests.last_mut().expect("pushed")
                }
            };
            row.title = p.title.clone();
            row.author_id = author_id;
            row.opened_at = p.created_at.min(row.merged_at.unwrap_or(p.created_at));
            let mut by_reviewer: Vec<(i64, DateTime<Utc>, &str)> = Vec::new();
            for r in &p.reviews {
                let Some(reviewer) = person(&r.login).filter(|&x| x != author_id) else {
                    continue;
                };
                let verdict = match r.state.as_str() {
                    "APPROVED" => "approved",
                    "CHANGES_REQUESTED" => "changes_requested",
                    "COMMENTED" | "DISMISSED" => "commented",
                    _ => continue, // PENDING: a draft only its author sees
                };
                match by_reviewer.iter_mut().find(|(x, ..)| *x == reviewer) {
                    Some(e) => {
                        e.1 = e.1.min(r.submitted_at);
                        if verdict != "commented" {
                            e.2 = verdict;
                        }
                    }
                    None => by_reviewer.push((reviewer, r.submitted_at, verdict)),
                }
            }
            for (reviewer, at, verdict) in by_reviewer {
                reviews.push(Review {
                    id: 0,
                    pr_id: id,
                    reviewer_id: reviewer,
                    requested_at: p.created_at.min(at),
                    reviewed_at: Some(at),
                    verdict: verdict.into(),
                });
            }
            for login in &p.requested {
                if let Some(reviewer) = person(login).filter(|&x| x != author_id) {
                    reviews.push(Review {
                        id: 0,
                        pr_id: id,
                        reviewer_id: reviewer,
                        requested_at: p.created_at,
                        reviewed_at: None,
                        verdict: "pending".into(),
                    });
                }
            }
        }
    }
    org.pull_requests.sort_by_key(|p| p.id);
    reviews.sort_by_key(|r| (r.requested_at, r.pr_id, r.reviewer_id));
    for (i, r) in reviews.iter_mut().enumerate() {
        r.id = i as i64 + 1;
    }
    added.reviews = reviews.len();
    org.reviews = reviews;
}

/// The commits a deployment of `sha` ships: reachable from it and not shipped before.
fn ship<'a>(
    commits: &HashMap<&'a str, &'a RawCommit>,
    sha: &str,
    done: &mut HashSet<&'a str>,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut stack: Vec<&str> = commits
        .get_key_value(sha)
        .map(|(k, _)| *k)
        .into_iter()
        .collect();
    while let Some(s) = stack.pop() {
        let Some((&key, c)) = commits.get_key_value(s) else {
            continue;
        };
        if !done.insert(key) {
            continue;
        }
        out.push(key);
        stack.extend(c.parents.iter().map(String::as_str));
    }
    out
}

/// SEV1–SEV3 from a label such as `sev1`, `SEV-2` or `severity: 3`; SEV3 without one.
fn severity(labels: &[String]) -> String {
    labels
        .iter()
        .find_map(|l| {
            let l = l.to_lowercase();
            let rest = l
                .strip_prefix("severity")
                .or_else(|| l.strip_prefix("sev"))?;
            let digit = rest.trim_start_matches([' ', ':', '-', '_']);
            matches!(digit, "1" | "2" | "3").then(|| format!("SEV{digit}"))
        })
        .unwrap_or_else(|| "SEV3".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_come_from_labels() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(severity(&l(&["incident", "SEV-1"])), "SEV1");
        assert_eq!(severity(&l(&["severity: 2"])), "SEV2");
        assert_eq!(severity(&l(&["incident"])), "SEV3");
        assert_eq!(severity(&l(&["sev9"])), "SEV3");
    }
}
