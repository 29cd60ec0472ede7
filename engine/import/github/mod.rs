//! The second source: GitHub's REST API, for what git does not know — pull requests as
//! GitHub has them (opened, merged, closed), their reviews and pending review requests,
//! deployments and their statuses (or workflow runs named like a deployment), issues
//! labelled as incidents, and releases. `map` turns them into the dataset's rows beside
//! git's.
//!
//! What was read is kept per repository in `DATA_DIR/import/<name>.github.json`, saved
//! after every page, so a run stopped halfway (a rate limit too long to wait, an error)
//! resumes where it stopped: issues and pull requests by the `since` cursor of GitHub's
//! issues listing (oldest update first), the newest-first listings (deployments, workflow
//! runs, releases) by the next page's URL until a first full pass is done, then only up to
//! the first page holding something already known. Every URL's ETag is kept and sent
//! back, so what has not changed is answered 304 and not read again.

mod client;
pub mod map;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use client::Traffic;
use client::{Client, Page};

use super::config::Github;
use super::{Progress, cache};

/// A pull request as GitHub has it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pull {
    pub number: i64,
    pub title: String,
    /// The author's login.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub reviews: Vec<Review>,
    /// Logins asked to review who have not yet (open pull requests only).
    pub requested: Vec<String>,
}

/// One submitted review.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Review {
    pub login: String,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED.
    pub state: String,
    pub submitted_at: DateTime<Utc>,
}

/// An issue with the incident label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Incident {
    pub number: i64,
    pub title: String,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A deployment, or a workflow run counted as one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    pub id: i64,
    pub sha: String,
    /// The environment as GitHub names it (a workflow run's: its workflow's name).
    pub environment: String,
    pub workflow: bool,
    pub created_at: DateTime<Utc>,
    /// success or failure once finished (None: not yet, read again next time; a workflow
    /// run cancelled or skipped is `other`).
    pub outcome: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A published release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Release {
    pub id: i64,
    pub tag: String,
    pub name: String,
    pub body: String,
    pub author: String,
    pub published_at: DateTime<Utc>,
}

/// Where a newest-first listing stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Listing {
    /// A whole pass was read: from now on, only up to what is known.
    complete: bool,
    /// The next page of an unfinished first pass.
    resume: Option<String>,
}

/// What is kept of one repository's GitHub side.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RepoData {
    /// The issues listing's cursor: what was updated at or after it is still to be read.
    since: Option<String>,
    pub pulls: BTreeMap<i64, Pull>,
    pub incidents: BTreeMap<i64, Incident>,
    pub deployments: BTreeMap<i64, Deployment>,
    pub runs: BTreeMap<i64, Deployment>,
    pub releases: BTreeMap<i64, Release>,
    etags: BTreeMap<String, String>,
    listings: BTreeMap<String, Listing>,
}

/// What one repository's read did, for the summary.
#[derive(Debug, Clone, Default)]
pub struct GithubRead {
    pub repo: String,
    pub traffic: Traffic,
    /// Issues and pull requests read (updated since the last run).
    pub items: usize,
}

/// Reads `owner/name` (only what changed since the kept read) and returns all it knows.
pub async fn read(
    config: &Github,
    data_dir: &Path,
    repo: &str,
    name: &str,
    token: Option<String>,
    progress: &dyn Progress,
) -> anyhow::Result<(RepoData, GithubRead)> {
    let path = data_dir
        .join("import")
        .join(format!("{}.github.json", cache::file_name(name)));
    let data = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut r = Reader {
        client: Client::new(&config.api, token)?,
        config,
        repo: repo.to_string(),
        data,
        path,
        items: 0,
    };
    progress.phase(&format!("reading GitHub {repo}"), None);
    let done = r.everything(progress).await;
    progress.finish();
    done.map_err(|e| anyhow::anyhow!("GitHub {repo}: {e:#}"))?;
    let read = GithubRead {
        repo: repo.to_string(),
        traffic: r.client.traffic.clone(),
        items: r.items,
    };
    Ok((r.data, read))
}

struct Reader<'a> {
    client: Client,
    config: &'a Github,
    repo: String,
    data: RepoData,
    path: PathBuf,
    items: usize,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn login(v: &Value) -> String {
    v["login"].as_str().unwrap_or_default().to_string()
}

impl Reader<'_> {
    async fn everything(&mut self, progress: &dyn Progress) -> anyhow::Result<()> {
        self.issues(progress).await?;
        self.deployments().await?;
        if self.config.deploy_workflow.is_some() {
            self.workflow_runs().await?;
        }
        self.releases().await?;
        Ok(())
    }

    /// Writes what is known (a temporary file renamed, so a stop never leaves half a file).
    fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.path.parent().expect("a parent"))?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.data)?)?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// One page: its items (the body, or the body's `field`) and the next page's URL; None
    /// when GitHub says it has not changed since its ETag (sent when `conditional`).
    async fn page(
        &mut self,
        url: &str,
        field: Option<&str>,
    ) -> anyhow::Result<Option<(Vec<Value>, Option<String>)>> {
        let etag = self.data.etags.get(url).cloned();
        match self.client.get(url, etag.as_deref()).await? {
            Page::NotModified => Ok(None),
            Page::Body { body, etag, next } => {
                if let Some(e) = etag {
                    self.data.etags.insert(url.to_string(), e);
                }
                let items = match field {
                    Some(f) => body[f].clone(),
                    None => body,
                };
                Ok(Some((items.as_array().cloned().unwrap_or_default(), next)))
            }
        }
    }

    /// Every page of a small listing (a pull request's reviews); None when unchanged.
    async fn all_pages(&mut self, url: String) -> anyhow::Result<Option<Vec<Value>>> {
        let Some((mut items, mut next)) = self.page(&url, None).await? else {
            return Ok(None);
        };
        while let Some(u) = next {
            let (more, n) = self.page(&u, None).await?.unwrap_or_default();
            items.extend(more);
            next = n;
        }
        Ok(Some(items))
    }

    /// Issues and pull requests updated since the cursor, oldest update first: pull
    /// requests with their reviews, issues with the incident label as incidents.
    async fn issues(&mut self, progress: &dyn Progress) -> anyhow::Result<()> {
        let mut url = Some(self.client.url(&format!(
            "/repos/{}/issues?state=all&sort=updated&direction=asc&per_page=100{}",
            self.repo,
            self.data
                .since
                .as_ref()
                .map(|s| format!("&since={s}"))
                .unwrap_or_default()
        )));
        while let Some(u) = url.take() {
            let Some((items, next)) = self.page(&u, None).await? else {
                break;
            };
            for item in &items {
                self.issue(item).await?;
                self.items += 1;
                progress.set(self.items as u64);
            }
            if let Some(last) = items.last().and_then(|i| i["updated_at"].as_str()) {
                self.data.since = Some(last.to_string());
            }
            self.save()?;
            url = next;
        }
        Ok(())
    }

    async fn issue(&mut self, item: &Value) -> anyhow::Result<()> {
        let Some(number) = item["number"].as_i64() else {
            return Ok(());
        };
        let (Some(created_at), title) = (
            time(&item["created_at"]),
            item["title"].as_str().unwrap_or_default().to_string(),
        ) else {
            return Ok(());
        };
        let closed_at = time(&item["closed_at"]);
        if item["pull_request"].is_object() {
            let reviews_url = self.client.url(&format!(
                "/repos/{}/pulls/{number}/reviews?per_page=100",
                self.repo
            ));
            let known = self.data.pulls.get(&number);
            let mut reviews = known.map(|p| p.reviews.clone()).unwrap_or_default();
            if let Some(items) = self.all_pages(reviews_url).await? {
                reviews = items
                    .iter()
                    .filter_map(|r| {
                        Some(Review {
                            login: login(&r["user"]),
                            state: r["state"].as_str()?.to_string(),
                            submitted_at: time(&r["submitted_at"])?,
                        })
                    })
                    .collect();
            }
            let mut requested = Vec::new();
            if item["state"] == "open" {
                let url = self.client.url(&format!(
                    "/repos/{}/pulls/{number}/requested_reviewers",
                    self.repo
                ));
                let etag = self.data.etags.get(&url).cloned();
                requested = match self.client.get(&url, etag.as_deref()).await? {
                    Page::NotModified => self
                        .data
                        .pulls
                        .get(&number)
                        .map(|p| p.requested.clone())
                        .unwrap_or_default(),
                    Page::Body { body, etag, .. } => {
                        if let Some(e) = etag {
                            self.data.etags.insert(url, e);
                        }
                        body["users"]
                            .as_array()
                            .map(|a| a.iter().map(login).collect())
                            .unwrap_or_default()
                    }
                };
            }
            self.data.pulls.insert(
                number,
                Pull {
                    number,
                    title,
                    author: login(&item["user"]),
                    created_at,
                    closed_at,
                    merged_at: time(&item["pull_request"]["merged_at"]),
                    reviews,
                    requested,
                },
            );
            return Ok(());
        }
        let labels: Vec<String> = item["labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if labels
            .iter()
            .any(|l| l.eq_ignore_ascii_case(&self.config.incident_label))
        {
            self.data.incidents.insert(
                number,
                Incident {
                    number,
                    title,
                    labels,
                    created_at,
                    closed_at,
                },
            );
        } else {
            // The label may have been taken off since.
            self.data.incidents.remove(&number);
        }
        Ok(())
    }

    /// Walks a newest-first listing: the whole of it until one pass is done (resuming at
    /// the kept page), then only up to the first page holding a known item. `take` keeps
    /// a page's items and says whether one was known already.
    async fn newest_first(
        &mut self,
        key: &str,
        first: String,
        field: Option<&str>,
        take: &mut dyn FnMut(&mut RepoData, &[Value]) -> bool,
    ) -> anyhow::Result<()> {
        let listing = self.data.listings.get(key).cloned().unwrap_or_default();
        let mut url = Some(listing.resume.clone().unwrap_or(first));
        while let Some(u) = url.take() {
            let Some((items, next)) = self.page(&u, field).await? else {
                break;
            };
            let known = take(&mut self.data, &items);
            let l = self.data.listings.entry(key.to_string()).or_default();
            if !l.complete {
                l.resume = next.clone();
            }
            let stop = l.complete && known;
            self.save()?;
            if stop {
                break;
            }
            url = next;
        }
        let l = self.data.listings.entry(key.to_string()).or_default();
        l.complete = true;
        l.resume = None;
        self.save()
    }

    /// Deployments, then the statuses of those not finished when last read.
    async fn deployments(&mut self) -> anyhow::Result<()> {
        let first = self
            .client
            .url(&format!("/repos/{}/deployments?per_page=100", self.repo));
        self.newest_first("deployments", first, None, &mut |data, items| {
            let mut known = false;
            for d in items {
                let (Some(id), Some(created_at)) = (d["id"].as_i64(), time(&d["created_at"]))
                else {
                    continue;
                };
                known |= data.deployments.contains_key(&id);
                data.deployments.entry(id).or_insert(Deployment {
                    id,
                    sha: d["sha"].as_str().unwrap_or_default().to_string(),
                    environment: d["environment"].as_str().unwrap_or_default().to_string(),
                    workflow: false,
                    created_at,
                    outcome: None,
                    finished_at: None,
                });
            }
            known
        })
        .await?;
        let pending: Vec<i64> = self
            .data
            .deployments
            .values()
            .filter(|d| d.outcome.is_none())
            .map(|d| d.id)
            .collect();
        for id in pending {
            let url = self.client.url(&format!(
                "/repos/{}/deployments/{id}/statuses?per_page=100",
                self.repo
            ));
            let Some(statuses) = self.all_pages(url).await? else {
                continue;
            };
            // Newest first; the last success or failure decides (`inactive` only says a
            // later deployment replaced it).
            let last = statuses.iter().find_map(|s| {
                let outcome = match s["state"].as_str()? {
                    "success" => "success",
                    "failure" | "error" => "failure",
                    _ => return None,
                };
                Some((outcome, time(&s["created_at"])?))
            });
            if let (Some((outcome, at)), Some(d)) = (last, self.data.deployments.get_mut(&id)) {
                d.outcome = Some(outcome.to_string());
                d.finished_at = Some(at);
            }
            self.save()?;
        }
        Ok(())
    }

    /// Workflow runs whose name matches `deploy_workflow`; runs still going are read again
    /// by id next time.
    async fn workflow_runs(&mut self) -> anyhow::Result<()> {
        let pattern = self.config.deploy_workflow.clone().expect("checked");
        let first = self
            .client
            .url(&format!("/repos/{}/actions/runs?per_page=100", self.repo));
        let mut take = |data: &mut RepoData, items: &[Value]| {
            let mut known = false;
            for r in items {
                let name = r["name"].as_str().unwrap_or_default();
                let Some(id) = r["id"].as_i64() else { continue };
                if !pattern.matches(name) {
                    continue;
                }
                known |= data.runs.get(&id).is_some_and(|d| d.outcome.is_some());
                if let Some(run) = run(r) {
                    data.runs.insert(id, run);
                }
            }
            known
        };
        self.newest_first("runs", first, Some("workflow_runs"), &mut take)
            .await?;
        let going: Vec<i64> = self
            .data
            .runs
            .values()
            .filter(|d| d.outcome.is_none())
            .map(|d| d.id)
            .collect();
        for id in going {
            let url = self
                .client
                .url(&format!("/repos/{}/actions/runs/{id}", self.repo));
            let etag = self.data.etags.get(&url).cloned();
            if let Page::Body { body, etag, .. } = self.client.get(&url, etag.as_deref()).await? {
                if let Some(e) = etag {
                    self.data.etags.insert(url, e);
                }
                if let Some(r) = run(&body) {
                    self.data.runs.insert(id, r);
                }
                self.save()?;
            }
        }
        Ok(())
    }

    async fn releases(&mut self) -> anyhow::Result<()> {
        let first = self
            .client
            .url(&format!("/repos/{}/releases?per_page=100", self.repo));
        self.newest_first("releases", first, None, &mut |data, items| {
            let mut known = false;
            for r in items {
                let (Some(id), Some(published_at)) = (r["id"].as_i64(), time(&r["published_at"]))
                else {
                    continue; // a draft
                };
                known |= data.releases.contains_key(&id);
                let tag = r["tag_name"].as_str().unwrap_or_default().to_string();
                data.releases.insert(
                    id,
                    Release {
                        id,
                        name: r["name"]
                            .as_str()
                            .filter(|n| !n.is_empty())
                            .unwrap_or(&tag)
                            .to_string(),
                        tag,
                        body: r["body"].as_str().unwrap_or_default().to_string(),
                        author: login(&r["author"]),
                        published_at,
                    },
                );
            }
            known
        })
        .await
    }
}

/// A workflow run as a deployment to production.
fn run(r: &Value) -> Option<Deployment> {
    let outcome = match (r["status"].as_str()?, r["conclusion"].as_str()) {
        ("completed", Some("success")) => Some("success"),
        ("completed", Some("failure" | "timed_out" | "startup_failure")) => Some("failure"),
        ("completed", _) => Some("other"),
        _ => None,
    };
    Some(Deployment {
        id: r["id"].as_i64()?,
        sha: r["head_sha"].as_str().unwrap_or_default().to_string(),
        environment: r["name"].as_str().unwrap_or_default().to_string(),
        workflow: true,
        created_at: time(&r["run_started_at"]).or_else(|| time(&r["created_at"]))?,
        outcome: outcome.map(str::to_string),
        finished_at: outcome.and_then(|_| time(&r["updated_at"])),
    })
}
