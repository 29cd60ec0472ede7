//! GitHub's side of an import, against a fake GitHub (support/fake_github.rs, real HTTP on
//! 127.0.0.1; the real GitHub is never contacted) holding pull requests, reviews,
//! deployments with their statuses, incident issues and releases written here for the
//! real axum history: the pull requests are the squash merges `git log` shows, the
//! deployments point at real commits. Expected facts — which commits each deployment
//! shipped (`git rev-list`), which deployment caused each incident, the DORA metrics — are
//! computed here from the fixtures and git, never from the importer's output.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use eng_intel::import::{self, Options, Quiet, Summary};
use serde_json::{Value, json};

use super::{GitCommit, bundle, clone_into, db, git, git_log, people};
use crate::support::fake_github::{FakeGithub, Refusal};
use crate::support::{Served, Vars};

const REPO: &str = "/repos/tokio-rs/axum";
const TOKEN: &str = "test-token";

fn t(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn botlike(c: &GitCommit) -> bool {
    let n = c.name.to_lowercase();
    c.is_bot()
        || c.email == "noreply@github.com"
        || ["dependabot", "renovate", "github-actions"]
            .iter()
            .any(|b| n.starts_with(b))
}

fn squash_number(subject: &str) -> Option<i64> {
    let s = subject.trim_end();
    let open = s.rfind("(#")?;
    s[open + 2..].strip_suffix(')')?.parse().ok()
}

/// A deployment of the fixture.
struct Dep {
    id: i64,
    sha: String,
    environment: &'static str,
    /// Statuses, oldest first.
    states: Vec<&'static str>,
    created: DateTime<Utc>,
    finished: DateTime<Utc>,
}

impl Dep {
    fn outcome(&self) -> Option<&'static str> {
        self.states.iter().rev().find_map(|s| match *s {
            "success" => Some("success"),
            "failure" | "error" => Some("failure"),
            _ => None,
        })
    }
    fn prod_success(&self) -> bool {
        self.environment == "production" && self.outcome() == Some("success")
    }
}

struct Inc {
    title: &'static str,
    labels: Vec<&'static str>,
    created: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
}

/// The fixtures, and what the test expects of them.
struct World {
    fake: FakeGithub,
    commits: Vec<GitCommit>,
    group: HashMap<(String, String), usize>,
    /// Squash pull requests served, oldest first: (number, commit).
    pulls: Vec<(i64, GitCommit)>,
    /// (pull number, reviewer's group, author's group) of the reviews served.
    reviews: Vec<(i64, usize, usize)>,
    deps: Vec<Dep>,
    incidents: Vec<Inc>,
    /// The issues listing in GitHub's order (oldest update first).
    issues: Vec<Value>,
}

fn login(group: usize) -> String {
    format!("gh-user-{group}")
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": 1000 + login.len(), "node_id": "U_kgDO", "type": "User", "site_admin": false})
}

fn world(repo: &Path) -> World {
    let commits = git_log(repo);
    let group = people(&commits);
    let g = |c: &GitCommit| group[&(c.name.clone(), c.email.clone())];
    let mut seen = BTreeSet::new();
    let mut pulls: Vec<(i64, GitCommit)> = commits
        .iter()
        .filter(|c| c.parents == 1 && !botlike(c))
        .filter_map(|c| Some((squash_number(&c.subject)?, c.clone())))
        .filter(|(n, _)| seen.insert(*n))
        .take(230)
        .collect();
    pulls.reverse();
    assert_eq!(
        pulls.len(),
        230,
        "the bundle has fewer squash merges than the test needs"
    );

    // The most active people review the newest 40 pull requests of others.
    let mut per_group: BTreeMap<usize, usize> = BTreeMap::new();
    for c in commits.iter().filter(|c| !botlike(c)) {
        *per_group.entry(g(c)).or_default() += 1;
    }
    let mut top: Vec<(usize, usize)> = per_group.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: Vec<usize> = top.into_iter().take(4).map(|(g, _)| g).collect();

    let fake = FakeGithub::default();
    let mut issues = Vec::new();
    let mut reviews = Vec::new();
    for (i, (n, c)) in pulls.iter().enumerate() {
        let created = c.at - Duration::hours(1);
        issues.push(json!({
            "url": format!("https://api.github.com{REPO}/issues/{n}"),
            "id": 5_000_000 + n, "node_id": "PR_kwDO", "number": n,
            "title": format!("{} [GitHub]", c.subject.rsplit_once(" (#").map_or(c.subject.as_str(), |(s, _)| s)),
            "user": user(&login(g(c))), "labels": [], "state": "closed", "locked": false,
            "assignee": null, "assignees": [], "milestone": null, "comments": 1,
            "created_at": t(created), "updated_at": t(c.committed + Duration::minutes(10)),
            "closed_at": t(c.committed), "author_association": "CONTRIBUTOR",
            "draft": false, "body": null,
            "pull_request": {
                "url": format!("https://api.github.com{REPO}/pulls/{n}"),
                "html_url": format!("https://github.com/tokio-rs/axum/pull/{n}"),
                "diff_url": format!("https://github.com/tokio-rs/axum/pull/{n}.diff"),
                "patch_url": format!("https://github.com/tokio-rs/axum/pull/{n}.patch"),
                "merged_at": t(c.committed)
            }
        }));
        let mut served = Vec::new();
        if i >= pulls.len() - 40 {
            let author = g(c);
            let reviewer = *top.iter().cycle().skip(i).find(|&&r| r != author).unwrap();
            let review = |id: i64, state: &str, at: DateTime<Utc>| {
                json!({"id": id, "node_id": "PRR_kwDO", "user": user(&login(reviewer)), "body": "",
                       "state": state, "html_url": format!("https://github.com/tokio-rs/axum/pull/{n}#pullrequestreview-{id}"),
                       "pull_request_url": format!("https://api.github.com{REPO}/pulls/{n}"),
                       "author_association": "MEMBER", "submitted_at": t(at), "commit_id": c.sha})
            };
            if i % 5 == 0 {
                served.push(review(
                    n * 10,
                    "CHANGES_REQUESTED",
                    created + Duration::hours(2),
                ));
                served.push(review(n * 10 + 1, "APPROVED", created + Duration::hours(3)));
            } else {
                served.push(review(n * 10, "APPROVED", created + Duration::hours(2)));
            }
            reviews.push((*n, reviewer, author));
        }
        fake.list(&format!("{REPO}/pulls/{n}/reviews"), served);
    }
    let newest = pulls.last().unwrap().1.committed;
    // Three open pull requests waiting for a review, one closed without merging.
    for (k, n) in (99_001..=99_004).enumerate() {
        let (author, reviewer) = (top[k % top.len()], top[(k + 1) % top.len()]);
        let open = n != 99_004;
        issues.push(json!({
            "id": 5_000_000 + n, "node_id": "PR_kwDO", "number": n, "title": format!("Work in progress {n}"),
            "user": user(&login(author)), "labels": [], "state": if open { "open" } else { "closed" },
            "created_at": t(newest + Duration::hours(k as i64 + 1)),
            "updated_at": t(newest + Duration::hours(k as i64 + 2)),
            "closed_at": if open { Value::Null } else { json!(t(newest + Duration::hours(k as i64 + 2))) },
            "pull_request": {"url": format!("https://api.github.com{REPO}/pulls/{n}"), "merged_at": null}
        }));
        fake.list(&format!("{REPO}/pulls/{n}/reviews"), vec![]);
        fake.object(
            &format!("{REPO}/pulls/{n}/requested_reviewers"),
            json!({"users": [user(&login(reviewer))], "teams": []}),
        );
    }

    // Deployments at real commits: production ones succeed or fail, one is staging, the
    // newest has not finished.
    let at = |k: usize| pulls[k].1.committed + Duration::hours(1);
    let dep = |id: i64, k: usize, environment, states: Vec<&'static str>| Dep {
        id,
        sha: pulls[k].1.sha.clone(),
        environment,
        states,
        created: at(k),
        finished: at(k) + Duration::minutes(12),
    };
    let deps = vec![
        dep(101, 150, "production", vec!["in_progress", "success"]),
        dep(
            102,
            165,
            "production",
            vec!["pending", "in_progress", "failure"],
        ),
        dep(103, 180, "production", vec!["success", "inactive"]),
        dep(104, 190, "staging", vec!["success"]),
        dep(105, 205, "production", vec!["queued", "success"]),
        dep(106, 225, "production", vec!["in_progress"]),
    ];
    let mut listed = Vec::new();
    for d in deps.iter().rev() {
        listed.push(json!({
            "url": format!("https://api.github.com{REPO}/deployments/{}", d.id), "id": d.id, "node_id": "DE_kwDO",
            "sha": d.sha, "ref": "main", "task": "deploy", "payload": {}, "original_environment": d.environment,
            "environment": d.environment, "description": null, "creator": user("deploy-robot[bot]"),
            "created_at": t(d.created), "updated_at": t(d.finished),
            "statuses_url": format!("https://api.github.com{REPO}/deployments/{}/statuses", d.id),
            "transient_environment": false, "production_environment": d.environment == "production"
        }));
        // The deciding status at `finished`; `inactive` (replaced later) a day after.
        let decides = d
            .states
            .iter()
            .rposition(|s| ["success", "failure", "error"].contains(s));
        let statuses: Vec<Value> = d
            .states
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| {
                let when = match decides {
                    Some(k) if i == k => d.finished,
                    Some(k) if i > k => d.finished + Duration::days(1),
                    _ => d.created + Duration::minutes(i as i64),
                };
                json!({"id": d.id * 10 + i as i64, "node_id": "DES_kwDO", "state": s, "creator": user("deploy-robot[bot]"),
                       "description": "", "environment": d.environment, "target_url": "", "log_url": "",
                       "created_at": t(when), "updated_at": t(when),
                       "deployment_url": format!("https://api.github.com{REPO}/deployments/{}", d.id),
                       "repository_url": format!("https://api.github.com{REPO}")})
            })
            .collect();
        fake.list(&format!("{REPO}/deployments/{}/statuses", d.id), statuses);
    }
    fake.list(&format!("{REPO}/deployments"), listed);

    let incidents = vec![
        Inc {
            title: "Router returns 500 for every request",
            labels: vec!["incident", "sev1"],
            created: deps[2].finished + Duration::hours(2),
            closed: Some(deps[2].finished + Duration::hours(7)),
        },
        Inc {
            title: "Latency doubled on the websocket path",
            labels: vec!["incident"],
            created: deps[4].finished + Duration::hours(3),
            closed: None,
        },
        Inc {
            title: "TLS certificate expired",
            labels: vec!["SEV-2", "incident"],
            created: deps[0].finished - Duration::days(1),
            closed: Some(deps[0].finished - Duration::hours(23)),
        },
    ];
    for (k, i) in incidents.iter().enumerate() {
        let n = 98_001 + k as i64;
        issues.push(json!({
            "id": 6_000_000 + n, "node_id": "I_kwDO", "number": n, "title": i.title, "user": user(&login(top[0])),
            "labels": i.labels.iter().map(|l| json!({"id": 1, "node_id": "LA_kwDO", "name": l, "color": "d73a4a", "default": false})).collect::<Vec<_>>(),
            "state": if i.closed.is_some() { "closed" } else { "open" },
            "created_at": t(i.created), "updated_at": t(i.closed.unwrap_or(i.created) + Duration::minutes(1)),
            "closed_at": i.closed.map(t), "body": "Customers see errors."
        }));
    }
    issues.push(json!({
        "id": 6_100_000, "number": 98_100, "title": "Typo in the docs", "user": user(&login(top[1])),
        "labels": [{"name": "bug"}], "state": "open",
        "created_at": t(newest), "updated_at": t(newest + Duration::minutes(3)), "closed_at": null
    }));
    issues.sort_by(|a, b| {
        (a["updated_at"].as_str(), a["number"].as_i64())
            .cmp(&(b["updated_at"].as_str(), b["number"].as_i64()))
    });
    fake.list(&format!("{REPO}/issues"), issues.clone());
    fake.list(
        &format!("{REPO}/releases"),
        vec![
            json!({"id": 2, "tag_name": "axum-v0.8.1", "name": "axum - v0.8.1", "draft": false, "prerelease": false,
                   "body": "- Fix the router's 500s (#1)", "author": user(&login(top[0])),
                   "created_at": t(deps[4].finished), "published_at": t(deps[4].finished)}),
            json!({"id": 1, "tag_name": "axum-v0.8.0", "name": "", "draft": false, "prerelease": false,
                   "body": "- Breaking: new path syntax", "author": user("release-plz[bot]"),
                   "created_at": t(deps[0].finished), "published_at": t(deps[0].finished)}),
            json!({"id": 3, "tag_name": "axum-v0.9.0", "name": "draft", "draft": true, "body": "", "author": user(&login(top[0])),
                   "created_at": t(newest), "published_at": null}),
        ],
    );
    World {
        fake,
        commits,
        group,
        pulls,
        reviews,
        deps,
        incidents,
        issues,
    }
}

fn config(dir: &Path, api: &Served) -> import::ImportConfig {
    super::config_for(
        dir,
        &format!(
            "    github: tokio-rs/axum\ngithub:\n  api: http://{}\n  incident_label: Incident\n",
            api.addr
        ),
    )
}

async fn run(config: &import::ImportConfig, data: &Path) -> anyhow::Result<Summary> {
    let options = Options {
        github_token: Some(TOKEN.into()),
        ..Default::default()
    };
    import::import(
        config,
        &Vars::new().data_dir(data).settings(),
        &options,
        &Quiet,
    )
    .await
}

/// The lower median, as DevLake takes it.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[(v.len() - 1) / 2])
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

#[tokio::test]
async fn github_pull_requests_reviews_deployments_and_incidents_make_dora_work() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = clone_into(&bundle, dir.path());
    let w = world(&repo);
    let served = w.fake.start().await;
    let config = config(dir.path(), &served);
    let data = dir.path().join("data");

    // A secondary rate limit on the issues' second page, a primary one on a deployment's
    // statuses: both waited out, the import carries on.
    w.fake.refuse(Refusal {
        matching: "page=2".into(),
        times: 1,
        status: 403,
        headers: vec![("retry-after", "1".into())],
        body: json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                     "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}),
    });
    w.fake.refuse(Refusal {
        matching: "/deployments/102/statuses".into(),
        times: 1,
        status: 429,
        headers: vec![
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", (Utc::now().timestamp() + 1).to_string()),
        ],
        body: json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
    });
    let first = run(&config, &data).await.unwrap();
    let seen = w.fake.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer test-token"))
    );
    let traffic = &first.github[0].traffic;
    assert_eq!(traffic.rate_limited, 2, "{:?}", first.lines());
    for (what, refused) in [("page=2", 403), ("/deployments/102/statuses", 429)] {
        let tries: Vec<_> = seen.iter().filter(|s| s.url.contains(what)).collect();
        assert_eq!(
            tries.iter().map(|s| s.status).collect::<Vec<_>>(),
            [refused, 200],
            "{what}"
        );
        assert!(
            tries[1].at - tries[0].at >= std::time::Duration::from_millis(950),
            "{what} was retried too soon"
        );
    }
    // The issues came in three pages, each asked by the previous one's Link.
    let issue_pages: Vec<&str> = seen
        .iter()
        .filter(|s| s.url.starts_with(&format!("{REPO}/issues")) && s.status == 200)
        .map(|s| s.url.as_str())
        .collect();
    assert_eq!(issue_pages.len(), 3, "{issue_pages:?}");
    assert!(issue_pages[2].contains("page=3"));

    let db = db(&data).await;
    let person_of = |group: usize| {
        let sha = w
            .commits
            .iter()
            .find(|c| !botlike(c) && w.group[&(c.name.clone(), c.email.clone())] == group)
            .unwrap()
            .sha
            .clone();
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT author FROM commits WHERE sha = ?")
                .bind(sha)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };

    // Pull requests: GitHub's titles on those git recovered, and the open and closed ones.
    for (n, _) in w.pulls.iter().step_by(37) {
        let title: String = sqlx::query_scalar("SELECT title FROM pull_requests WHERE id = ?")
            .bind(n)
            .fetch_one(&db)
            .await
            .unwrap();
        let served = w.issues.iter().find(|i| i["number"] == *n).unwrap();
        assert_eq!(title, served["title"].as_str().unwrap());
    }
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, COUNT(*) FROM pull_requests WHERE id > 99000 GROUP BY state ORDER BY state",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(states, [("closed".into(), 1), ("open".into(), 3)]);

    // Reviews: one row per reviewer, by the people the logins belong to.
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT pr_id, reviewer, author, verdict FROM pr_reviews WHERE verdict <> 'pending' ORDER BY pr_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut expected = Vec::new();
    for (n, reviewer, author) in &w.reviews {
        expected.push((
            *n,
            person_of(*reviewer).await,
            person_of(*author).await,
            "approved".to_string(),
        ));
    }
    expected.sort();
    assert_eq!(rows, expected);
    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pr_reviews WHERE verdict = 'pending' AND reviewed_at IS NULL",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(pending, 3);

    // Deployments: the finished ones, with the outcome of their last status.
    let deployments: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT environment, status, finished_at FROM deployments ORDER BY finished_at",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let finished: Vec<&Dep> = w.deps.iter().filter(|d| d.outcome().is_some()).collect();
    assert_eq!(
        deployments,
        finished
            .iter()
            .map(|d| (
                d.environment.to_string(),
                d.outcome().unwrap().to_string(),
                eng_intel::store::timestamp(d.finished)
            ))
            .collect::<Vec<_>>()
    );

    // Incidents: caused by the last successful production deployment finished before.
    let prod: Vec<&Dep> = w.deps.iter().filter(|d| d.prod_success()).collect();
    let cause = |i: &Inc| {
        prod.iter()
            .filter(|d| d.finished < i.created)
            .max_by_key(|d| d.finished)
            .copied()
    };
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT i.title, i.severity, d.finished_at, i.resolved_at FROM incidents i \
         LEFT JOIN deployments d ON d.id = i.deployment_id ORDER BY i.opened_at",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let mut by_time: Vec<&Inc> = w.incidents.iter().collect();
    by_time.sort_by_key(|i| i.created);
    let severity = |i: &Inc| {
        if i.labels.contains(&"sev1") {
            "SEV1"
        } else if i.labels.contains(&"SEV-2") {
            "SEV2"
        } else {
            "SEV3"
        }
    };
    assert_eq!(
        rows,
        by_time
            .iter()
            .map(|i| (
                i.title.to_string(),
                severity(i).to_string(),
                cause(i).map(|d| eng_intel::store::timestamp(d.finished)),
                i.closed.map(eng_intel::store::timestamp)
            ))
            .collect::<Vec<_>>()
    );
    let releases: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM documents WHERE kind = 'release_notes'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(releases, 2, "drafts are not releases");

    // DORA, from the fixtures: what each successful production deployment shipped is
    // `git rev-list` from it, minus what earlier ones shipped (the first one sets the
    // baseline); a pull request (docs/DATA.md: the commits ending in its number, merged by
    // the first of them, backports included) is shipped with its merging commit, and its
    // lead time runs from its first commit to the deployment's end.
    let mut recovered_prs: BTreeMap<i64, (DateTime<Utc>, String, DateTime<Utc>)> = BTreeMap::new();
    for c in w.commits.iter().filter(|c| c.parents == 1 && !botlike(c)) {
        if let Some(n) = squash_number(&c.subject) {
            let e = recovered_prs
                .entry(n)
                .or_insert((c.committed, c.sha.clone(), c.at));
            if c.committed < e.0 {
                (e.0, e.1) = (c.committed, c.sha.clone());
            }
            e.2 = e.2.min(c.at);
        }
    }
    let mut lead = Vec::new();
    for (k, d) in prod.iter().enumerate().skip(1) {
        let mut args = vec!["rev-list".to_string(), d.sha.clone()];
        args.extend(prod[..k].iter().map(|e| format!("^{}", e.sha)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let shipped: BTreeSet<String> = git(&repo, &args).lines().map(str::to_string).collect();
        for sha in &shipped {
            let c = w.commits.iter().find(|c| &c.sha == sha).unwrap();
            assert!(
                !(c.parents > 1 && c.subject.starts_with("Merge pull request")),
                "the fixture's deployments should ship squash merges only"
            );
        }
        for (_, merge, first) in recovered_prs.values() {
            if shipped.contains(merge) {
                lead.push(hours(d.finished - *first));
            }
        }
    }
    let caused: BTreeSet<i64> = w.incidents.iter().filter_map(cause).map(|d| d.id).collect();
    let recovered: Vec<f64> = w
        .incidents
        .iter()
        .filter_map(|i| Some(hours(i.closed? - cause(i)?.finished)))
        .collect();
    let days: BTreeSet<_> = prod.iter().map(|d| d.finished.date_naive()).collect();

    let tools = eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(&data).settings(), &|m| {
        panic!("the import was already loaded, yet: {m}")
    })
    .await
    .unwrap()
    .tools();
    let set = crate::support::config();
    let dora = tools
        .call(set.tool("dora_metrics").unwrap(), &json!({"days": 365}))
        .await
        .unwrap();
    assert_eq!(dora["deployments"], prod.len(), "{dora}");
    assert_eq!(dora["failed_deployments"], 1, "{dora}");
    assert_eq!(dora["deployment_frequency"]["deployment_days"], days.len());
    assert_eq!(dora["lead_time"]["changes"], lead.len(), "{dora}");
    assert!(lead.len() > 10, "the deployments ship real changes");
    let got = dora["lead_time"]["median_hours"].as_f64().unwrap();
    assert!((got - median(lead).unwrap()).abs() < 1e-6, "{dora}");
    assert_eq!(
        dora["change_failure_rate"]["failed"],
        caused.len(),
        "{dora}"
    );
    assert_eq!(dora["change_failure_rate"]["deployments"], prod.len());
    let got = dora["recovery_time"]["median_hours"].as_f64().unwrap();
    assert!((got - median(recovered).unwrap()).abs() < 1e-6, "{dora}");
    assert_eq!(dora["recovery_time"]["unresolved"], 1, "{dora}");

    // Collaboration: the reviews exchanged with the busiest reviewer, from the fixtures.
    let (_, busiest, _) = w.reviews[0];
    let mut exchanged: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (_, reviewer, author) in &w.reviews {
        if *reviewer == busiest {
            exchanged.entry(person_of(*author).await).or_default().0 += 1;
        } else if *author == busiest {
            exchanged.entry(person_of(*reviewer).await).or_default().1 += 1;
        }
    }
    let who = person_of(busiest).await;
    let got = tools
        .call(
            set.tool("collaborators").unwrap(),
            &json!({"person": who, "limit": 50}),
        )
        .await
        .unwrap();
    // Those who only wrote code with them are collaborators too; here only reviews count.
    let got: BTreeMap<String, (i64, i64)> = got
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reviews_together"].as_i64() > Some(0))
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                (
                    r["reviews_given"].as_i64().unwrap(),
                    r["reviews_received"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, exchanged, "collaborators of {who}");

    // Release notes are a kind document_search filters by (its schema lists it).
    let notes = tools
        .call(
            set.tool("document_search").unwrap(),
            &json!({"query": "router 500s", "kind": "release_notes"}),
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["release_notes"], "{notes}");

    // Again, nothing changed: listings and reviews answer 304, the unfinished deployment's
    // statuses are asked again (304 too), the issues resume at the cursor, and the store
    // already holds this import.
    w.fake.forget_seen();
    let second = run(&config, &data).await.unwrap();
    let seen = w.fake.seen();
    let status_of = |prefix: &str| {
        seen.iter()
            .filter(|s| s.url.starts_with(prefix))
            .map(|s| (s.status, s.if_none_match.is_some()))
            .collect::<Vec<_>>()
    };
    assert_eq!(status_of(&format!("{REPO}/deployments?")), [(304, true)]);
    assert_eq!(status_of(&format!("{REPO}/releases?")), [(304, true)]);
    assert_eq!(
        status_of(&format!("{REPO}/deployments/106/statuses")),
        [(304, true)]
    );
    assert!(
        status_of(&format!("{REPO}/deployments/10")).len() == 1,
        "finished deployments are not read again"
    );
    let last_update = w.issues.last().unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let issues: Vec<&str> = seen
        .iter()
        .filter(|s| s.url.starts_with(&format!("{REPO}/issues")))
        .map(|s| s.url.as_str())
        .collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(
        issues[0].contains(&format!("since={last_update}")),
        "{issues:?}"
    );
    assert!(
        seen.iter()
            .filter(|s| s.url.contains("/reviews"))
            .all(|s| s.status == 304)
    );
    assert!(
        second.loaded.is_empty() && second.held.len() == 1,
        "{:?}",
        second.lines()
    );
}

#[tokio::test]
async fn a_github_read_stopped_halfway_resumes_at_its_cursor() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = clone_into(&bundle, dir.path());
    let w = world(&repo);
    let served = w.fake.start().await;
    let config = config(dir.path(), &served);
    let data = dir.path().join("data");

    w.fake.refuse(Refusal {
        matching: "page=3".into(),
        times: usize::MAX,
        status: 502,
        headers: vec![],
        body: json!({"message": "Server Error"}),
    });
    let err = run(&config, &data).await.unwrap_err().to_string();
    assert!(err.contains("502"), "{err}");

    w.fake.clear_refusals();
    w.fake.forget_seen();
    let summary = run(&config, &data).await.unwrap();
    let first = w
        .fake
        .seen()
        .into_iter()
        .find(|s| s.url.contains("/issues"))
        .unwrap();
    // Two pages of 100 were kept: the read resumes at the last one's newest update.
    let cursor = w.issues[199]["updated_at"].as_str().unwrap();
    assert!(
        first.url.contains(&format!("since={cursor}")),
        "{}",
        first.url
    );
    assert!(
        summary.github[0].items <= w.issues.len() - 199 + 5,
        "{:?}",
        summary.lines()
    );
    let db = db(&data).await;
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pull_requests WHERE state = 'open'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(open, 3, "the pull requests of the third page are there");
    let reviews: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pr_reviews WHERE verdict = 'approved'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(reviews as usize, w.reviews.len());
}
