//! Who is who: the identities commits name (after `.mailmap`) become people. Identities
//! sharing an e-mail are one person; so are those with the same name, case and accents
//! aside (`identities.merge_same_name`, on by default), a GitHub no-reply address's login
//! and that login as a name, and whatever `identities.people` or the roster ties together
//! (a name, alias or e-mail each). Bots match a name or e-mail pattern and stay apart:
//! never people, so never in people questions. `exclude.people` drops identities.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::config::ImportConfig;
use super::git::Signature;
use super::glob;
use super::roster::RosterPerson;
use crate::understand::text::fold;

/// One person: the identities merged into them and their roster entry.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub email: String,
    /// Index in the roster.
    pub roster: Option<usize>,
    pub identities: Vec<Signature>,
}

/// What an identity resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Person(usize),
    Bot,
    Excluded,
}

/// The people found, and what each identity is.
#[derive(Debug, Default)]
pub struct Identities {
    pub people: Vec<Person>,
    who: HashMap<Signature, Who>,
    /// Bot names (folded spellings joined).
    pub bots: BTreeSet<String>,
    /// Identities that joined another one of the same person.
    pub merged: usize,
    /// Identities no roster entry matched (0 without a roster).
    pub unmatched: Vec<String>,
}

impl Identities {
    pub fn who(&self, s: &Signature) -> Who {
        self.who.get(s).copied().unwrap_or(Who::Excluded)
    }
}

/// A GitHub no-reply address's login: `123+login@users.noreply.github.com` → `login`.
fn login(email: &str) -> Option<&str> {
    let local = email.strip_suffix("@users.noreply.github.com")?;
    Some(local.split_once('+').map_or(local, |(_, l)| l))
}

pub fn is_bot(config: &ImportConfig, s: &Signature) -> bool {
    glob::any(&config.bots, &s.name) || glob::any(&config.bots, &s.email)
}

fn is_excluded(config: &ImportConfig, s: &Signature) -> bool {
    config
        .exclude_people
        .iter()
        .any(|x| fold(x.trim()) == fold(&s.name) || x.trim().eq_ignore_ascii_case(&s.email))
}

struct Uf(Vec<usize>);
impl Uf {
    fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut x = x;
        while self.0[x] != r {
            let next = self.0[x];
            self.0[x] = r;
            x = next;
        }
        r
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // The lower index (rules and roster come after identities) stays the root.
            self.0[a.max(b)] = a.min(b);
        }
    }
}

/// Resolves `seen` (each identity with the commits it made) into people; `links` are
/// pairs known to be one person (a pull request's GitHub author and its squash commit's).
pub fn resolve(
    config: &ImportConfig,
    roster: &[RosterPerson],
    seen: &BTreeMap<Signature, usize>,
    links: &[(Signature, Signature)],
) -> Identities {
    let mut out = Identities::default();
    let sigs: Vec<&Signature> = seen
        .keys()
        .filter(|s| {
            if is_bot(config, s) {
                out.who.insert((*s).clone(), Who::Bot);
                out.bots.insert(fold(s.name.trim_end_matches("[bot]")));
                false
            } else if is_excluded(config, s) {
                out.who.insert((*s).clone(), Who::Excluded);
                false
            } else {
                true
            }
        })
        .collect();
    let (n_sig, n_rule) = (sigs.len(), config.people.len());
    let mut uf = Uf((0..n_sig + n_rule + roster.len()).collect());
    // Key → the nodes that have it; `n:` keys are names, `e:` e-mails.
    let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut add = |key: String, node: usize| keys.entry(key).or_default().push(node);
    for (i, s) in sigs.iter().enumerate() {
        add(format!("e:{}", s.email.to_lowercase()), i);
        add(format!("n:{}", fold(s.name.trim())), i);
        if let Some(l) = login(&s.email.to_lowercase()) {
            add(format!("n:{}", fold(l)), i);
        }
    }
    for (j, r) in config.people.iter().enumerate() {
        let node = n_sig + j;
        add(format!("n:{}", fold(r.name.trim())), node);
        for a in &r.aliases {
            add(format!("n:{}", fold(a.trim())), node);
        }
        for e in &r.emails {
            add(format!("e:{}", e.trim().to_lowercase()), node);
        }
    }
    for (k, p) in roster.iter().enumerate() {
        let node = n_sig + n_rule + k;
        add(format!("n:{}", fold(&p.name)), node);
        for e in &p.emails {
            add(format!("e:{e}"), node);
        }
    }
    for (key, nodes) in &keys {
        let by_name = key.starts_with("n:");
        if !by_name || config.merge_same_name {
            for w in nodes.windows(2) {
                uf.union(w[0], w[1]);
            }
        } else {
            // Names tie identities only to a rule or roster entry, not to each other.
            let anchors: Vec<usize> = nodes.iter().copied().filter(|&n| n >= n_sig).collect();
            for &a in &anchors {
                for &n in nodes {
                    uf.union(a, n);
                }
            }
        }
    }
    let node: HashMap<&Signature, usize> = sigs.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    for (a, b) in links {
        if let (Some(&a), Some(&b)) = (node.get(a), node.get(b)) {
            uf.union(a, b);
        }
    }
    // Groups in the order of their first node: identities (sorted), then the roster.
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for node in 0..n_sig + n_rule + roster.len() {
        let root = uf.find(node);
        groups.entry(root).or_default().push(node);
    }
    for nodes in groups.values() {
        let ids: Vec<&Signature> = nodes
            .iter()
            .filter(|&&n| n < n_sig)
            .map(|&n| sigs[n])
            .collect();
        let rule = nodes
            .iter()
            .find(|&&n| n >= n_sig && n < n_sig + n_rule)
            .map(|&n| &config.people[n - n_sig]);
        let roster_ix = nodes
            .iter()
            .find(|&&n| n >= n_sig + n_rule)
            .map(|&n| n - n_sig - n_rule);
        if ids.is_empty() && roster_ix.is_none() {
            continue;
        }
        let commits = |s: &Signature| seen.get(s).copied().unwrap_or(0);
        // The spelling used most (over all its e-mails); on a tie, the one with more
        // accents (the fuller spelling), then the first in order.
        let mut spellings: BTreeMap<&str, usize> = BTreeMap::new();
        for s in ids.iter().filter(|s| !s.name.trim().is_empty()) {
            *spellings.entry(s.name.trim()).or_default() += commits(s);
        }
        let best_name = spellings
            .iter()
            .max_by_key(|(name, n)| {
                (
                    **n,
                    name.chars().filter(|c| !c.is_ascii()).count(),
                    std::cmp::Reverse(**name),
                )
            })
            .map(|(name, _)| name.to_string());
        let best_email = ids
            .iter()
            .max_by_key(|s| {
                (
                    !s.email.ends_with("noreply.github.com"),
                    commits(s),
                    std::cmp::Reverse(s.email.clone()),
                )
            })
            .map(|s| s.email.to_lowercase());
        let name = roster_ix
            .map(|k| roster[k].name.clone())
            .or_else(|| rule.map(|r| r.name.clone()))
            .or(best_name)
            .or_else(|| best_email.clone())
            .unwrap_or_default();
        let email = roster_ix
            .and_then(|k| roster[k].emails.first().cloned())
            .or(best_email)
            .unwrap_or_default();
        if !roster.is_empty() && roster_ix.is_none() {
            out.unmatched.push(name.clone());
        }
        out.merged += ids.len().saturating_sub(1);
        let index = out.people.len();
        for s in &ids {
            out.who.insert((*s).clone(), Who::Person(index));
        }
        out.people.push(Person {
            name,
            email,
            roster: roster_ix,
            identities: ids.into_iter().cloned().collect(),
        });
    }
    disambiguate(&mut out.people);
    out
}

/// Two different people with one display name (merging by name off) get their e-mail's
/// local part appended, so every employee's name is unique.
fn disambiguate(people: &mut [Person]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for p in people.iter() {
        *count.entry(fold(&p.name)).or_default() += 1;
    }
    for p in people.iter_mut() {
        if count[&fold(&p.name)] > 1 {
            let local = p.email.split('@').next().unwrap_or("").to_string();
            p.name = format!("{} ({local})", p.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::config::PersonRule;

    fn sig(n: &str, e: &str) -> Signature {
        Signature {
            name: n.into(),
            email: e.into(),
        }
    }

    pub(crate) fn config() -> ImportConfig {
        ImportConfig {
            file: "import.yaml".into(),
            text: String::new(),
            repositories: vec![],
            roster: None,
            default_team: "Contributors".into(),
            half_life_days: 365,
            merge_same_name: true,
            people: vec![],
            bots: super::super::config::BUILTIN_BOTS
                .iter()
                .map(|p| glob::Glob::new(p).unwrap())
                .collect(),
            exclude_people: vec![],
            exclude_paths: vec![],
            github: Default::default(),
        }
    }

    #[test]
    fn spellings_emails_logins_and_rules_merge_and_bots_stay_apart() {
        let mut c = config();
        c.people.push(PersonRule {
            name: "Jonas Platte".into(),
            emails: vec!["jp@work.example".into()],
            aliases: vec![],
        });
        let seen: BTreeMap<Signature, usize> = [
            (sig("David Mládek", "dm@x.cz"), 5),
            (sig("David Mladek", "other@x.cz"), 2),
            (sig("Jonas Platte", "jplatte@posteo.de"), 9),
            (sig("jplatte", "jp@work.example"), 1),
            (sig("Jonas P", "123+jonasp@users.noreply.github.com"), 1),
            (sig("jonasp", "jonasp@home.example"), 1),
            (
                sig(
                    "dependabot[bot]",
                    "49699333+dependabot[bot]@users.noreply.github.com",
                ),
                4,
            ),
        ]
        .into_iter()
        .collect();
        let ids = resolve(&c, &[], &seen, &[]);
        let names: Vec<&str> = ids.people.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"David Mládek"));
        assert!(names.contains(&"Jonas Platte"));
        assert!(names.contains(&"Jonas P") || names.contains(&"jonasp"));
        assert_eq!(ids.bots.len(), 1);
        assert_eq!(
            ids.who(&sig(
                "dependabot[bot]",
                "49699333+dependabot[bot]@users.noreply.github.com"
            )),
            Who::Bot
        );
        assert_eq!(ids.merged, 3);
    }

    #[test]
    fn without_merging_by_name_two_namesakes_stay_two_people() {
        let mut c = config();
        c.merge_same_name = false;
        let seen: BTreeMap<Signature, usize> = [
            (sig("Sam Lee", "sam@a.org"), 1),
            (sig("Sam Lee", "slee@b.org"), 1),
        ]
        .into_iter()
        .collect();
        let ids = resolve(&c, &[], &seen, &[]);
        assert_eq!(ids.people.len(), 2);
        assert_ne!(ids.people[0].name, ids.people[1].name);
    }
}
