//! Bring your own organisation: real history from local git clones, and people from a
//! roster, turned into the same dataset the demo generator produces (`dataset::Org`), then
//! loaded into every configured store like `eng-intel seed` does — so tools, DORA,
//! pipelines and every backend work on it unchanged.
//!
//! The phases: `config` reads import.yaml (checked with `file:line` findings); `git`
//! streams `git log` of each clone, and `cache` keeps what was read so the next import
//! reads only new commits; `identity` merges identities into people and sets bots apart;
//! `roster` adds teams, managers and titles; `services` maps paths to services; `skills`
//! and `pulls` derive skills and pull requests, `collab` who worked with whom
//! (co-authored commits, files changed together); `github` reads GitHub's REST API (pull
//! requests, reviews, deployments, incidents, releases) for the repositories that name
//! one; `build` assembles the `Org`.

mod build;
mod cache;
mod collab;
pub mod config;
mod git;
mod github;
mod glob;
mod identity;
mod pulls;
mod roster;
mod services;
mod skills;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub use build::BuildStats;
pub use config::{ImportConfig, load as load_config};

use crate::core::Report;
use crate::dataset::{self, Org};
use crate::settings::Settings;

/// What the import shows while it works: one phase at a time, with a total when known.
pub trait Progress: Sync {
    fn phase(&self, name: &str, total: Option<u64>);
    fn set(&self, done: u64);
    fn finish(&self);
}

/// No progress output (tests, scripts).
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &str, _: Option<u64>) {}
    fn set(&self, _: u64) {}
    fn finish(&self) {}
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Read every repository's history again, ignoring what was kept.
    pub full: bool,
    /// Load the stores even if they already hold this import.
    pub force: bool,
    /// GitHub's token (`GITHUB_TOKEN`); without one, GitHub allows 60 requests an hour.
    pub github_token: Option<String>,
}

/// One repository's read.
#[derive(Debug, Clone)]
pub struct RepoRead {
    pub name: String,
    pub head: String,
    /// Commits read by this run (only the new ones when incremental).
    pub new: usize,
    /// Commits kept in all, this run's included.
    pub total: usize,
    /// Whether the whole history was read (first run, `--full`, or rewritten history).
    pub from_scratch: bool,
    pub took: Duration,
}

/// What an import did.
#[derive(Debug)]
pub struct Summary {
    pub repos: Vec<RepoRead>,
    pub github: Vec<github::GithubRead>,
    pub stats: BuildStats,
    pub org: Org,
    /// Stores loaded, and those that already held this import (left alone).
    pub loaded: Vec<(String, Duration)>,
    pub held: Vec<String>,
    /// Roster warnings.
    pub warnings: Report,
    /// With a roster: the file listing the people of the history it does not match.
    pub unmatched_file: Option<std::path::PathBuf>,
    /// Building the organisation from the commits (after reading, before loading).
    pub built_in: Duration,
    pub took: Duration,
}

impl Summary {
    /// The summary as lines of text: read, merged, skipped, built, loaded.
    pub fn lines(&self) -> Vec<String> {
        let s = &self.stats;
        let o = &self.org;
        let mut out = Vec::new();
        for r in &self.repos {
            out.push(format!(
                "read {}: {} new commit(s){} up to {} ({} kept in all) in {:.1} s",
                r.name,
                r.new,
                if r.from_scratch {
                    ", whole history"
                } else {
                    ""
                },
                &r.head[..r.head.len().min(12)],
                r.total,
                r.took.as_secs_f64()
            ));
        }
        for g in &self.github {
            let t = &g.traffic;
            out.push(format!(
                "read GitHub {}: {} issue(s) and pull request(s) updated, {} request(s), {} unchanged (304){}",
                g.repo,
                g.items,
                t.requests,
                t.not_modified,
                if t.rate_limited > 0 {
                    format!(
                        ", rate-limited {} time(s), waited {:.0} s",
                        t.rate_limited,
                        t.waited.as_secs_f64()
                    )
                } else {
                    String::new()
                }
            ));
        }
        let pairs: Vec<String> = s
            .co_authors
            .iter()
            .take(3)
            .map(|(a, b, n)| format!("{a} & {b} ({n})"))
            .collect();
        out.push(format!(
            "merged: {} identities into {} people ({} merged into another); {} commits co-authored{}",
            s.identities,
            o.employees.len() - s.roster_only,
            s.merged_identities,
            s.co_authored_commits,
            if pairs.is_empty() {
                String::new()
            } else {
                format!(", most together: {}", pairs.join(", "))
            }
        ));
        out.push(format!(
            "skipped: {} commits by {} bot(s){}, {} by excluded people, {} seen in another repository",
            s.bot_commits,
            s.bots.len(),
            if s.bots.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.bots.join(", "))
            },
            s.excluded_commits,
            s.duplicates
        ));
        if !s.unmatched.is_empty() || s.roster_only > 0 {
            let shown: Vec<&str> = s.unmatched.iter().take(10).map(String::as_str).collect();
            out.push(format!(
                "roster: {} people in history but not in the roster{}{}; {} roster people without commits",
                s.unmatched.len(),
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({}{})",
                        shown.join(", "),
                        if s.unmatched.len() > shown.len() { ", …" } else { "" }
                    )
                },
                self.unmatched_file
                    .as_ref()
                    .map(|f| format!(", all listed in {}", f.display()))
                    .unwrap_or_default(),
                s.roster_only
            ));
        }
        out.push(format!(
            "built: {} employees, {} team(s), {} services, {} skills, {} commits, {} pull requests recovered; now = {}",
            o.employees.len(),
            o.teams.len(),
            o.services.len(),
            o.skills.len(),
            o.commits.len(),
            o.pull_requests.len(),
            o.as_of.map(crate::store::timestamp).unwrap_or_default()
        ));
        if !self.github.is_empty() {
            let g = &s.github;
            out.push(format!(
                "from GitHub: {} pull request(s) git did not know, {} review(s), {} deployment(s), {} incident(s), {} release(s)",
                g.pull_requests, g.reviews, g.deployments, g.incidents, g.releases
            ));
        }
        for (name, took) in &self.loaded {
            out.push(format!("  {name}: loaded in {:.1} s", took.as_secs_f64()));
        }
        for name in &self.held {
            out.push(format!("  {name}: already held this import, left as it is"));
        }
        out.push(format!("done in {:.1} s", self.took.as_secs_f64()));
        out
    }
}

/// Reads the configured sources (only what is new), builds the organisation and loads it
/// into every configured store (the SQLite file of `settings.data_dir` and each server).
pub async fn import(
    config: &ImportConfig,
    settings: &Settings,
    options: &Options,
    progress: &dyn Progress,
) -> anyhow::Result<Summary> {
    let t0 = Instant::now();
    let mut warnings = Report::default();
    let (people, roster_text) = match &config.roster {
        None => (Vec::new(), String::new()),
        Some(path) => {
            let mut report = Report::default();
            let people = roster::load(path, &mut report);
            if report.has_errors() || people.is_none() {
                anyhow::bail!("the roster has errors:\n{report}");
            }
            warnings = report;
            (
                people.unwrap_or_default(),
                std::fs::read_to_string(path).unwrap_or_default(),
            )
        }
    };
    let mut github = Vec::new();
    let mut github_reads = Vec::new();
    for repo in &config.repositories {
        let data = match &repo.github {
            None => None,
            Some(gh) => {
                let (data, read) = github::read(
                    &config.github,
                    &settings.data_dir,
                    gh,
                    &repo.name,
                    options.github_token.clone(),
                    progress,
                )
                .await?;
                github_reads.push(read);
                Some(data)
            }
        };
        github.push(data);
    }
    let (org, stats, repos, built_in) =
        read_and_build(config, settings, options, progress, &people, github)?;
    let mut org = org;
    org.seed = fingerprint(config, &roster_text, &repos, &org);
    let unmatched_file = match config.roster {
        Some(_) => Some(write_unmatched(&settings.data_dir, &stats)?),
        None => None,
    };

    let mut loaded = Vec::new();
    let mut held = Vec::new();
    for target in dataset::load_targets(settings).await? {
        if !options.force && target.holds(org.seed, org.employees.len()).await? {
            held.push(target.name().to_string());
            continue;
        }
        progress.phase(
            &format!("loading {}", target.name()),
            Some(target.load_size(&org)),
        );
        let t = Instant::now();
        let done = target.load(&org, &|n| progress.set(n)).await;
        progress.finish();
        done?;
        loaded.push((target.name().to_string(), t.elapsed()));
    }
    Ok(Summary {
        repos,
        github: github_reads,
        stats,
        org,
        loaded,
        held,
        warnings,
        unmatched_file,
        built_in,
        took: t0.elapsed(),
    })
}

/// Writes `DATA_DIR/import/unmatched.csv`: the people of the history the roster does not
/// list (name, e-mails, commits), most commits first, to add to the roster or to
/// `identities.people`. Kept on this machine, like everything the import reads.
fn write_unmatched(
    data_dir: &std::path::Path,
    stats: &BuildStats,
) -> anyhow::Result<std::path::PathBuf> {
    let path = data_dir.join("import").join("unmatched.csv");
    std::fs::create_dir_all(path.parent().expect("a parent"))?;
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut text = String::from("name,emails,commits\n");
    for (name, emails, n) in &stats.unmatched_report {
        text.push_str(&format!(
            "{},{},{n}\n",
            quote(name),
            quote(&emails.join(";"))
        ));
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Reads each repository (incrementally) and builds the organisation.
fn read_and_build(
    config: &ImportConfig,
    settings: &Settings,
    options: &Options,
    progress: &dyn Progress,
    people: &[roster::RosterPerson],
    github: Vec<Option<github::RepoData>>,
) -> anyhow::Result<(Org, BuildStats, Vec<RepoRead>, Duration)> {
    let cache = cache::Cache::new(&settings.data_dir);
    let mut inputs = Vec::new();
    let mut reads = Vec::new();
    for (repo, github) in config.repositories.iter().zip(github) {
        let t = Instant::now();
        let head = git::resolve(&repo.path, &repo.branch)?;
        let path = std::fs::canonicalize(&repo.path)
            .unwrap_or(repo.path.clone())
            .display()
            .to_string();
        let mut state = cache.state(&repo.name).filter(|s| {
            !options.full
                && s.path == path
                && s.branch == repo.branch
                && git::is_ancestor(&repo.path, &s.head, &head)
        });
        // What was kept, unless it is not all there (a file deleted or cut short): then
        // the history is read again.
        let mut commits = match &state {
            Some(_) => cache.commits(&repo.name)?,
            None => Vec::new(),
        };
        if state.as_ref().is_some_and(|s| s.commits != commits.len()) {
            state = None;
            commits.clear();
        }
        let since = state.as_ref().map(|s| s.head.clone());
        let mut new = Vec::new();
        if since.as_deref() != Some(head.as_str()) {
            progress.phase(&format!("reading {}", repo.name), None);
            git::read_commits(&repo.path, &head, since.as_deref(), &mut |c| {
                new.push(c);
                if new.len() % 64 == 0 {
                    progress.set(new.len() as u64);
                }
            })?;
            git::map_co_authors(&repo.path, &mut new)?;
            progress.finish();
        }
        let read = new.len();
        cache.save(
            &repo.name,
            &new,
            state.is_none(),
            &cache::RepoState {
                path,
                branch: repo.branch.clone(),
                head: head.clone(),
                commits: commits.len() + new.len(),
            },
        )?;
        commits.extend(new);
        reads.push(RepoRead {
            name: repo.name.clone(),
            head,
            new: read,
            total: commits.len(),
            from_scratch: state.is_none(),
            took: t.elapsed(),
        });
        inputs.push(build::RepoInput {
            repo,
            services: services::ServiceMap::of(repo)?,
            commits,
            github,
        });
    }
    progress.phase("building the organisation", None);
    let t = Instant::now();
    let built = build::build(config, people, &inputs);
    let built_in = t.elapsed();
    progress.finish();
    let (org, stats) = built?;
    Ok((org, stats, reads, built_in))
}

/// A fingerprint of what an import is made of — the config, the roster, each
/// repository's head and what GitHub added — stored as the dataset's seed, so that a store
/// holding it is known.
fn fingerprint(config: &ImportConfig, roster: &str, repos: &[RepoRead], org: &Org) -> u64 {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(env!("CARGO_PKG_VERSION").as_bytes());
    eat(config.text.as_bytes());
    eat(roster.as_bytes());
    for r in repos {
        eat(r.name.as_bytes());
        eat(r.head.as_bytes());
    }
    // GitHub's rows change without a new commit (a review, a deployment, an incident).
    let counts = [
        org.pull_requests.len(),
        org.reviews.len(),
        org.deployments.len(),
        org.incidents.len(),
        org.documents.len(),
    ];
    eat(format!("{counts:?}").as_bytes());
    for d in &org.deployments {
        eat(format!("{}{}{}", d.id, d.status, d.finished_at).as_bytes());
    }
    for i in &org.incidents {
        eat(format!("{}{:?}", i.opened_at, i.resolved_at).as_bytes());
    }
    for r in &org.reviews {
        eat(format!(
            "{}{}{:?}{}",
            r.pr_id, r.reviewer_id, r.reviewed_at, r.verdict
        )
        .as_bytes());
    }
    for p in &org.pull_requests {
        eat(format!("{}{}{:?}{}", p.id, p.state, p.deployment_id, p.title).as_bytes());
    }
    // Within i64, as the stores keep it as text and some read it back as a signed number.
    h >> 1
}

/// Checks a roster file, findings into `report`; how many people it lists.
pub fn roster_people(path: &std::path::Path, report: &mut Report) -> usize {
    roster::load(path, report).map_or(0, |p| p.len())
}
