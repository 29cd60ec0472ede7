//! The organisation's own names — people, teams, services, skills, projects, titles —
//! read from the stores, and entity linking: finding them in a question however it
//! spells them (any case, without accents, a first name only one person has, "ledger"
//! for ledger-service, a declared synonym, a typo within a small edit distance).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use strsim::damerau_levenshtein;

use super::text::{self, Token};
use super::time::Calendar;

/// What a name names; also the entity slot types tools declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Person,
    Team,
    Service,
    Skill,
    Project,
    Title,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Person,
        Kind::Team,
        Kind::Service,
        Kind::Skill,
        Kind::Project,
        Kind::Title,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Team => "team",
            Kind::Service => "service",
            Kind::Skill => "skill",
            Kind::Project => "project",
            Kind::Title => "title",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a mention was recognised, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Exact,
    Synonym,
    /// A first or last name, or a service without its "-service"/"-api" suffix.
    Partial,
    Typo,
    /// A capitalised name the organisation does not have (kept for the error message).
    Unknown,
}

/// One entity a question names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mention {
    /// None for an unknown capitalised name.
    pub kind: Option<Kind>,
    pub name: String,
    #[serde(skip)]
    pub tokens: Range<usize>,
    pub how: How,
    /// Written with a possessive 's ("Sofia's manager").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub possessive: bool,
    /// Named by a role ("the Payments manager"): the lookup that finds who it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// The tool call whose result names a person said by a role, and where in the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Via {
    pub tool: String,
    pub args: serde_json::Map<String, serde_json::Value>,
    pub pick: String,
    /// The words that said it ("the Payments manager").
    pub said: String,
}

/// Names by kind, and every way to say each one.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    names: Vec<(Kind, String)>,
    /// Folded word sequence → candidates (index into `names`, how).
    forms: HashMap<Vec<String>, Vec<(usize, How)>>,
    by_name: HashMap<String, usize>,
    longest: usize,
    pub calendar: Option<Calendar>,
    /// Who a team's manager or a service's owner is ("the Payments manager").
    pub heads: HashMap<String, String>,
    /// Each person's team ("is Sofia on call" asks about her team's rota).
    pub team_of: HashMap<String, String>,
    /// The values of the dataset's value columns ("London" of employees.location).
    pub values: Vec<ColumnValue>,
}

/// One value of a column whose values are words ("critical" of services.tier).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnValue {
    pub table: String,
    pub column: String,
    pub value: String,
    /// Its folded words ("in_progress" → in, progress).
    words: Vec<String>,
}

/// A column value a question says, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMention<'a> {
    pub value: &'a ColumnValue,
    pub tokens: Range<usize>,
}

/// Words a service name ends with that people leave out ("the ledger" for ledger-service).
const SERVICE_SUFFIXES: &[&str] = &["service", "api", "app", "svc", "server", "engine"];
/// Words of service names that say what kind of service it is, not which.
const SERVICE_GENERIC: &[&str] = &[
    "platform", "pipeline", "data", "mobile", "web", "core", "backend", "frontend", "ios",
    "android", "payments", "payment", "k8s",
];
/// Words after a bare service name that say "this is the service".
const SERVICE_CUES: &[&str] = &[
    "service", "services", "svc", "api", "app", "repo", "codebase",
];

/// Words of titles that are no title on their own, so "the senior engineers" or "our
/// staff folks" find the titles that contain them ("Senior", "Staff").
const TITLE_GENERIC: &[&str] = &[
    "engineer",
    "engineering",
    "software",
    "of",
    "the",
    "and",
    "manager",
    "data",
    "machine",
    "learning",
    "site",
    "reliability",
    "director",
];

/// A title word several titles share ("Senior" of Senior Data Engineer, Senior iOS
/// Engineer …) becomes a name of its own, matched by the titles containing it.
fn title_words(names: &[(Kind, String)]) -> Vec<(Kind, String)> {
    let mut count: HashMap<String, (usize, String)> = HashMap::new();
    for (kind, name) in names {
        if *kind != Kind::Title {
            continue;
        }
        for t in text::tokens(name) {
            if TITLE_GENERIC.contains(&t.word.as_str()) || t.word.len() < 3 {
                continue;
            }
            let raw = name[t.start..t.end].to_string();
            count.entry(t.word).or_insert((0, raw)).0 += 1;
        }
    }
    let taken: HashSet<String> = names.iter().map(|(_, n)| text::fold(n)).collect();
    let mut out: Vec<(Kind, String)> = count
        .into_values()
        .filter(|(n, raw)| *n > 1 && !taken.contains(&text::fold(raw)))
        .map(|(_, raw)| (Kind::Title, raw))
        .collect();
    out.sort();
    out
}

fn words(name: &str) -> Vec<String> {
    text::tokens(name).into_iter().map(|t| t.word).collect()
}

impl Vocabulary {
    pub fn new(mut names: Vec<(Kind, String)>, calendar: Option<Calendar>) -> Vocabulary {
        names.extend(title_words(&names));
        let mut v = Vocabulary {
            names,
            calendar,
            ..Default::default()
        };
        let mut partial: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
        for (i, (kind, name)) in v.names.iter().enumerate() {
            let w = words(name);
            if w.is_empty() {
                continue;
            }
            v.by_name.entry(text::fold(name)).or_insert(i);
            v.forms.entry(w.clone()).or_default().push((i, How::Exact));
            match kind {
                Kind::Person if w.len() >= 2 => {
                    partial.entry(vec![w[0].clone()]).or_default().push(i);
                    partial
                        .entry(vec![w[w.len() - 1].clone()])
                        .or_default()
                        .push(i);
                }
                Kind::Service => {
                    let mut core = w.clone();
                    while core.len() > 1
                        && SERVICE_SUFFIXES.contains(&core[core.len() - 1].as_str())
                    {
                        core.pop();
                        partial.entry(core.clone()).or_default().push(i);
                    }
                    // "the gateway" (api-gateway), "bff" (mobile-bff), "fraud": a word of
                    // its own; not one that says a kind of service ("platform", "data").
                    if w.len() >= 2 {
                        for one in [&w[0], &w[w.len() - 1]] {
                            if one.len() >= 3
                                && !SERVICE_SUFFIXES.contains(&one.as_str())
                                && !SERVICE_GENERIC.contains(&one.as_str())
                            {
                                partial.entry(vec![one.clone()]).or_default().push(i);
                            }
                        }
                    }
                }
                // "the staff engineers", "our directors": a title's own word.
                Kind::Title => {
                    for t in &w {
                        if !TITLE_GENERIC.contains(&t.as_str()) && t.len() >= 3 {
                            partial.entry(vec![t.clone()]).or_default().push(i);
                        }
                    }
                }
                Kind::Project => {
                    let sig: Vec<String> = w
                        .iter()
                        .filter(|x| !text::is_stopword(x) && x.as_str() != "project")
                        .cloned()
                        .collect();
                    for pair in sig.windows(2) {
                        partial.entry(pair.to_vec()).or_default().push(i);
                    }
                    if sig.len() >= 3 {
                        partial
                            .entry(vec![sig[0].clone(), sig[sig.len() - 1].clone()])
                            .or_default()
                            .push(i);
                    }
                    // An acronym says the project alone ("the PCI one").
                    for t in text::tokens(name) {
                        let raw = &name[t.start..t.end];
                        if raw.len() >= 3 && raw.chars().all(|c| c.is_ascii_uppercase()) {
                            partial.entry(vec![t.word]).or_default().push(i);
                        }
                    }
                }
                _ => {}
            }
        }
        // A partial form counts only when one name has it; exact forms always win.
        for (form, mut ids) in partial {
            ids.sort_unstable();
            ids.dedup();
            if let [one] = ids.as_slice()
                && !v.forms.contains_key(&form)
            {
                v.forms.insert(form, vec![(*one, How::Partial)]);
            } else if ids.len() > 1 && !v.forms.contains_key(&form) {
                // Several of one kind share it ("Alex"): prefer none; of different kinds,
                // the earlier kind (a person's name over a project's word).
                let kinds: HashSet<Kind> = ids.iter().map(|i| v.names[*i].0).collect();
                if kinds.len() == ids.len()
                    && let Some(best) = ids.iter().min_by_key(|i| v.names[**i].0)
                {
                    v.forms.insert(form, vec![(*best, How::Partial)]);
                }
            }
        }
        v.longest = v.forms.keys().map(Vec::len).max().unwrap_or(0);
        v
    }

    /// Records that `person` manages the team or owns the service `of`.
    pub fn with_heads(mut self, heads: impl IntoIterator<Item = (String, String)>) -> Vocabulary {
        self.heads.extend(heads);
        self
    }

    /// Records each person's team.
    pub fn with_teams(mut self, team_of: impl IntoIterator<Item = (String, String)>) -> Vocabulary {
        self.team_of.extend(team_of);
        self
    }

    /// Records the values of value columns: (table, column, value).
    pub fn with_values(
        mut self,
        values: impl IntoIterator<Item = (String, String, String)>,
    ) -> Vocabulary {
        for (table, column, value) in values {
            let words: Vec<String> = text::tokens(&value.replace('_', " "))
                .into_iter()
                .map(|t| t.word)
                .collect();
            if !words.is_empty() {
                self.values.push(ColumnValue {
                    table,
                    column,
                    value,
                    words,
                });
            }
        }
        // Longest first, so "in progress" wins over a value "progress".
        self.values
            .sort_by_key(|v| std::cmp::Reverse(v.words.len()));
        self
    }

    /// The column values `words` say, left to right, each word used once.
    pub fn values_in(&self, words: &[&str]) -> Vec<ValueMention<'_>> {
        let mut out: Vec<ValueMention> = Vec::new();
        for v in &self.values {
            let n = v.words.len();
            for i in 0..words.len().saturating_sub(n - 1) {
                let taken = out
                    .iter()
                    .any(|m| m.tokens.start < i + n && i < m.tokens.end);
                if !taken && words[i..i + n].iter().zip(&v.words).all(|(a, b)| a == b) {
                    out.push(ValueMention {
                        value: v,
                        tokens: i..i + n,
                    });
                }
            }
        }
        out.sort_by_key(|m| m.tokens.start);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every name of a kind, in load order.
    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
    }

    /// The stored spelling and kind of a name, any case or accents.
    pub fn lookup(&self, name: &str) -> Option<(Kind, &str)> {
        self.by_name
            .get(&text::fold(name))
            .map(|&i| (self.names[i].0, self.names[i].1.as_str()))
    }

    fn pick(&self, cands: &[(usize, How)]) -> Option<(usize, How)> {
        cands
            .iter()
            .min_by_key(|(i, how)| (*how, self.names[*i].0))
            .copied()
    }

    /// The entities in `tokens`, longest match first, left to right. `synonyms` maps a
    /// folded phrase to a stored name; `known` are words the tools' examples use, never
    /// read as a misspelt name.
    pub fn link(
        &self,
        tokens: &[Token],
        synonyms: &HashMap<Vec<String>, String>,
        known: &HashSet<String>,
    ) -> Vec<Mention> {
        let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
        let syn_longest = synonyms.keys().map(Vec::len).max().unwrap_or(0);
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            if let Some(m) = self.link_at(tokens, &words, i, synonyms, syn_longest) {
                i = m.tokens.end;
                out.push(m);
            } else {
                i += 1;
            }
        }
        self.link_typos(tokens, &words, known, &mut out);
        out.sort_by_key(|m| m.tokens.start);
        // "Sofai Rossi": a misspelt first name beside the last name is one mention.
        out.dedup_by(|next, prev| {
            let same = prev.name == next.name && prev.tokens.end == next.tokens.start;
            if same {
                prev.tokens.end = next.tokens.end;
                prev.how = prev.how.max(next.how);
                prev.possessive = next.possessive;
            }
            same
        });
        unknown_names(tokens, known, &mut out);
        out.sort_by_key(|m| m.tokens.start);
        out
    }

    fn link_at(
        &self,
        tokens: &[Token],
        words: &[&str],
        i: usize,
        synonyms: &HashMap<Vec<String>, String>,
        syn_longest: usize,
    ) -> Option<Mention> {
        let longest = self.longest.max(syn_longest).min(words.len() - i);
        for n in (1..=longest).rev() {
            let key: Vec<String> = words[i..i + n].iter().map(|s| s.to_string()).collect();
            let span = i..i + n;
            if let Some(target) = synonyms.get(&key)
                && let Some(&idx) = self.by_name.get(&text::fold(target))
            {
                return Some(self.mention(tokens, idx, span, How::Synonym));
            }
            // A plural word finds its singular's name ("seniors", "directors").
            let singular = || match key.as_slice() {
                [one] if text::stem(one) != *one => self.forms.get(&vec![text::stem(one)]),
                _ => None,
            };
            let Some((idx, how)) = self
                .forms
                .get(&key)
                .or_else(singular)
                .and_then(|c| self.pick(c))
            else {
                continue;
            };
            let (kind, name) = &self.names[idx];
            // Two-letter names ("Go", "ML", "UI") only as written, "go" is a verb, unless
            // the words around say a skill ("knows go", "go developers", "go and kafka").
            if n == 1
                && key[0].len() <= 2
                && !original_matches(tokens, i, name)
                && !(*kind == Kind::Skill && skill_context(words, i))
            {
                continue;
            }
            if n == 1
                && text::is_stopword(&key[0])
                && !tokens[i].capital
                && !(*kind == Kind::Skill && skill_context(words, i))
            {
                continue;
            }
            // "payments" alone is the team; "the payments service" the service.
            if *kind != Kind::Service
                && let Some(cue) = words.get(i + n)
                && SERVICE_CUES.contains(cue)
                && let Some(svc) = self.service_with_core(&key)
            {
                return Some(self.mention(tokens, svc, i..i + n + 1, How::Partial));
            }
            // "the Security team" names a team, whatever else Security is: a team the
            // organisation lacks is an unknown name, for "no team named Security".
            if !matches!(kind, Kind::Team | Kind::Person)
                && matches!(words.get(i + n), Some(&("team" | "squad")))
            {
                let mut m = self.mention(tokens, idx, span, How::Unknown);
                m.kind = None;
                m.name = key.join(" ");
                return Some(m);
            }
            let mut m = self.mention(tokens, idx, span, how);
            if *kind == Kind::Service
                && how == How::Partial
                && let Some(cue) = words.get(i + n)
                && SERVICE_CUES.contains(cue)
            {
                m.tokens.end += 1;
            }
            return Some(m);
        }
        None
    }

    /// A service whose name without its suffix is `core`.
    fn service_with_core(&self, core: &[String]) -> Option<usize> {
        let mut found = self.names.iter().enumerate().filter(|(_, (k, n))| {
            *k == Kind::Service && {
                let w = words(n);
                w.len() > core.len()
                    && w[..core.len()] == *core
                    && w[core.len()..]
                        .iter()
                        .all(|x| SERVICE_SUFFIXES.contains(&x.as_str()))
            }
        });
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    fn mention(&self, tokens: &[Token], idx: usize, span: Range<usize>, how: How) -> Mention {
        let (kind, name) = &self.names[idx];
        Mention {
            kind: Some(*kind),
            name: name.clone(),
            possessive: tokens[span.end - 1].possessive,
            tokens: span,
            how,
            via: None,
        }
    }

    /// Misspelt names among the words nothing else explains: one or two words within
    /// one edit (two for long names) of a name's form.
    fn link_typos(
        &self,
        tokens: &[Token],
        words: &[&str],
        known: &HashSet<String>,
        out: &mut Vec<Mention>,
    ) {
        let taken = |i: usize, out: &Vec<Mention>| out.iter().any(|m| m.tokens.contains(&i));
        let free = |i: usize, out: &Vec<Mention>| {
            !taken(i, out)
                && words[i].len() >= 4
                && !text::is_stopword(words[i])
                && !known.contains(words[i])
                && !known.contains(&text::stem(words[i]))
                && words[i].chars().all(|c| c.is_alphabetic())
        };
        let mut i = 0;
        while i < words.len() {
            let mut best: Option<(usize, usize, usize)> = None; // (distance, idx, n)
            for n in [2usize, 1] {
                if i + n > words.len() || !(i..i + n).all(|j| free(j, out)) {
                    continue;
                }
                let asked = words[i..i + n].join(" ");
                let limit = if asked.len() >= 8 { 2 } else { 1 };
                for (form, cands) in &self.forms {
                    if form.len() != n {
                        continue;
                    }
                    let f = form.join(" ");
                    if f.len() < 4 || f.len().abs_diff(asked.len()) > limit {
                        continue;
                    }
                    let d = damerau_levenshtein(&asked, &f);
                    if d <= limit
                        && let Some((idx, _)) = self.pick(cands)
                        && best.is_none_or(|(bd, bi, _)| {
                            (d, self.names[idx].0) < (bd, self.names[bi].0)
                        })
                    {
                        best = Some((d, idx, n));
                    }
                }
                if best.is_some() {
                    break;
                }
            }
            if let Some((_, idx, n)) = best {
                out.push(self.mention(tokens, idx, i..i + n, How::Typo));
                i += n;
            } else {
                i += 1;
            }
        }
    }
}

/// The token written exactly as the name (case and all), for two-letter names.
/// Words beside a short word that make it a skill: what people know, write or are.
fn skill_context(words: &[&str], i: usize) -> bool {
    const BEFORE: &[&str] = &[
        "know", "knows", "knowing", "knew", "in", "writes", "write", "writing", "using", "uses",
        "and", "or", "with",
    ];
    const AFTER: &[&str] = &[
        "developer",
        "developers",
        "dev",
        "devs",
        "engineer",
        "engineers",
        "expert",
        "experts",
        "expertise",
        "experience",
        "skills",
        "programmer",
        "programmers",
        "code",
        "people",
        "folks",
        "and",
        "or",
    ];
    // "what about go?" ends on the name: a follow-up naming another skill.
    let about_last = i > 0 && words[i - 1] == "about" && i + 1 == words.len();
    (i > 0 && BEFORE.contains(&words[i - 1]))
        || words.get(i + 1).is_some_and(|w| AFTER.contains(w))
        || about_last
}

fn original_matches(tokens: &[Token], i: usize, name: &str) -> bool {
    tokens[i].capital
        && tokens[i].word == text::fold(name)
        && name.chars().next().is_some_and(char::is_uppercase)
}

/// Capitalised words nothing else explains, not at the start of the question: a name
/// the organisation does not have, kept so the answer can say so.
fn unknown_names(tokens: &[Token], known: &HashSet<String>, out: &mut Vec<Mention>) {
    let taken = |i: usize, out: &Vec<Mention>| out.iter().any(|m| m.tokens.contains(&i));
    let mut i = 1;
    while i < tokens.len() {
        let cap = |j: usize| {
            tokens[j].capital
                && !taken(j, out)
                && !text::is_stopword(&tokens[j].word)
                && !known.contains(&tokens[j].word)
                && !known.contains(&text::stem(&tokens[j].word))
                && !tokens[j].word.chars().all(|c| c.is_ascii_digit())
                && tokens[j].word.len() > 1
        };
        if cap(i) {
            let start = i;
            while i < tokens.len() && cap(i) && i - start < 3 {
                i += 1;
            }
            let name = tokens[start..i]
                .iter()
                .map(|t| t.word.clone())
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Mention {
                kind: None,
                name,
                possessive: tokens[i - 1].possessive,
                tokens: start..i,
                how: How::Unknown,
                via: None,
            });
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        let mut names = vec![];
        for n in [
            "Sofia Rossi",
            "Kenji Tanaka",
            "Zoë Müller",
            "Alex Kumar",
            "Alex Brown",
            "Priya Sharma",
        ] {
            names.push((Kind::Person, n.to_string()));
        }
        for n in ["Platform", "Data", "Payments", "Mobile"] {
            names.push((Kind::Team, n.to_string()));
        }
        for n in [
            "ledger-service",
            "payments-api",
            "api-gateway",
            "android-app",
        ] {
            names.push((Kind::Service, n.to_string()));
        }
        for n in [
            "Go",
            "Kafka",
            "Python",
            "Kubernetes",
            "Machine Learning",
            "CI/CD",
        ] {
            names.push((Kind::Skill, n.to_string()));
        }
        names.push((Kind::Project, "Ledger v2 migration".into()));
        names.push((Kind::Title, "Director of Engineering".into()));
        Vocabulary::new(names, None)
    }

    fn link(q: &str) -> Vec<(Option<Kind>, String, How)> {
        let syn: HashMap<Vec<String>, String> = [("golang", "Go"), ("k8s", "Kubernetes")]
            .into_iter()
            .map(|(a, b)| (words(a), b.to_string()))
            .collect();
        let known: HashSet<String> = ["deploy", "deployment", "manager", "team", "incident"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        vocab()
            .link(&text::tokens(q), &syn, &known)
            .into_iter()
            .map(|m| (m.kind, m.name, m.how))
            .collect()
    }

    fn one(kind: Kind, name: &str, how: How) -> Vec<(Option<Kind>, String, How)> {
        vec![(Some(kind), name.to_string(), how)]
    }

    #[test]
    fn names_as_people_say_them() {
        assert_eq!(
            link("change failure rate for the data team"),
            one(Kind::Team, "Data", How::Exact)
        );
        assert_eq!(
            link("show deployments of the ledger service"),
            one(Kind::Service, "ledger-service", How::Exact)
        );
        assert_eq!(
            link("show deployments of ledger service"),
            one(Kind::Service, "ledger-service", How::Exact)
        );
        assert_eq!(
            link("deploys of ledger"),
            one(Kind::Service, "ledger-service", How::Partial)
        );
        assert_eq!(
            link("Who is Zoë Müller?"),
            one(Kind::Person, "Zoë Müller", How::Exact)
        );
        assert_eq!(
            link("who is zoe muller"),
            one(Kind::Person, "Zoë Müller", How::Exact)
        );
        assert_eq!(
            link("what is sofia working on"),
            one(Kind::Person, "Sofia Rossi", How::Partial)
        );
        assert_eq!(
            link("Sofia's manager"),
            one(Kind::Person, "Sofia Rossi", How::Partial)
        );
        assert_eq!(
            link("who is Sofai Rossi"),
            one(Kind::Person, "Sofia Rossi", How::Typo)
        );
        assert_eq!(
            link("lead time of the paymnts team"),
            one(Kind::Team, "Payments", How::Typo)
        );
        assert_eq!(
            link("the payments service"),
            one(Kind::Service, "payments-api", How::Partial)
        );
        assert_eq!(
            link("payments incidents"),
            one(Kind::Team, "Payments", How::Exact)
        );
        assert_eq!(
            link("anyone who knows golang"),
            one(Kind::Skill, "Go", How::Synonym)
        );
        assert_eq!(
            link("best k8s people"),
            one(Kind::Skill, "Kubernetes", How::Synonym)
        );
        assert_eq!(
            link("status of the ledger migration"),
            one(Kind::Project, "Ledger v2 migration", How::Partial)
        );
        assert_eq!(
            link("who is the director of engineering"),
            one(Kind::Title, "Director of Engineering", How::Exact)
        );
    }

    #[test]
    fn short_names_only_as_written() {
        assert_eq!(link("anyone who knows Go and Kafka?").len(), 2);
        assert_eq!(
            link("how did it go with kafka"),
            one(Kind::Skill, "Kafka", How::Exact)
        );
        assert!(link("alex's projects").is_empty(), "two Alexes: no guess");
        // Lowercase, where the words around say a skill.
        assert_eq!(link("anyone who knows go and kafka?").len(), 2);
        assert_eq!(
            link("best go developers"),
            one(Kind::Skill, "Go", How::Exact)
        );
        assert!(link("who can go on call next week").is_empty());
    }

    #[test]
    fn unknown_capitalised_names_are_kept() {
        assert_eq!(
            link("who is Jane Doe"),
            vec![(None, "jane doe".to_string(), How::Unknown)]
        );
    }
}
