//! Collaboration from the history (docs/DATA.md, `collaborations`): people who wrote
//! commits together (`Co-authored-by:`), and people who changed the same files within
//! [`WINDOW_DAYS`] of each other, weighted by how many such files.
//!
//! A commit touching more than [`MAX_FILES`] files (a mass rename, a formatting run, a
//! dependency bump) says nothing about who works with whom and is left out of co-changes,
//! as code-maat's coupling analysis does. The cost stays bounded on big repositories: one
//! sweep over each file's changes in time order, each change compared with the latest
//! change of each person who touched the file before.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::dataset::Collaboration;

/// How close in time two changes of one file must be to count as working together.
pub const WINDOW_DAYS: i64 = 30;
/// Commits changing more files than this are left out of co-changes.
pub const MAX_FILES: usize = 30;

/// One commit as collaboration sees it.
pub struct Change<'a> {
    /// Its author and co-authors (employee ids, distinct).
    pub people: Vec<i64>,
    pub at: DateTime<Utc>,
    /// The files it changed, excluded paths aside.
    pub files: &'a [&'a str],
}

/// (a, b) with a < b.
fn pair(p: i64, q: i64) -> (i64, i64) {
    (p.min(q), p.max(q))
}

/// Adds one to a pair's weight and keeps its latest instant.
fn add(to: &mut BTreeMap<(i64, i64), (i64, DateTime<Utc>)>, key: (i64, i64), at: DateTime<Utc>) {
    let e = to.entry(key).or_insert((0, at));
    e.0 += 1;
    e.1 = e.1.max(at);
}

/// Co-authored and co-changed pairs, ordered by pair then kind.
pub fn collaborations(changes: &[Change]) -> Vec<Collaboration> {
    let mut authored = BTreeMap::new();
    let mut by_file: HashMap<&str, Vec<(DateTime<Utc>, i64)>> = HashMap::new();
    for c in changes {
        for (i, &p) in c.people.iter().enumerate() {
            for &q in &c.people[i + 1..] {
                add(&mut authored, pair(p, q), c.at);
            }
        }
        if c.files.len() <= MAX_FILES {
            for f in c.files {
                let v = by_file.entry(f).or_default();
                v.extend(c.people.iter().map(|&p| (c.at, p)));
            }
        }
    }
    let window = Duration::days(WINDOW_DAYS);
    let mut changed = BTreeMap::new();
    for mut v in by_file.into_values() {
        v.sort();
        // Each person's latest change of the file so far; each pair's latest co-change.
        let mut last: HashMap<i64, DateTime<Utc>> = HashMap::new();
        let mut pairs: HashMap<(i64, i64), DateTime<Utc>> = HashMap::new();
        for (at, p) in v {
            for (&q, &then) in &last {
                if q != p && at - then <= window {
                    pairs.insert(pair(p, q), at);
                }
            }
            last.insert(p, at);
        }
        for (key, at) in pairs {
            add(&mut changed, key, at);
        }
    }
    let rows = |kind: &str, m: BTreeMap<(i64, i64), (i64, DateTime<Utc>)>| {
        m.into_iter()
            .map(|((a_id, b_id), (weight, last_at))| Collaboration {
                a_id,
                b_id,
                kind: kind.to_string(),
                weight,
                last_at,
            })
            .collect::<Vec<_>>()
    };
    let mut out = rows("co_authored", authored);
    out.extend(rows("co_changed", changed));
    out.sort_by(|x, y| (x.a_id, x.b_id, &x.kind).cmp(&(y.a_id, y.b_id, &y.kind)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + d * 86_400, 0).unwrap()
    }

    fn find(out: &[Collaboration], a: i64, b: i64, kind: &str) -> Option<(i64, DateTime<Utc>)> {
        out.iter()
            .find(|c| (c.a_id, c.b_id) == (a, b) && c.kind == kind)
            .map(|c| (c.weight, c.last_at))
    }

    #[test]
    fn co_authors_and_files_changed_within_the_window() {
        let (x, y, z) = (&["x.rs"][..], &["y.rs"][..], &["z.rs"][..]);
        let many: Vec<String> = (0..=MAX_FILES).map(|i| format!("f{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let changes = [
            Change {
                people: vec![1, 2],
                at: day(0),
                files: x,
            },
            Change {
                people: vec![3],
                at: day(WINDOW_DAYS),
                files: x,
            },
            // Too late for 1 and 2's change of x: only 3 is within the window.
            Change {
                people: vec![4],
                at: day(WINDOW_DAYS + 1),
                files: x,
            },
            Change {
                people: vec![1],
                at: day(100),
                files: y,
            },
            Change {
                people: vec![1],
                at: day(101),
                files: y,
            },
            Change {
                people: vec![2],
                at: day(200),
                files: z,
            },
            Change {
                people: vec![1, 2],
                at: day(300),
                files: &many,
            },
            Change {
                people: vec![3],
                at: day(301),
                files: &many,
            },
        ];
        let out = collaborations(&changes);
        assert_eq!(find(&out, 1, 2, "co_authored"), Some((2, day(300))));
        assert_eq!(find(&out, 1, 2, "co_changed"), Some((1, day(0))), "x only");
        assert_eq!(find(&out, 1, 3, "co_changed"), Some((1, day(WINDOW_DAYS))));
        assert_eq!(
            find(&out, 3, 4, "co_changed"),
            Some((1, day(WINDOW_DAYS + 1)))
        );
        assert_eq!(find(&out, 1, 4, "co_changed"), None, "31 days apart");
        assert_eq!(out.len(), 5, "{out:?}");
    }
}
