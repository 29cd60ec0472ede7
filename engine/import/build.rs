//! From commits, identities, services and the roster to an [`Org`]: the same dataset the
//! demo generator produces, so every tool and backend works on it unchanged. docs/DATA.md
//! ("Importing your own organisation") maps each table to where it comes from.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};

use super::collab;
use super::config::{ImportConfig, Repository};
use super::git::{RawCommit, Signature};
use super::github::{self, map as gh};
use super::glob;
use super::identity::{self, Identities, Who};
use super::pulls;
use super::roster::{self, RosterPerson};
use super::services::ServiceMap;
use super::skills;
use crate::dataset::org::{OncallShift, TimeOff};
use crate::dataset::{
    Collaboration, Commit, Employee, EmployeeSkill, Org, PullRequest, Service, ServiceDependency,
    Skill, Team,
};
use crate::understand::text::fold;

/// One repository's part of the input.
pub struct RepoInput<'a> {
    pub repo: &'a Repository,
    pub services: ServiceMap,
    pub commits: Vec<RawCommit>,
    /// What GitHub's API told of it, when it names a GitHub repository.
    pub github: Option<github::RepoData>,
}

/// What the build counted, for the summary.
#[derive(Debug, Default, Clone)]
pub struct BuildStats {
    /// Distinct commits read over all repositories.
    pub commits_read: usize,
    /// Commits in more than one repository, kept once.
    pub duplicates: usize,
    pub bot_commits: usize,
    pub excluded_commits: usize,
    /// Identities (name + e-mail) seen, bots and excluded aside.
    pub identities: usize,
    pub merged_identities: usize,
    pub bots: Vec<String>,
    /// Roster people with no commit; people of the history no roster entry matched
    /// (empty without a roster).
    pub roster_only: usize,
    pub unmatched: Vec<String>,
    /// The unmatched with their e-mails and commits, for the report file.
    pub unmatched_report: Vec<(String, Vec<String>, usize)>,
    pub co_authored_commits: usize,
    /// Pairs who wrote commits together (`Co-authored-by:`), with how many.
    pub co_authors: Vec<(String, String, usize)>,
    /// Rows GitHub's side added.
    pub github: gh::Added,
}

/// A commit kept, with what the build derived from it.
struct Kept<'a> {
    raw: &'a RawCommit,
    person: usize,
    co_people: Vec<usize>,
    /// The files it changed, excluded paths aside.
    files: Vec<&'a str>,
    /// Global service index.
    service: usize,
    additions: i64,
    deletions: i64,
    /// Skill names the commit touched, with their categories.
    skills: BTreeSet<(&'static str, &'static str)>,
    /// Skills of the files of the commit's service, with lines (a service's stack and
    /// main language come from its own files only).
    service_skills: Vec<(&'static str, &'static str, i64)>,
}

/// Builds the organisation. Err when nothing could be imported (no commit by a person).
pub fn build(
    config: &ImportConfig,
    roster: &[RosterPerson],
    repos: &[RepoInput<'_>],
) -> anyhow::Result<(Org, BuildStats)> {
    let mut stats = BuildStats::default();
    let all = distinct_commits(repos, &mut stats);
    let mut seen_ids: BTreeMap<Signature, usize> = BTreeMap::new();
    for (_, c) in &all {
        *seen_ids.entry(c.author.clone()).or_default() += 1;
        for co in &c.co_authors {
            seen_ids.entry(co.clone()).or_default();
        }
    }
    let mut links = Vec::new();
    for input in repos {
        let Some(data) = &input.github else { continue };
        for login in gh::logins(data) {
            seen_ids.entry(gh::signature(&login)).or_default();
        }
        // A squash merge's commit is written by the pull request's author.
        for c in input.commits.iter().filter(|c| c.parents.len() < 2) {
            if let Some(p) = pulls::squash_number(&c.subject).and_then(|n| data.pulls.get(&n))
                && !p.author.is_empty()
            {
                links.push((c.author.clone(), gh::signature(&p.author)));
            }
        }
    }
    let ids = identity::resolve(config, roster, &seen_ids, &links);
    stats.identities = seen_ids
        .keys()
        .filter(|s| matches!(ids.who(s), Who::Person(_)))
        .count();
    stats.merged_identities = ids.merged;
    stats.bots = ids.bots.iter().cloned().collect();
    stats.unmatched = ids.unmatched.clone();

    // Global service indices: each repository's services in order.
    let offsets: Vec<usize> = repos
        .iter()
        .scan(0, |acc, r| {
            let o = *acc;
            *acc += r.services.services.len();
            Some(o)
        })
        .collect();
    let mut kept: Vec<Kept> = Vec::new();
    for &(r, c) in &all {
        match ids.who(&c.author) {
            Who::Person(person) => kept.push(derive(
                config,
                &ids,
                c,
                person,
                &repos[r].services,
                offsets[r],
            )),
            Who::Bot => stats.bot_commits += 1,
            Who::Excluded => stats.excluded_commits += 1,
        }
    }
    let Some(newest) = kept.iter().map(|k| k.raw.committed_at).max() else {
        anyhow::bail!(
            "no commit by a person to import ({} read, {} by bots, {} excluded)",
            stats.commits_read,
            stats.bot_commits,
            stats.excluded_commits
        );
    };
    let newest = repos
        .iter()
        .filter_map(|r| r.github.as_ref().and_then(gh::newest))
        .fold(newest, DateTime::max);
    // "Now" for questions: the midnight after the newest commit (or GitHub event), stable
    // across runs.
    let as_of = (newest.date_naive() + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    let b = Builder {
        config,
        roster,
        repos,
        ids: &ids,
        kept: &kept,
        offsets: &offsets,
        as_of,
    };
    let mut org = Org {
        generator: Some(format!("eng-intel import {}", env!("CARGO_PKG_VERSION"))),
        as_of: Some(as_of),
        ..Default::default()
    };
    let (emp_of, team_id) = b.people_and_teams(&mut org, &mut stats);
    org.collaborations = b.collaborations(&emp_of);
    co_authorship(&org, &kept, &mut stats);
    let (service_id, skill_ids) = b.services(&mut org, &emp_of, &team_id);
    b.skills(&mut org, &skill_ids, &emp_of, &service_id);
    let (pr_of, merges) = b.pull_requests(&mut org, &all, &emp_of, &service_id);
    let (shipped, added) = b.github(&mut org, &emp_of, &service_id, merges);
    stats.github = added;
    for k in &kept {
        let Some(&sid) = service_id.get(&k.service) else {
            continue;
        };
        org.commits.push(Commit {
            sha: k.raw.sha.clone(),
            author_id: emp_of[k.person],
            pr_id: pr_of.get(k.raw.sha.as_str()).copied().unwrap_or(0),
            service_id: sid,
            authored_at: k.raw.authored_at,
            message: k.raw.subject.clone(),
            additions: k.additions,
            deletions: k.deletions,
            deployment_id: shipped.get(&k.raw.sha).copied(),
        });
    }
    Ok((org, stats))
}

/// Every commit once (a fork's shared history is one history), oldest first, so that ids
/// and ties do not depend on the order commits were read in.
fn distinct_commits<'a>(
    repos: &'a [RepoInput<'_>],
    stats: &mut BuildStats,
) -> Vec<(usize, &'a RawCommit)> {
    let mut seen_sha = HashSet::new();
    let mut all: Vec<(usize, &RawCommit)> = Vec::new();
    for (r, input) in repos.iter().enumerate() {
        for c in &input.commits {
            if seen_sha.insert(c.sha.as_str()) {
                all.push((r, c));
            } else {
                stats.duplicates += 1;
            }
        }
    }
    all.sort_by(|a, b| (a.1.authored_at, &a.1.sha).cmp(&(b.1.authored_at, &b.1.sha)));
    stats.commits_read = all.len();
    all
}

/// Commits written together, and the pairs who wrote them, most first.
fn co_authorship(org: &Org, kept: &[Kept], stats: &mut BuildStats) {
    stats.co_authored_commits = kept.iter().filter(|k| !k.co_people.is_empty()).count();
    let name = |id: i64| org.employee(id).name.clone();
    stats.co_authors = org
        .collaborations
        .iter()
        .filter(|c| c.kind == "co_authored")
        .map(|c| (name(c.a_id), name(c.b_id), c.weight as usize))
        .collect();
    stats
        .co_authors
        .sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
}

/// What every step of the build reads.
struct Builder<'a, 'c> {
    config: &'a ImportConfig,
    roster: &'a [RosterPerson],
    repos: &'a [RepoInput<'a>],
    ids: &'a Identities,
    kept: &'a [Kept<'c>],
    offsets: &'a [usize],
    as_of: DateTime<Utc>,
}

impl<'c> Builder<'_, 'c> {
    /// People → employees, ordered by name; teams from the roster, or the default team.
    /// Returns each person's employee id and each team's id.
    fn people_and_teams(
        &self,
        org: &mut Org,
        stats: &mut BuildStats,
    ) -> (Vec<i64>, HashMap<String, i64>) {
        let mut order: Vec<usize> = (0..self.ids.people.len()).collect();
        order.sort_by_key(|&p| (fold(&self.ids.people[p].name), p));
        let mut emp_of = vec![0i64; self.ids.people.len()];
        for (i, &p) in order.iter().enumerate() {
            emp_of[p] = i as i64 + 1;
        }
        let team_name = |p: usize| {
            self.ids.people[p]
                .roster
                .and_then(|k| self.roster[k].team.clone())
                .unwrap_or_else(|| self.config.default_team.clone())
        };
        let mut team_names: BTreeSet<String> = order.iter().map(|&p| team_name(p)).collect();
        for input in self.repos {
            for s in &input.services.services {
                if let Some(t) = &s.rule.team {
                    team_names.insert(t.clone());
                }
            }
        }
        let team_id: HashMap<String, i64> = team_names
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as i64 + 1))
            .collect();
        let person_of_roster: HashMap<usize, usize> = self
            .ids
            .people
            .iter()
            .enumerate()
            .filter_map(|(p, person)| person.roster.map(|k| (k, p)))
            .collect();
        let manager_of = |p: usize| -> Option<i64> {
            let k = self.ids.people[p].roster?;
            let m = roster::find(self.roster, self.roster[k].manager.as_deref()?)?;
            let mk = self.roster.iter().position(|x| std::ptr::eq(x, m))?;
            person_of_roster.get(&mk).map(|&mp| emp_of[mp])
        };
        let first_commit: HashMap<usize, DateTime<Utc>> = self
            .kept
            .iter()
            .rev()
            .map(|k| (k.person, k.raw.authored_at))
            .collect();
        let managers: HashSet<i64> = order.iter().filter_map(|&p| manager_of(p)).collect();
        for &p in &order {
            let person = &self.ids.people[p];
            let r = person.roster.map(|k| &self.roster[k]);
            let id = emp_of[p];
            org.employees.push(Employee {
                id,
                name: person.name.clone(),
                email: person.email.clone(),
                title: r
                    .and_then(|r| r.title.clone())
                    .unwrap_or_else(|| "Contributor".into()),
                level: String::new(),
                team_id: team_id[&team_name(p)],
                manager_id: manager_of(p),
                location: r.and_then(|r| r.location.clone()).unwrap_or_default(),
                hire_date: first_commit
                    .get(&p)
                    .copied()
                    .unwrap_or(self.as_of)
                    .date_naive(),
                is_manager: managers.contains(&id),
            });
        }
        // On-call shifts and time off, from the roster.
        for &p in &order {
            let Some(r) = self.ids.people[p].roster.map(|k| &self.roster[k]) else {
                continue;
            };
            let e = &org.employees[(emp_of[p] - 1) as usize];
            for (starts_at, ends_at, role) in &r.oncall {
                org.oncall_shifts.push(OncallShift {
                    id: 0,
                    team_id: e.team_id,
                    employee_id: e.id,
                    starts_at: *starts_at,
                    ends_at: *ends_at,
                    role: role.clone(),
                });
            }
            for (starts_on, ends_on, kind) in &r.time_off {
                org.time_off.push(TimeOff {
                    id: 0,
                    employee_id: e.id,
                    starts_on: *starts_on,
                    ends_on: *ends_on,
                    kind: kind.clone(),
                });
            }
        }
        org.oncall_shifts
            .sort_by_key(|s| (s.starts_at, s.team_id, s.role.clone(), s.employee_id));
        for (i, s) in org.oncall_shifts.iter_mut().enumerate() {
            s.id = i as i64 + 1;
        }
        org.time_off.sort_by_key(|t| (t.starts_on, t.employee_id));
        for (i, t) in org.time_off.iter_mut().enumerate() {
            t.id = i as i64 + 1;
        }
        stats.roster_only = self
            .ids
            .people
            .iter()
            .enumerate()
            .filter(|(p, person)| person.roster.is_some() && !first_commit.contains_key(p))
            .count();
        if !self.roster.is_empty() {
            let mut commits: HashMap<usize, usize> = HashMap::new();
            for k in self.kept {
                *commits.entry(k.person).or_default() += 1;
            }
            for (p, person) in self.ids.people.iter().enumerate() {
                if person.roster.is_none() {
                    let mut emails: Vec<String> = person
                        .identities
                        .iter()
                        .map(|s| s.email.to_lowercase())
                        .collect();
                    emails.sort();
                    emails.dedup();
                    let n = commits.get(&p).copied().unwrap_or(0);
                    stats
                        .unmatched_report
                        .push((person.name.clone(), emails, n));
                }
            }
            stats
                .unmatched_report
                .sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        }
        for (name, &id) in team_names.iter().map(|t| (t, &team_id[t])) {
            // The manager most of the team's members report to (0: none known).
            let mut votes: BTreeMap<i64, usize> = BTreeMap::new();
            for e in org.employees.iter().filter(|e| e.team_id == id) {
                if let Some(m) = e.manager_id {
                    *votes.entry(m).or_default() += 1;
                }
            }
            let manager_id = votes
                .iter()
                .max_by_key(|(m, n)| (**n, std::cmp::Reverse(**m)))
                .map_or(0, |(m, _)| *m);
            org.teams.push(Team {
                id,
                name: name.clone(),
                description: if self.roster.is_empty() {
                    format!(
                        "everyone who committed to {}",
                        self.repos
                            .iter()
                            .map(|r| r.repo.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                } else if *name == self.config.default_team {
                    "people found in the history whom the roster does not list".into()
                } else {
                    format!("{name}, from the roster")
                },
                manager_id,
            });
        }

        (emp_of, team_id)
    }

    /// Services: those with commits, or declared by a rule; and the dependencies between
    /// them. Returns the service id of each global service index kept, and every skill
    /// seen (languages and tools of files, frameworks of manifests) with its category.
    fn services(
        &self,
        org: &mut Org,
        emp_of: &[i64],
        team_id: &HashMap<String, i64>,
    ) -> (HashMap<usize, i64>, BTreeMap<&'static str, &'static str>) {
        let mut per_service: BTreeMap<usize, Vec<&Kept>> = BTreeMap::new();
        for k in self.kept {
            per_service.entry(k.service).or_default().push(k);
        }
        let mut service_id: HashMap<usize, i64> = HashMap::new();
        let mut service_names: HashMap<String, i64> = HashMap::new();
        let top_overall = top_committer(&self.kept.iter().collect::<Vec<_>>()).unwrap_or(0);
        let mut skill_ids: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        for k in self.kept {
            for &(s, cat) in &k.skills {
                skill_ids.entry(s).or_insert(cat);
            }
        }
        for (r, input) in self.repos.iter().enumerate() {
            for (i, def) in input.services.services.iter().enumerate() {
                let g = self.offsets[r] + i;
                let commits = per_service.get(&g).map(Vec::as_slice).unwrap_or(&[]);
                if commits.is_empty() && !def.declared {
                    continue;
                }
                let mut name = def.name.clone();
                if service_names.contains_key(&name) {
                    name = format!("{}-{}", input.repo.name, def.name);
                }
                let owner = def
                    .rule
                    .owner
                    .as_deref()
                    .and_then(|o| find_person(self.ids, o))
                    .or_else(|| top_committer(commits))
                    .unwrap_or(top_overall);
                let owner_id = emp_of[owner];
                let team = def
                    .rule
                    .team
                    .as_ref()
                    .map(|t| team_id[t])
                    .unwrap_or_else(|| org.employees[(owner_id - 1) as usize].team_id);
                let mut lines: BTreeMap<&str, i64> = BTreeMap::new();
                let mut stack: BTreeSet<&'static str> = BTreeSet::new();
                for k in commits {
                    for &(s, cat, n) in &k.service_skills {
                        stack.insert(s);
                        if cat == "languages" {
                            *lines.entry(s).or_default() += n;
                        }
                    }
                }
                for d in &def.dependencies {
                    if let Some((s, cat)) = skills::of_dependency(d) {
                        stack.insert(s);
                        skill_ids.entry(s).or_insert(cat);
                    }
                }
                let language = lines
                    .iter()
                    .max_by_key(|(l, n)| (**n, std::cmp::Reverse(**l)))
                    .map_or_else(String::new, |(l, _)| l.to_string());
                let id = org.services.len() as i64 + 1;
                service_id.insert(g, id);
                service_names.insert(name.clone(), id);
                org.services.push(Service {
                    id,
                    name,
                    team_id: team,
                    owner_id,
                    language,
                    tier: def.rule.tier.clone().unwrap_or_else(|| "standard".into()),
                    description: def.description.clone(),
                    stack: stack.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
        // Dependencies: a manifest naming another service of the same repository.
        for (r, input) in self.repos.iter().enumerate() {
            for (i, def) in input.services.services.iter().enumerate() {
                let Some(&from) = service_id.get(&(self.offsets[r] + i)) else {
                    continue;
                };
                for (j, other) in input.services.services.iter().enumerate() {
                    if let Some(&to) = service_id.get(&(self.offsets[r] + j))
                        && i != j
                        && def.dependencies.contains(&other.name.to_lowercase())
                    {
                        org.service_dependencies.push(ServiceDependency {
                            service_id: from,
                            depends_on_id: to,
                        });
                    }
                }
            }
        }

        (service_id, skill_ids)
    }

    /// Who wrote commits together and who changed the same files (collab.rs).
    fn collaborations(&self, emp_of: &[i64]) -> Vec<Collaboration> {
        let changes: Vec<collab::Change> = self
            .kept
            .iter()
            .map(|k| collab::Change {
                people: std::iter::once(k.person)
                    .chain(k.co_people.iter().copied())
                    .map(|p| emp_of[p])
                    .collect(),
                at: k.raw.authored_at,
                files: &k.files,
            })
            .collect();
        collab::collaborations(&changes)
    }

    /// Skills, and each person's proficiency from recency-weighted commits.
    fn skills(
        &self,
        org: &mut Org,
        skill_ids: &BTreeMap<&'static str, &'static str>,
        emp_of: &[i64],
        service_id: &HashMap<usize, i64>,
    ) {
        for (i, (name, cat)) in skill_ids.iter().enumerate() {
            org.skills.push(Skill {
                id: i as i64 + 1,
                name: name.to_string(),
                category: cat.to_string(),
            });
        }
        let skill_id: HashMap<&str, i64> =
            org.skills.iter().map(|s| (s.name.as_str(), s.id)).collect();
        let mut score: BTreeMap<(i64, i64), f64> = BTreeMap::new();
        for k in self.kept {
            let age = (self.as_of - k.raw.authored_at).num_seconds() as f64 / 86_400.0;
            let w = skills::weight(age, self.config.half_life_days);
            let svc = service_id
                .get(&k.service)
                .map(|&id| &org.services[(id - 1) as usize]);
            let mut touched: BTreeSet<&str> = k.skills.iter().map(|(s, _)| *s).collect();
            // Frameworks of the service the commit changed.
            if let Some(s) = svc {
                touched.extend(s.stack.iter().map(String::as_str));
            }
            for p in std::iter::once(k.person).chain(k.co_people.iter().copied()) {
                for s in &touched {
                    if let Some(&sid) = skill_id.get(s) {
                        *score.entry((emp_of[p], sid)).or_default() += w;
                    }
                }
            }
        }
        org.employee_skills = score
            .into_iter()
            .map(|((employee_id, skill_id), s)| EmployeeSkill {
                employee_id,
                skill_id,
                proficiency: skills::proficiency(s),
            })
            .collect();
    }

    /// GitHub's side of every repository that has one (github/map.rs). Returns the
    /// production deployment that shipped each commit.
    fn github(
        &self,
        org: &mut Org,
        emp_of: &[i64],
        service_id: &HashMap<usize, i64>,
        merges: HashMap<i64, String>,
    ) -> (HashMap<String, i64>, gh::Added) {
        let mut sides = Vec::new();
        for (r, input) in self.repos.iter().enumerate() {
            let Some(data) = &input.github else { continue };
            // The repository's service with the most commits carries its deployments.
            let mut count: BTreeMap<usize, usize> = BTreeMap::new();
            for k in self.kept {
                *count.entry(k.service).or_default() += 1;
            }
            let range = self.offsets[r]..self.offsets[r] + input.services.services.len();
            let Some(service) = count
                .iter()
                .filter(|(s, _)| range.contains(s))
                .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
                .and_then(|(s, _)| service_id.get(s).copied())
            else {
                continue;
            };
            let pr_offset = r as i64 * 1_000_000;
            sides.push(gh::Side {
                data,
                pr_offset,
                commits: input.commits.iter().map(|c| (c.sha.as_str(), c)).collect(),
                service_id: service,
                merges: merges
                    .iter()
                    .filter(|(id, _)| **id / 1_000_000 == r as i64)
                    .map(|(id, sha)| (*id, sha.clone()))
                    .collect(),
            });
        }
        let person = |login: &str| match self.ids.who(&gh::signature(login)) {
            Who::Person(p) => Some(emp_of[p]),
            _ => None,
        };
        gh::apply(org, &self.config.github, &sides, &person)
    }

    /// Pull requests, per repository; numbers are offset by a million per repository
    /// after the first so that they stay unique. Returns each commit's PR, and each PR's
    /// merging commit.
    fn pull_requests(
        &self,
        org: &mut Org,
        all: &[(usize, &'c RawCommit)],
        emp_of: &[i64],
        service_id: &HashMap<usize, i64>,
    ) -> (HashMap<&'c str, i64>, HashMap<i64, String>) {
        let mut pr_of: HashMap<&str, i64> = HashMap::new();
        let mut merges: HashMap<i64, String> = HashMap::new();
        let kept_by_sha: HashMap<&str, &Kept> =
            self.kept.iter().map(|k| (k.raw.sha.as_str(), k)).collect();
        for r in 0..self.repos.len() {
            let refs: Vec<&RawCommit> = all
                .iter()
                .filter(|(rr, _)| *rr == r)
                .map(|(_, c)| *c)
                .collect();
            for (number, pr) in pulls::recover(&refs) {
                let Some(merge) = kept_by_sha.get(pr.merge_sha.as_str()) else {
                    continue; // merged by a bot or an excluded person
                };
                let commits: Vec<&Kept> = pr
                    .commits
                    .iter()
                    .filter_map(|s| kept_by_sha.get(s.as_str()).copied())
                    .collect();
                let first = commits
                    .iter()
                    .map(|k| k.raw.authored_at)
                    .min()
                    .unwrap_or(merge.raw.authored_at);
                // A merge commit's PR is by who wrote the branch; a squash's by its author.
                let (author, service) = if merge.raw.parents.len() >= 2 {
                    let branch: Vec<&Kept> = commits
                        .iter()
                        .copied()
                        .filter(|k| k.raw.parents.len() < 2)
                        .collect();
                    let author = branch
                        .iter()
                        .min_by_key(|k| k.raw.authored_at)
                        .map_or(merge.person, |k| k.person);
                    let mut count: BTreeMap<usize, usize> = BTreeMap::new();
                    for k in &branch {
                        *count.entry(k.service).or_default() += 1;
                    }
                    let service = count
                        .iter()
                        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
                        .map_or(merge.service, |(s, _)| *s);
                    (author, service)
                } else {
                    (merge.person, merge.service)
                };
                let Some(&sid) = service_id.get(&service) else {
                    continue;
                };
                let id = number + r as i64 * 1_000_000;
                merges.insert(id, pr.merge_sha.clone());
                for s in &pr.commits {
                    if let Some(k) = kept_by_sha.get(s.as_str()) {
                        pr_of.entry(k.raw.sha.as_str()).or_insert(id);
                    }
                }
                org.pull_requests.push(PullRequest {
                    id,
                    title: pr.title,
                    author_id: emp_of[author],
                    service_id: sid,
                    state: "merged".into(),
                    first_commit_at: first,
                    opened_at: first,
                    merged_at: Some(pr.merged_at),
                    deployment_id: None,
                });
            }
        }
        org.pull_requests.sort_by_key(|p| p.id);

        (pr_of, merges)
    }
}

/// The person a name or e-mail (or a roster name) designates.
fn find_person(ids: &Identities, who: &str) -> Option<usize> {
    let (name, email) = (fold(who.trim()), who.trim().to_lowercase());
    ids.people.iter().position(|p| {
        fold(&p.name) == name
            || p.email == email
            || p.identities
                .iter()
                .any(|s| s.email.to_lowercase() == email || fold(&s.name) == name)
    })
}

/// Who made most of these commits (ties: the earliest of them).
fn top_committer(commits: &[&Kept]) -> Option<usize> {
    let mut count: BTreeMap<usize, usize> = BTreeMap::new();
    for k in commits {
        *count.entry(k.person).or_default() += 1;
    }
    count
        .iter()
        .max_by_key(|(p, n)| (**n, std::cmp::Reverse(**p)))
        .map(|(p, _)| *p)
}

/// A commit's service (most lines changed), lines, skills and co-authors.
fn derive<'a>(
    config: &ImportConfig,
    ids: &Identities,
    c: &'a RawCommit,
    person: usize,
    services: &ServiceMap,
    offset: usize,
) -> Kept<'a> {
    let mut per_service: BTreeMap<usize, (i64, usize)> = BTreeMap::new();
    let (mut additions, mut deletions) = (0, 0);
    let mut skills_touched = BTreeSet::new();
    let mut by_service: Vec<(usize, &'static str, &'static str, i64)> = Vec::new();
    let mut files = Vec::new();
    for f in &c.files {
        if glob::any(&config.exclude_paths, &f.path) {
            continue;
        }
        files.push(f.path.as_str());
        let (a, d) = (f.added.unwrap_or(0), f.deleted.unwrap_or(0));
        additions += a;
        deletions += d;
        let svc = services.service_of(&f.path);
        let e = per_service.entry(svc).or_default();
        // A binary file counts as one line changed.
        e.0 += if f.added.is_none() { 1 } else { a + d };
        e.1 += 1;
        if let Some(skill) = skills::of_file(&f.path) {
            skills_touched.insert(skill);
            by_service.push((svc, skill.0, skill.1, a + d));
        }
    }
    let last = services.services.len() - 1;
    let service = per_service
        .iter()
        .max_by_key(|(s, (l, n))| (*l, *n, std::cmp::Reverse(**s)))
        .map_or(last, |(s, _)| *s);
    let mut co_people: Vec<usize> = c
        .co_authors
        .iter()
        .filter_map(|s| match ids.who(s) {
            Who::Person(p) if p != person => Some(p),
            _ => None,
        })
        .collect();
    co_people.sort();
    co_people.dedup();
    Kept {
        raw: c,
        person,
        co_people,
        files,
        service: offset + service,
        additions,
        deletions,
        skills: skills_touched,
        service_skills: by_service
            .into_iter()
            .filter(|(s, ..)| *s == service)
            .map(|(_, k, cat, n)| (k, cat, n))
            .collect(),
    }
}
