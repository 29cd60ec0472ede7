//! What the import put in the stores, against `git log` of the same clone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;
use sqlx::Row;

use super::{collaborations, crate_of, db, group_of_employee, imported, people};

#[tokio::test]
async fn commits_people_and_bots_match_git_log() {
    let Some(imp) = imported() else { return };
    let db = db(&imp.data).await;
    let human: Vec<_> = imp.commits.iter().filter(|c| !c.is_bot()).collect();
    let bots = imp.commits.len() - human.len();
    assert!(
        imp.commits.len() > 1900,
        "the bundle has its ~1,982 commits"
    );
    assert!(bots > 0, "the bundle has bot commits");

    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM commits")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored as usize, human.len(), "every human commit, once");
    assert_eq!(imp.summary.stats.bot_commits, bots);
    assert!(
        imp.summary
            .stats
            .bots
            .iter()
            .any(|b| b.contains("dependabot"))
    );
    let bot_people: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM employees WHERE name LIKE '%[bot]%' OR email LIKE '%[bot]%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(bot_people, 0, "bots are no employees");

    // People: identities grouped by e-mail, name and login; the name shown is the group's
    // most used spelling (more accents on a tie, then the first).
    let group = people(&imp.commits);
    let mut spellings: HashMap<usize, BTreeMap<String, usize>> = HashMap::new();
    let mut per_group: HashMap<usize, usize> = HashMap::new();
    for c in &human {
        let g = group[&(c.name.clone(), c.email.clone())];
        *spellings
            .entry(g)
            .or_default()
            .entry(c.name.clone())
            .or_default() += 1;
        *per_group.entry(g).or_default() += 1;
    }
    let shown = |g: usize| -> String {
        spellings[&g]
            .iter()
            .max_by_key(|(n, k)| {
                (
                    **k,
                    n.chars().filter(|c| !c.is_ascii()).count(),
                    std::cmp::Reverse(n.to_string()),
                )
            })
            .unwrap()
            .0
            .clone()
    };
    let expected: BTreeSet<String> = per_group.keys().map(|&g| shown(g)).collect();
    let authors: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT DISTINCT author FROM commits")
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(
        authors.len(),
        expected.len(),
        "distinct authors after mailmap and merging; only in the store: {:?}; only in git: {:?}",
        authors.difference(&expected).take(10).collect::<Vec<_>>(),
        expected.difference(&authors).take(10).collect::<Vec<_>>()
    );
    assert_eq!(authors, expected);
    assert!(
        authors.iter().any(|a| !a.is_ascii()),
        "accented and non-Latin names survive"
    );

    // The top committer, with all their e-mails together.
    let (&top, &top_n) = per_group
        .iter()
        .max_by_key(|(g, n)| (**n, std::cmp::Reverse(**g)))
        .unwrap();
    let row = sqlx::query(
        "SELECT author, COUNT(*) AS n FROM commits GROUP BY author ORDER BY n DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("author"), shown(top));
    assert_eq!(row.get::<i64, _>("n") as usize, top_n);
    // Whoever committed under several e-mails is one person with all their commits.
    let mut emails: HashMap<usize, BTreeSet<String>> = HashMap::new();
    for c in &human {
        emails
            .entry(group[&(c.name.clone(), c.email.clone())])
            .or_default()
            .insert(c.email.to_lowercase());
    }
    let several: Vec<usize> = emails
        .iter()
        .filter(|(_, e)| e.len() > 1)
        .map(|(g, _)| *g)
        .collect();
    assert!(several.len() > 3, "axum has people with several e-mails");
    for g in several {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM commits WHERE author = ?")
            .bind(shown(g))
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n as usize, per_group[&g], "{} ({:?})", shown(g), emails[&g]);
    }
}

#[tokio::test]
async fn commits_per_crate_match_git_log() {
    let Some(imp) = imported() else { return };
    let db = db(&imp.data).await;
    assert_eq!(
        imp.crates,
        ["axum", "axum-core", "axum-extra", "axum-macros"]
    );
    let mut per_crate: BTreeMap<String, usize> = BTreeMap::new();
    for c in imp.commits.iter().filter(|c| !c.is_bot()) {
        *per_crate.entry(crate_of(c, &imp.crates)).or_default() += 1;
    }
    let stored: BTreeMap<String, usize> =
        sqlx::query("SELECT service, COUNT(*) AS n FROM commits GROUP BY service")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>("service"), r.get::<i64, _>("n") as usize))
            .collect();
    assert_eq!(stored, per_crate);

    assert_eq!(
        bus_factors(imp).len(),
        5,
        "four crates and the files outside them"
    );
}

/// Crates by bus factor (the fewest people who made more than half of a crate's
/// commits), then committers, then name — the order knowledge_silos lists them in:
/// (bus factor, committers, crate, top committer's group).
pub fn bus_factors(imp: &super::Imported) -> Vec<(usize, usize, String)> {
    let group = people(&imp.commits);
    let mut per_crate_person: BTreeMap<String, HashMap<usize, usize>> = BTreeMap::new();
    for c in imp.commits.iter().filter(|c| !c.is_bot()) {
        *per_crate_person
            .entry(crate_of(c, &imp.crates))
            .or_default()
            .entry(group[&(c.name.clone(), c.email.clone())])
            .or_default() += 1;
    }
    let bus = |counts: &HashMap<usize, usize>| {
        let total: usize = counts.values().sum();
        let mut v: Vec<usize> = counts.values().copied().collect();
        v.sort_by(|a, b| b.cmp(a));
        let (mut acc, mut n) = (0, 0);
        for c in v {
            if acc * 2 > total {
                break;
            }
            acc += c;
            n += 1;
        }
        n
    };
    let mut ranked: Vec<(usize, usize, String)> = per_crate_person
        .iter()
        .map(|(k, c)| (bus(c), c.len(), k.clone()))
        .collect();
    ranked.sort();
    ranked
}

#[tokio::test]
async fn pull_requests_are_recovered_from_subjects_and_merges() {
    let Some(imp) = imported() else { return };
    let db = db(&imp.data).await;
    let squash = Regex::new(r"\(#(\d+)\)\s*$").unwrap();
    let merge = Regex::new(r"^Merge pull request #(\d+) from").unwrap();
    let mut expected = BTreeSet::new();
    for c in imp.commits.iter().filter(|c| !c.is_bot()) {
        let m = if c.parents > 1 {
            merge.captures(&c.subject)
        } else {
            None
        };
        if let Some(n) = m.or_else(|| squash.captures(&c.subject)) {
            expected.insert(n[1].parse::<i64>().unwrap());
        }
    }
    assert!(expected.len() > 1000, "axum squash-merges its PRs");
    let stored: BTreeSet<i64> = sqlx::query_scalar::<_, i64>("SELECT id FROM pull_requests")
        .fetch_all(&db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(stored, expected);
    // A squash-merged PR's commit points at it.
    let c = imp
        .commits
        .iter()
        .find(|c| !c.is_bot() && c.parents == 1 && squash.is_match(&c.subject))
        .unwrap();
    let pr: i64 = sqlx::query_scalar("SELECT pr_id FROM commits WHERE sha = ?")
        .bind(&c.sha)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        pr,
        squash.captures(&c.subject).unwrap()[1]
            .parse::<i64>()
            .unwrap()
    );
}

/// The `collaborations` table holds, both ways, exactly the pairs computed from `git log`:
/// commits co-authored and files changed within 30 days of each other, with their latest
/// author date.
#[tokio::test]
async fn collaborations_match_git_log() {
    let Some(imp) = imported() else { return };
    let db = db(&imp.data).await;
    let expected = collaborations(&imp.commits);
    let authored = expected.keys().filter(|k| k.0 == "co_authored").count();
    assert!(
        authored > 10,
        "axum has co-authored commits ({authored} pairs)"
    );
    assert!(
        expected.values().any(|v| v.0 > 1),
        "some pair in axum wrote several commits together"
    );
    let group = group_of_employee(&db, &imp.commits).await;
    let rows: Vec<(i64, i64, String, i64, String)> =
        sqlx::query_as("SELECT employee_id, other_id, kind, weight, last_at FROM collaborations")
            .fetch_all(&db)
            .await
            .unwrap();
    let mut stored: BTreeMap<(&'static str, usize, usize), (i64, String)> = BTreeMap::new();
    for (me, other, kind, weight, last_at) in &rows {
        let (a, b) = (group[me], group[other]);
        let kind = match kind.as_str() {
            "co_authored" => "co_authored",
            "co_changed" => "co_changed",
            other => panic!("a collaboration of kind {other:?}"),
        };
        if a < b {
            stored.insert((kind, a, b), (*weight, last_at.clone()));
        }
    }
    assert_eq!(rows.len(), stored.len() * 2, "every pair both ways");
    let expected: BTreeMap<_, _> = expected
        .into_iter()
        .map(|(k, (n, at))| (k, (n, eng_intel::store::timestamp(at))))
        .collect();
    let differ: Vec<_> = expected
        .iter()
        .filter(|(k, v)| stored.get(k) != Some(v))
        .take(5)
        .map(|(k, v)| (k, v, stored.get(k)))
        .collect();
    assert!(differ.is_empty(), "expected vs stored: {differ:?}");
    assert_eq!(stored.len(), expected.len());

    // The summary names the pairs who wrote most commits together.
    let top = stored
        .iter()
        .filter(|(k, _)| k.0 == "co_authored")
        .map(|(_, v)| v.0)
        .max();
    let stats = &imp.summary.stats;
    assert_eq!(stats.co_authors.first().map(|p| p.2 as i64), top);
}
