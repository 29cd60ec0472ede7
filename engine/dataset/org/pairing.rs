//! Pair programming in the demo history: some pull requests were written by their author
//! with a teammate, whose `Co-authored-by:` the commits would carry. The demo's commits
//! have no files, so its `collaborations` are co-authorship only. Runs after everything
//! else on its own random stream, so the rest of the organisation is what it was.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::roster::SILO_SERVICE;
use super::{Collaboration, Org, Rng};

/// The share of pull requests written in pairs.
const PAIRED: f64 = 0.1;

pub fn pairing(org: &mut Org, rng: &mut Rng) {
    // The silo stays a silo: nobody else wrote a line of it.
    let silo = org.service_by_name(SILO_SERVICE).map(|s| s.id);
    let mut commits: HashMap<i64, (i64, DateTime<Utc>)> = HashMap::new();
    for c in &org.commits {
        let e = commits.entry(c.pr_id).or_insert((0, c.authored_at));
        e.0 += 1;
        e.1 = e.1.max(c.authored_at);
    }
    let mut pairs: BTreeMap<(i64, i64), (i64, DateTime<Utc>)> = BTreeMap::new();
    for p in &org.pull_requests {
        if Some(p.service_id) == silo || !rng.chance(PAIRED) {
            continue;
        }
        let team = org.employee(p.author_id).team_id;
        let mates: Vec<i64> = org
            .employees
            .iter()
            .filter(|e| e.team_id == team && e.id != p.author_id && !e.is_manager)
            .map(|e| e.id)
            .collect();
        let (Some(&(n, last)), false) = (commits.get(&p.id), mates.is_empty()) else {
            continue;
        };
        let mate = *rng.pick(&mates);
        let e = pairs
            .entry((p.author_id.min(mate), p.author_id.max(mate)))
            .or_insert((0, last));
        e.0 += n;
        e.1 = e.1.max(last);
    }
    org.collaborations = pairs
        .into_iter()
        .map(|((a_id, b_id), (weight, last_at))| Collaboration {
            a_id,
            b_id,
            kind: "co_authored".into(),
            weight,
            last_at,
        })
        .collect();
}
