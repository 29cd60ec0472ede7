//! Pull requests recovered from history alone: a squash merge leaves `(#NNNN)` at the end
//! of its subject (GitHub's default), a merge commit says `Merge pull request #NNNN from
//! owner/branch` and brings the branch's commits (reachable from its second parent, not
//! from its first). What git cannot tell — when the PR was opened, its reviews — stays
//! unknown: `opened_at` is its first commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::git::RawCommit;

static SQUASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*\(#(\d+)\)\s*$").expect("valid regex"));
static MERGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Merge pull request #(\d+) from (\S+)").expect("valid regex"));

/// One recovered pull request of a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub number: i64,
    pub title: String,
    pub merged_at: DateTime<Utc>,
    /// The commit that merged it (the squash commit or the merge commit).
    pub merge_sha: String,
    /// Its commits, the merging one included.
    pub commits: Vec<String>,
}

/// The PR number a squash-merge subject ends with.
pub fn squash_number(subject: &str) -> Option<i64> {
    SQUASH.captures(subject)?.get(1)?.as_str().parse().ok()
}

/// Pull requests of one repository's commits, by number.
pub fn recover(commits: &[&RawCommit]) -> BTreeMap<i64, Recovered> {
    let by_sha: HashMap<&str, &RawCommit> = commits.iter().map(|c| (c.sha.as_str(), *c)).collect();
    let mut out: BTreeMap<i64, Recovered> = BTreeMap::new();
    let mut add = |r: Recovered| match out.get_mut(&r.number) {
        // The same number twice (a cherry-pick, a backport): one PR, merged first.
        Some(have) => {
            for s in r.commits {
                if !have.commits.contains(&s) {
                    have.commits.push(s);
                }
            }
            if r.merged_at < have.merged_at {
                have.merged_at = r.merged_at;
                have.merge_sha = r.merge_sha;
            }
        }
        None => {
            out.insert(r.number, r);
        }
    };
    for c in commits {
        if c.parents.len() >= 2
            && let Some(m) = MERGE.captures(&c.subject)
        {
            let number: i64 = m[1].parse().unwrap_or(0);
            let mut branch = branch_commits(&by_sha, &c.parents[0], &c.parents[1]);
            branch.push(c.sha.clone());
            add(Recovered {
                number,
                title: format!("Merge of {}", &m[2]),
                merged_at: c.committed_at,
                merge_sha: c.sha.clone(),
                commits: branch,
            });
        } else if let Some(number) = squash_number(&c.subject) {
            add(Recovered {
                number,
                title: SQUASH.replace(&c.subject, "").into_owned(),
                merged_at: c.committed_at,
                merge_sha: c.sha.clone(),
                commits: vec![c.sha.clone()],
            });
        }
    }
    out
}

/// Commits reachable from `theirs` and not from `ours` (those read; the walk stops at
/// commits outside the import).
fn branch_commits(by_sha: &HashMap<&str, &RawCommit>, ours: &str, theirs: &str) -> Vec<String> {
    let reach = |start: &str, stop: &HashSet<String>, limit: usize| {
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack = vec![start.to_string()];
        while let Some(s) = stack.pop() {
            if seen.len() >= limit || stop.contains(&s) || !seen.insert(s.clone()) {
                continue;
            }
            if let Some(c) = by_sha.get(s.as_str()) {
                stack.extend(c.parents.iter().cloned());
            }
        }
        seen
    };
    let mainline = reach(ours, &HashSet::new(), usize::MAX);
    let mut branch: Vec<String> = reach(theirs, &mainline, 10_000)
        .into_iter()
        .filter(|s| by_sha.contains_key(s.as_str()))
        .collect();
    branch.sort();
    branch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::git::Signature;

    fn commit(sha: &str, parents: &[&str], subject: &str, t: i64) -> RawCommit {
        let sig = Signature {
            name: "A".into(),
            email: "a@x".into(),
        };
        let at = DateTime::from_timestamp(t, 0).unwrap();
        RawCommit {
            sha: sha.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            author: sig.clone(),
            authored_at: at,
            committer: sig,
            committed_at: at,
            subject: subject.into(),
            co_authors: vec![],
            files: vec![],
        }
    }

    #[test]
    fn squash_subjects_and_merge_commits_become_pull_requests() {
        let cs = [
            commit("a", &[], "init", 1),
            commit("b", &["a"], "Add routing (#12)", 2),
            commit("c", &["b"], "wip", 3),
            commit("d", &["c"], "more", 4),
            commit(
                "e",
                &["b", "d"],
                "Merge pull request #15 from ann/feature",
                5,
            ),
            commit("f", &["e"], "Revert \"Add routing (#12)\" (#16)", 6),
        ];
        let refs: Vec<&RawCommit> = cs.iter().collect();
        let prs = recover(&refs);
        assert_eq!(prs.keys().copied().collect::<Vec<_>>(), [12, 15, 16]);
        assert_eq!(prs[&12].title, "Add routing");
        assert_eq!(prs[&15].commits, ["c", "d", "e"]);
        assert_eq!(prs[&16].title, "Revert \"Add routing (#12)\"");
    }
}
