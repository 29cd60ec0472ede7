//! Question understanding: a question plus the thread's recent turns become a structured
//! reading — the entities it names, linked to the organisation's own names; the time
//! window; the shape (comparison, superlative, top-N); and the tools that could answer
//! it, scored against their example phrasings. Routing, the offline model's tool choice
//! and its arguments all read this one `Understanding`; the model path gets it as
//! context. Pure functions over a `Lexicon` (from config) and a `Vocabulary` (from the
//! stores): no I/O, microseconds per question.

pub mod args;
pub mod draft;
pub mod lexicon;
pub mod text;
pub mod time;
pub mod vocab;

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value, json};

pub use lexicon::{Lexicon, Profile, Slot};
pub use time::{Calendar, Window};
pub use vocab::{How, Kind, Mention, Vocabulary};

/// Placeholders of pronouns in features, until a follow-up says whom they stand for.
const HE: &str = "{he}";
const IT: &str = "{it}";

/// The placeholder feature of a name the organisation does not have.
const UNKNOWN: &str = "{?}";

/// A tool's score at or above this answers the question; below it, nothing does.
pub const ACCEPT: f32 = 0.22;

/// The score of a tool taking a drafted query when the draft explains every word.
const DRAFTED: f32 = 0.9;

/// One earlier exchange of the thread.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

/// Which end of a ranking the question wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Most,
    Least,
}

/// A tool that could answer, and how well.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub tool: String,
    pub score: f32,
    /// Required arguments the question leaves empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// What the tool's arguments take from the question.
    #[serde(skip)]
    pub slots: std::sync::Arc<[lexicon::ArgSlot]>,
    #[serde(skip)]
    pub measures: std::sync::Arc<[String]>,
}

/// The structured reading of one question.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Understanding {
    pub question: String,
    pub mentions: Vec<Mention>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// A second window to set beside the first ("April vs May"): one call each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus: Option<Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// "best" (true) or "worst" (false): the end a measure's `better` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_or_worst: Option<bool>,
    /// Two or more entities to set side by side ("Mobile vs Platform").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compare: bool,
    /// Asks to change data; eng-intel only reads.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub refuse: bool,
    /// Asks across teams ("which team deploys most often?", "per team"): the teams to
    /// ask about, one call each, when the tool answers for one team at a time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub across: Vec<String>,
    /// Reuses the previous turn's reading (a follow-up).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub follow_up: bool,
    /// "Which of them…": only these people, from the previous answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub among: Vec<String>,
    /// "which Kafka experts are on call?": the people a role in the plural names, found
    /// by its lookup first; the answer then keeps only them (`among`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub among_via: Option<vocab::Via>,
    /// `among` was looked up this turn: an empty list keeps nobody.
    #[serde(skip)]
    pub among_only: bool,
    /// People set aside ("who besides Kenji knows Rust?"): no answer lists them.
    pub excluded: Vec<String>,
    /// "who knows Java but not Python?": the second list is taken from the first.
    pub but_not: bool,
    /// Best first.
    pub candidates: Vec<Candidate>,
    pub features: Vec<String>,
    /// Folded stems of the question's words (for choice arguments).
    #[serde(skip)]
    stems: Vec<String>,
    /// Each two neighbouring words run together ("to do" → todo).
    #[serde(skip)]
    joined: Vec<String>,
    /// Small numbers the question states outside a window or a top-N ("at least a 4").
    #[serde(skip)]
    levels: Vec<i64>,
    /// A number and the stem of the word it counts ("last 4 sprints" → 4 sprint), for an
    /// integer argument named after that word.
    #[serde(skip)]
    counts: Vec<(i64, String)>,
    /// "he", "her"… with nobody to stand for: a question to ask back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unresolved: bool,
    /// "it", "their", "the two teams", "which one" with nothing named here or before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub vague: bool,
    /// The team of the person named, for tools that take a team and no person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_team: Option<String>,
    /// A query answering the question over a declared table, when one explains it all.
    #[serde(skip)]
    pub sql: Option<draft::Draft>,
    /// "is the Ledger migration on track?": a yes/no question about something named, whose
    /// value is what to answer, not a filter.
    #[serde(skip)]
    yes_no: bool,
    /// The tool that answered the turn an elliptical follow-up leaves its intent to.
    #[serde(skip)]
    previous_tool: Option<String>,
    /// The stem of the question's last word that is no name and no stopword ("on track").
    #[serde(skip)]
    last_word: Option<String>,
    /// The organisation's "now", which windows are relative to.
    #[serde(skip)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    /// The window ended before today ("in March", "last quarter"): a tool that cannot
    /// take it would answer about another period.
    #[serde(skip)]
    closed_window: bool,
}

const HE_SHE: &[&str] = &[
    "he", "she", "him", "her", "his", "hers", "himself", "herself",
];
const THEY_IT: &[&str] = &[
    "they", "them", "their", "theirs", "it", "its", "there", "that", "same",
];
const MOST: &[&str] = &[
    "most", "highest", "largest", "biggest", "top", "max", "maximum", "longest", "slowest",
    "busiest", "greatest", "heaviest",
];
const LEAST: &[&str] = &[
    "least", "lowest", "fewest", "smallest", "min", "minimum", "shortest", "fastest", "less",
    "lightest", "room", "spare", "idle", "capacity", "behind",
];
/// What having figures to rank by adds to a tool's score when the question ranks
/// (measured on the bank: 0.06 changes nothing, 0.12 +3, 0.18 and 0.25 lose more than they win).
const RANKS: f32 = 0.12;
const COMPARATIVE: &[&str] = &[
    "better", "worse", "higher", "lower", "faster", "slower", "more", "fewer", "less", "best",
    "worst", "further", "ahead", "behind", "bigger", "smaller", "busier", "quicker",
];
const COMPARE: &[&str] = &[
    "vs",
    "versus",
    "compare",
    "compared",
    "comparing",
    "comparison",
    "against",
    "between",
];

impl Understanding {
    /// Reads `question` in the light of the thread's earlier `turns` (oldest first).
    pub fn read(
        question: &str,
        turns: &[Turn],
        lex: &Lexicon,
        vocab: &Vocabulary,
    ) -> Understanding {
        let reading = |back: usize| {
            let at = turns.len().checked_sub(back)?;
            let earlier = &turns[at.saturating_sub(2)..at];
            Some((
                Understanding::read(&turns[at].question, earlier, lex, vocab),
                turns[at].answer.as_str(),
            ))
        };
        let mut u = Understanding::parse(question, lex, vocab);
        if let Some((mut prior, mut answer)) = reading(1) {
            // A follow-up with an intent of its own keeps it; one without borrows the last.
            u.rank(lex);
            // Names alone ("what about Mobile?"), time said against the last turn ("and
            // the week after?") and values of the last tool's arguments ("only the
            // postmortems") are no intent of their own.
            let own = u.intent_words(&prior) > 0
                && u.candidates.first().is_some_and(|c| c.score >= ACCEPT);
            // "who knows Swift?" — "is he free next week?" — "what about TypeScript?": a
            // name the last tool cannot take goes back to the turn before, if that one's can.
            let takes = |p: &Understanding, k: Kind| {
                p.candidates.first().is_some_and(|c| {
                    c.slots
                        .iter()
                        .any(|s| s.slot.takes(k) || s.slot == Slot::Text)
                })
            };
            let kinds: Vec<Kind> = u
                .mentions
                .iter()
                .filter(|m| !m.tokens.is_empty())
                .filter_map(|m| m.kind)
                .collect();
            if !own
                && !kinds.is_empty()
                && !kinds.iter().any(|k| takes(&prior, *k))
                && let Some((before, its_answer)) = reading(2)
                && kinds.iter().all(|k| takes(&before, *k))
            {
                (prior, answer) = (before, its_answer);
            }
            u.follow(&prior, answer, lex, vocab, own);
            // "CFR for Mobile?" — "and for Platform?" — "which is better?": the last
            // question asked again of the names the last two turns asked about, side by side.
            if u.asks_which_of_two()
                && !u.mentions.iter().any(|m| !m.tokens.is_empty())
                && let Some(last) = prior
                    .mentions
                    .iter()
                    .find(|m| m.kind.is_some() && !m.name.is_empty())
                && let Some((before, _)) = reading(2)
                && let Some(other) = before
                    .mentions
                    .iter()
                    .find(|m| m.kind == last.kind && !m.name.is_empty() && m.name != last.name)
            {
                let kind = last.kind.expect("found with a kind");
                u.mentions.retain(|m| m.kind != Some(kind));
                u.mentions.insert(0, remembered(kind, last.name.clone()));
                u.mentions.insert(0, remembered(kind, other.name.clone()));
                u.features = prior.features.clone();
                u.stems.extend(prior.stems.iter().cloned());
                u.window = u.window.take().or_else(|| prior.window.clone());
                u.compare = true;
                u.follow_up = true;
            }
        }
        u.unresolved = u.features.iter().any(|f| f.contains(HE))
            && !u.mentions.iter().any(|m| m.kind == Some(Kind::Person));
        // In a thread, "it" may be anything the last answer named.
        u.vague = turns.is_empty() && !u.unresolved && u.points_at_nothing();
        // A person named where the tool wants a team: their team.
        u.person_team = u
            .mentions
            .iter()
            .find(|m| m.kind == Some(Kind::Person))
            .and_then(|m| vocab.team_of.get(&m.name).cloned());
        u.rank(lex);
        u
    }

    /// The question alone: tokens, names, time, shape, features.
    fn parse(question: &str, lex: &Lexicon, vocab: &Vocabulary) -> Understanding {
        let tokens = text::tokens(question);
        let mut used = vec![false; tokens.len()];
        let mut u = Understanding {
            question: question.to_string(),
            ..Default::default()
        };
        let cal = vocab
            .calendar
            .clone()
            .unwrap_or_else(|| Calendar::at(crate::dataset::as_of()));
        if let Some(f) = time::window(&tokens, &cal) {
            used[f.tokens.clone()].iter_mut().for_each(|x| *x = true);
            u.closed_window = f.value.end <= cal.now - chrono::Duration::days(1);
            // "deploys in April vs May", "this quarter compared to last quarter"
            let rest = f.tokens.end;
            if tokens.iter().any(|t| COMPARE.contains(&t.word.as_str()))
                && let Some(g) = time::window(&tokens[rest..], &cal)
            {
                used[rest + g.tokens.start..rest + g.tokens.end]
                    .iter_mut()
                    .for_each(|x| *x = true);
                u.versus = Some(g.value);
            }
            u.window = Some(f.value);
        }
        if let Some(f) = time::age_days(&tokens) {
            used[f.tokens.clone()].iter_mut().for_each(|x| *x = true);
            u.age_days = Some(f.value);
        }
        // Words that are no names: time words, and the examples' words when a name is unsure.
        let free: Vec<text::Token> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut t = t.clone();
                if used[i] {
                    t.word = String::from("\u{0}");
                }
                t
            })
            .collect();
        u.mentions = vocab
            .link(&free, &lex.synonyms, &lex.known)
            .into_iter()
            .filter(|m| {
                m.kind.is_some() || vocab.is_empty() || !lex.known.contains(&text::fold(&m.name))
            })
            .collect();
        // A column's value ("London") is no unknown name.
        let values = vocab.values_in(&tokens.iter().map(|t| t.word.as_str()).collect::<Vec<_>>());
        u.mentions.retain(|m| {
            m.kind.is_some()
                || !values
                    .iter()
                    .any(|v| v.tokens.start <= m.tokens.start && m.tokens.end <= v.tokens.end)
        });
        resolve_references(&mut u, &tokens, &mut used, lex, vocab);
        let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
        // An unknown name keeps its spelling, for "no skill named COBOL".
        for m in u.mentions.iter_mut().filter(|m| m.kind.is_none()) {
            m.name =
                question[tokens[m.tokens.start].start..tokens[m.tokens.end - 1].end].to_string();
        }
        // "besides Kenji", "except Marcus", "other than Sofia": a person set aside is no
        // scope; "but not Python" after another skill takes its people away.
        let setting_aside = |start: usize| {
            let before = |k: usize| start.checked_sub(k).map(|i| words[i]);
            matches!(
                before(1),
                Some("besides" | "except" | "excluding" | "minus")
            ) || matches!(
                (before(2), before(1)),
                (Some("other"), Some("than")) | (Some("apart" | "aside"), Some("from"))
            )
        };
        let negated = |start: usize| start > 0 && matches!(words[start - 1], "not" | "without");
        let mut kept = Vec::new();
        for m in std::mem::take(&mut u.mentions) {
            let start = m.tokens.start;
            if m.kind == Some(Kind::Person) && !m.tokens.is_empty() && setting_aside(start) {
                used[m.tokens.clone()].iter_mut().for_each(|x| *x = true);
                u.excluded.push(m.name);
            } else {
                if m.kind == Some(Kind::Skill)
                    && !m.tokens.is_empty()
                    && negated(start)
                    && kept.iter().any(|k: &Mention| k.kind == Some(Kind::Skill))
                {
                    u.but_not = true;
                }
                kept.push(m);
            }
        }
        u.mentions = kept;
        let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
        u.compare = has(COMPARE) || words.windows(2).any(|w| w == ["or", "or"]);
        u.order = if has(MOST) {
            Some(Order::Most)
        } else if has(LEAST) {
            Some(Order::Least)
        } else {
            None
        };
        u.best_or_worst = if words
            .iter()
            .any(|w| matches!(*w, "best" | "better" | "healthiest" | "strongest"))
        {
            Some(true)
        } else if words
            .iter()
            .any(|w| matches!(*w, "worst" | "worse" | "weakest" | "poorest"))
        {
            Some(false)
        } else {
            None
        };
        // "top 5", "top two", "the 3 busiest", "5 best", "number one"
        let count = |w: &str| {
            time::count(w)
                .filter(|n| (1..=50).contains(n))
                .map(|n| n as usize)
        };
        let ranking = |w: &str| w.ends_with("est") || MOST.contains(&w) || LEAST.contains(&w);
        // Not the number of a window ("the last 6 months").
        let free_words: Vec<&str> = words
            .iter()
            .enumerate()
            .map(|(i, w)| if used[i] { "\u{0}" } else { *w })
            .collect();
        u.top = free_words.windows(2).find_map(|w| match w {
            ["top" | "first" | "last", n] => count(n),
            ["number", "one"] => Some(1),
            [n, r] if n.chars().all(|c| c.is_ascii_digit() || c.is_alphabetic()) && ranking(r) => {
                count(n)
            }
            _ => None,
        });
        u.refuse = refuses(&words, lex);
        u.yes_no = matches!(words.first(), Some(&("is" | "are" | "was" | "were")))
            && words.get(1) != Some(&"there");
        u.counts = words
            .windows(2)
            .filter_map(|w| Some((time::count(w[0]).filter(|n| *n > 0)?, text::stem(w[1]))))
            .collect();
        u.levels = tokens
            .iter()
            .enumerate()
            .filter(|(i, t)| !used[*i] && t.word.len() <= 2)
            .filter_map(|(_, t)| t.word.parse::<i64>().ok())
            .filter(|n| Some(*n as usize) != u.top)
            .collect();
        // "which team …", "per team", "by team", "each team", "every team", "across teams",
        // "rank teams by …", "teams ranked by …"
        let team_word = |w: &str| matches!(w, "team" | "teams" | "squad" | "squads");
        let across = words.windows(2).any(|w| {
            (matches!(
                w[0],
                "which"
                    | "what"
                    | "per"
                    | "by"
                    | "each"
                    | "every"
                    | "across"
                    | "all"
                    | "compare"
                    | "rank"
                    | "sort"
            ) && team_word(w[1]))
                || (team_word(w[0]) && matches!(w[1], "by" | "ranked" | "sorted"))
        });
        if across && !u.mentions.iter().any(|m| m.kind == Some(Kind::Team)) {
            let teams: Vec<String> = vocab.all(Kind::Team).map(str::to_string).collect();
            // A breakdown is for a handful of teams; a big organisation gets the whole.
            if teams.len() <= 12 {
                u.across = teams;
            }
        }
        // Features: entity placeholders where names stood, corrected words elsewhere.
        let mut seq: Vec<Option<String>> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if let Some(m) = u.mentions.iter().find(|m| m.tokens.start == i) {
                // A name the organisation lacks is whatever kind reads best (see `rank`),
                // but "the Security team" says it is a team.
                let team_after = matches!(
                    tokens.get(m.tokens.end).map(|t| t.word.as_str()),
                    Some("team" | "squad")
                );
                seq.push(Some(match (m.kind, team_after) {
                    (Some(k), _) => format!("{{{}}}", k.as_str()),
                    (None, true) => "{team}".into(),
                    (None, false) => UNKNOWN.into(),
                }));
                i = m.tokens.end.max(i + 1);
                continue;
            }
            let w = tokens[i].word.as_str();
            if used[i] && !lexicon::is_sprint(w) {
                seq.push(None);
            } else if HE_SHE.contains(&w) || (w == "person" && points_back(&tokens[..i])) {
                seq.push(Some(HE.into()));
            } else if matches!(w, "it" | "its" | "they" | "them" | "their") {
                seq.push(Some(IT.into()));
            } else {
                let w = &tokens[i].word;
                seq.push(Some(lex.correct(w).unwrap_or_else(|| w.clone())));
            }
            i += 1;
        }
        u.features = lex.features(&seq);
        u.last_word = seq
            .iter()
            .flatten()
            .rev()
            .find(|w| !w.starts_with('{') && !text::is_stopword(w))
            .map(|w| text::stem(w));
        // The question's words and what the vocabulary reads them as ("finished" → done).
        u.stems = seq
            .iter()
            .flatten()
            .filter(|w| !w.starts_with('{'))
            .map(|w| text::stem(w))
            .chain(
                u.features
                    .iter()
                    .filter(|f| !f.starts_with('{') && !f.contains(' '))
                    .cloned(),
            )
            .collect();
        u.sql = draft::draft(
            &draft::Reading {
                tokens: &tokens,
                used: &used,
                mentions: &u.mentions,
                window: u.window.as_ref(),
                order: u.order,
                top: u.top,
            },
            lex,
            vocab,
        );
        // Words run together, for values written as one ("to do" → todo).
        u.joined = words
            .windows(2)
            .map(|w| format!("{}{}", w[0], w[1]))
            .collect();
        u
    }

    /// Fills what a follow-up leaves out from the previous turn: "and her manager?",
    /// "what about the Data team?", "how about last month?", "which of them are on call?".
    fn follow(
        &mut self,
        prior: &Understanding,
        answer: &str,
        lex: &Lexicon,
        vocab: &Vocabulary,
        own_intent: bool,
    ) {
        let words: Vec<String> = text::tokens(&self.question)
            .into_iter()
            .map(|t| t.word)
            .collect();
        let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
        let in_answer: Vec<Mention> = vocab.link(&text::tokens(answer), &lex.synonyms, &lex.known);
        let answer_people: Vec<String> = unique(
            in_answer
                .iter()
                .filter(|m| m.kind == Some(Kind::Person))
                .map(|m| m.name.clone()),
        );
        // "what are they working on?" after a list of people: "they" is those people,
        // when this question names nobody and the last one asked about no one person;
        // after "who's the most overloaded person?" it is the one person ranked first.
        let they_here = has(&["they", "them"])
            && !self.mentions.iter().any(|m| m.kind.is_some())
            && !prior.mentions.iter().any(|m| m.kind == Some(Kind::Person));
        let they_one = they_here && prior.ranks();
        let they_people = they_here && !they_one && answer_people.len() >= 2;
        let which_of = they_people
            || words.windows(2).any(|w| {
                matches!(w[0].as_str(), "of" | "among")
                    && matches!(w[1].as_str(), "them" | "those" | "these" | "they")
            });
        if which_of && !answer_people.is_empty() {
            self.among = answer_people.clone();
            self.follow_up = true;
        }
        let kinds_here: HashSet<Kind> = self.mentions.iter().filter_map(|m| m.kind).collect();
        // "which of them…": the people of the last answer, not the last question's person.
        let that_person = words.iter().enumerate().any(|(i, w)| {
            w == "person" && i > 0 && matches!(words[i - 1].as_str(), "that" | "this")
        });
        if (has(HE_SHE) || that_person || they_one)
            && !kinds_here.contains(&Kind::Person)
            && !which_of
        {
            // The person the last exchange was about: named in the question, else answered;
            // "that person" after "who is Sofia's manager?" is the one answered, and "who
            // else …" is about someone other than the person asked about.
            let asked = prior
                .mentions
                .iter()
                .find(|m| m.kind == Some(Kind::Person) && !m.name.is_empty())
                .map(|m| m.name.clone());
            let other = || {
                answer_people
                    .iter()
                    .find(|p| Some(*p) != asked.as_ref())
                    .cloned()
            };
            // "who else reports to him?" after "who does Ben report to?" is the manager
            // answered; "who else on his team…" after "is he overloaded?" is still him.
            let answered_who = asks_who_but(&prior.question, prior);
            let person = if has(&["else", "other"]) && answered_who {
                other()
            } else if that_person && answered_who {
                other().or(asked)
            } else {
                asked.or_else(|| answer_people.first().cloned())
            };
            if let Some(name) = person {
                self.mentions.push(remembered(Kind::Person, name));
                self.respell(HE, "{person}");
                if they_one {
                    self.respell(IT, "{person}");
                }
                self.follow_up = true;
            }
        }
        let elliptical = words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "and" | "also" | "same" | "or"))
            || words.windows(2).any(|w| {
                matches!(
                    (w[0].as_str(), w[1].as_str()),
                    ("what" | "how", "about") | ("same", "for")
                )
            })
            || self.intent_words(prior) <= 1;
        if has(THEY_IT) || elliptical || which_of {
            // Names of kinds this question does not mention carry over; "which of them"
            // keeps the last answer's people instead of its person, and a person of
            // this question stands for a group by title.
            let person_here = self.mentions.iter().any(|x| x.kind == Some(Kind::Person));
            for m in &prior.mentions {
                // "who's the Mobile manager?" — "what about Data?": the same role, found
                // again for the name that replaces the one it was found through.
                if !person_here
                    && let Some(via) = &m.via
                    && let Some((arg, i)) = via.args.iter().find_map(|(arg, v)| {
                        let Some(Slot::Entity(k)) = Slot::by_arg_name(arg, &Value::Null) else {
                            return None;
                        };
                        self.mentions
                            .iter()
                            .position(|x| x.kind == Some(k) && Some(x.name.as_str()) != v.as_str())
                            .map(|i| (arg.clone(), i))
                    })
                {
                    let by = self.mentions.remove(i);
                    let mut via = via.clone();
                    via.args.insert(arg, json!(by.name));
                    let mut again = remembered(Kind::Person, String::new());
                    again.name = vocab.heads.get(&by.name).cloned().unwrap_or_default();
                    again.tokens = by.tokens;
                    again.via = Some(via);
                    self.mentions.push(again);
                    self.follow_up = true;
                    continue;
                }
                if let Some(k) = m.kind
                    && !m.name.is_empty()
                    && !(which_of && k == Kind::Person)
                    && !(person_here && k == Kind::Title)
                    && !self.mentions.iter().any(|x| x.kind == Some(k))
                    && (elliptical || !self.mentions.iter().any(|x| x.kind.is_some()))
                {
                    self.mentions.push(remembered(k, m.name.clone()));
                    // "are any of them out?": "them" is the people, not what found them.
                    if !which_of {
                        self.respell(IT, &format!("{{{}}}", k.as_str()));
                    }
                    self.follow_up = true;
                }
            }
        }
        // "and compared to Data?": the last turn's name of the same kind stays beside it.
        if self.compare {
            for m in prior.mentions.iter().rev() {
                if let Some(k) = m.kind
                    && !m.name.is_empty()
                    && self.mentions.iter().any(|x| x.kind == Some(k))
                    && !self.mentions.iter().any(|x| x.name == m.name)
                {
                    self.mentions.insert(0, remembered(k, m.name.clone()));
                    self.follow_up = true;
                }
            }
        }
        self.follow_reference(prior, &words, lex, vocab);
        if self.window.is_none()
            && let Some(w) = &prior.window
        {
            self.window = window_after(&words, w);
            // "the week after" was read as a window: its words are no intent.
            if self.window.is_some() {
                self.features
                    .retain(|f| f.starts_with('{') || !f.split(' ').all(is_time_word));
            }
        }
        // "which team's lead time is getting worse?" — "is their review wait anomalous
        // too?": what the last question asked for is the first of its kind the answer names.
        if let Some(kind) = asked_kind(&prior.question)
            && kind != Kind::Person
            && (has(THEY_IT) || words.windows(2).any(|w| kind_word(&w[1]) == Some(kind)))
            && !self.mentions.iter().any(|m| m.kind == Some(kind))
            && !prior.mentions.iter().any(|m| m.kind == Some(kind))
            && let Some(m) = in_answer.iter().find(|m| m.kind == Some(kind))
        {
            self.mentions.push(remembered(kind, m.name.clone()));
            self.respell(IT, &format!("{{{}}}", kind.as_str()));
            self.follow_up = true;
        }
        // "the team", "that service", "on the project": the one the last turn named.
        for pair in words.windows(2) {
            let Some(kind) = kind_word(&pair[1]) else {
                continue;
            };
            if matches!(
                pair[0].as_str(),
                "the" | "that" | "this" | "same" | "their" | "its"
            ) && !self.mentions.iter().any(|m| m.kind == Some(kind))
                && let Some(m) = prior
                    .mentions
                    .iter()
                    .find(|m| m.kind == Some(kind) && !m.name.is_empty())
            {
                self.mentions.push(remembered(kind, m.name.clone()));
                self.follow_up = true;
            }
        }
        // "which team deploys most?" — "and which one has the worst failure rate?": the
        // same teams, compared again.
        if self.across.is_empty()
            && !prior.across.is_empty()
            && !self.mentions.iter().any(|m| m.kind == Some(Kind::Team))
            && words
                .windows(2)
                .any(|w| w[0] == "which" && matches!(w[1].as_str(), "one" | "of"))
        {
            self.across = prior.across.clone();
            self.follow_up = true;
        }
        if elliptical && !own_intent {
            if self.window.is_none() {
                self.window = prior.window.clone();
            }
            if self.order.is_none() {
                self.order = prior.order;
            }
            if self.top.is_none() {
                self.top = prior.top;
            }
            // The previous question's words, so the previous tool wins again.
            if let Some(best) = prior.candidates.first().filter(|c| c.score >= ACCEPT) {
                // Not the words of its window ("last sprint"), which this turn may replace;
                // "sprint" said as a thing ("how's Mobile's sprint going?") stays.
                let timed = prior.window.is_some();
                self.features.extend(
                    prior
                        .features
                        .iter()
                        .filter(|f| {
                            !f.starts_with('{') && (!timed || !f.split(' ').all(is_time_word))
                        })
                        .cloned(),
                );
                self.features.sort_unstable();
                self.features.dedup();
                self.stems.extend(prior.stems.iter().cloned());
                self.follow_up = true;
                self.previous_tool = Some(best.tool.clone());
            }
        }
        if self.follow_up && !which_of {
            // Placeholders for the names that came from memory (args only for "which of
            // them": the question's own words choose the tool).
            for m in &self.mentions {
                if let Some(k) = m.kind {
                    let f = format!("{{{}}}", k.as_str());
                    if !self.features.contains(&f) {
                        self.features.push(f);
                    }
                }
            }
            self.features.sort_unstable();
        }
    }

    /// "what's the lead working on?", "tell me about its lead", "who's their manager's
    /// manager?": a role said with no name beside it is the role of what the last turn
    /// named — the kind the last question named itself first — found by the role's
    /// lookup as a step of its own.
    fn follow_reference(
        &mut self,
        prior: &Understanding,
        words: &[String],
        lex: &Lexicon,
        vocab: &Vocabulary,
    ) {
        if self.mentions.iter().any(|m| m.kind == Some(Kind::Person)) {
            return;
        }
        let named_before = |k: Kind, own: bool| {
            let of_kind = |m: &&Mention| m.kind == Some(k) && !m.name.is_empty();
            match own {
                true => prior
                    .mentions
                    .iter()
                    .find(|m| of_kind(m) && !m.tokens.is_empty()),
                false => prior.mentions.iter().chain(&self.mentions).find(of_kind),
            }
            .map(|m| m.name.clone())
        };
        let found = [true, false].into_iter().find_map(|own| {
            lex.references.iter().find_map(|r| {
                let kind = r.of?;
                let i = (1..words.len()).find(|&i| {
                    r.words.contains(&words[i])
                        && ROLE_OPENERS.contains(&words[i - 1].as_str())
                        && !matches!(words.get(i + 1).map(String::as_str), Some("time" | "times"))
                })?;
                Some((r, kind, i, named_before(kind, own)?))
            })
        });
        let Some((r, kind, i, target)) = found else {
            return;
        };
        let Some(arg) = &r.arg else {
            return;
        };
        let role = words[i].clone();
        let mut args = Map::new();
        args.insert(arg.clone(), json!(target));
        // The question is about the person now, not what they lead.
        self.mentions.retain(|m| m.kind != Some(kind));
        // Whoever heads it is known already, or found by the role's lookup first.
        let head = vocab.heads.get(&target).cloned();
        let via = head.is_none().then(|| vocab::Via {
            tool: r.tool.clone(),
            args,
            pick: r.pick.clone(),
            said: format!("the {role} of {target}"),
        });
        self.mentions.push(Mention {
            kind: Some(Kind::Person),
            name: head.unwrap_or_default(),
            tokens: i..i + 1,
            how: How::Partial,
            possessive: false,
            via,
        });
        // The role word is the person now; said twice ("manager's manager"), the second
        // stays a word.
        let stem = text::stem(&role);
        let is_role = |w: &str| w == role || w == stem;
        if words.iter().filter(|w| **w == role).count() == 1 {
            self.features
                .retain(|f| f.starts_with('{') || !f.split(' ').any(is_role));
        }
        let placeholder = format!("{{{}}}", kind.as_str());
        self.features.retain(|f| !f.contains(&placeholder));
        self.features.push(String::from("{person}"));
        self.features.sort_unstable();
        self.features.dedup();
        self.follow_up = true;
    }

    /// The words of a follow-up that say what to do, not which or when: no names, no
    /// time, no words of ellipsis ("same", "only", "compare with"), no values the last
    /// tool's arguments take.
    fn intent_words(&self, prior: &Understanding) -> usize {
        let narrows = |f: &str| {
            prior.candidates.first().is_some_and(|c| {
                c.slots.iter().any(|s| {
                    s.options
                        .iter()
                        .any(|(_, stems)| stems.iter().any(|w| same_stem(f, w)))
                })
            })
        };
        self.features
            .iter()
            .filter(|f| !f.starts_with('{') && !f.contains(' '))
            .filter(|f| !is_time_word(f) && !ELLIPSIS.iter().any(|w| text::stem(w) == **f))
            .filter(|f| !narrows(f))
            // A word the last question had too says nothing new ("incidents" … "sev1s").
            .filter(|f| !prior.features.contains(f))
            .count()
    }

    /// "is it on track?", "what's their on-call like?", "compare the two teams", "which
    /// one is worse?": words that point back at something, with nothing named in the
    /// question ("who has too much on their plate" points at its own "who").
    fn points_at_nothing(&self) -> bool {
        if self.mentions.iter().any(|m| m.kind.is_some()) || !self.across.is_empty() {
            return false;
        }
        let words: Vec<String> = text::tokens(&self.question)
            .into_iter()
            .map(|t| t.word)
            .collect();
        let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
        let own_subject = has(&[
            "who",
            "whos",
            "whoever",
            "which",
            "anyone",
            "anybody",
            "everyone",
            "someone",
            "somebody",
            "people",
            "engineers",
            "nobody",
        ]);
        // A pronoun with words before it that it can stand for ("incidents … that
        // caused them", "how long does it take") points inside the question.
        let pronoun = !own_subject
            && words
                .iter()
                .position(|w| matches!(w.as_str(), "it" | "its" | "they" | "them" | "their"))
                .is_some_and(|i| words[..i].iter().all(|w| text::is_stopword(w)));
        let pointing = words.windows(2).any(|w| {
            matches!(
                (w[0].as_str(), w[1].as_str()),
                ("the" | "these" | "those", "two" | "three" | "both")
                    | ("both", "teams" | "services" | "projects" | "of")
                    | ("which" | "that" | "this" | "the", "one")
                    | ("the", "other")
            )
        });
        pronoun || pointing
    }

    /// Features written with a pronoun's placeholder, rewritten for the name it stands for.
    fn respell(&mut self, pronoun: &str, placeholder: &str) {
        for f in &mut self.features {
            *f = f.replace(pronoun, placeholder);
        }
    }

    /// Scores every tool; required arguments left empty are noted.
    fn rank(&mut self, lex: &Lexicon) {
        let kinds: HashSet<Kind> = self.mentions.iter().filter_map(|m| m.kind).collect();
        let unknown = self.mentions.iter().any(|m| m.kind.is_none());
        let query = lex.query(&self.features);
        // The features with an unknown name read as each kind, weighed once per kind.
        let mut as_kind: std::collections::HashMap<Kind, lexicon::Query> = Default::default();
        let mut out: Vec<Candidate> = lex
            .profiles
            .iter()
            .map(|p| {
                // An unknown name is read as each kind of name the tool takes, the best kept.
                let mut score = if self.features.iter().any(|f| f.contains(UNKNOWN)) {
                    let mut kinds: Vec<Kind> = p
                        .slots
                        .iter()
                        .filter_map(|s| match s.slot {
                            Slot::Entity(k) => Some(k),
                            Slot::Topic => Some(Kind::Skill),
                            _ => None,
                        })
                        .collect();
                    kinds.push(Kind::Person);
                    kinds
                        .into_iter()
                        .map(|k| {
                            let q = as_kind.entry(k).or_insert_with(|| {
                                let as_k: Vec<String> = self
                                    .features
                                    .iter()
                                    .map(|f| f.replace(UNKNOWN, &format!("{{{}}}", k.as_str())))
                                    .collect();
                                lex.query(&as_k)
                            });
                            lex.score(p, q)
                        })
                        .fold(0.0, f32::max)
                } else {
                    lex.score(p, &query)
                };
                for k in &kinds {
                    score += if p.takes_kind(*k) { 0.05 } else { -0.06 };
                }
                if self.window.is_some() {
                    // A tool counting back from today ("weeks") cannot answer about March.
                    let dated = p.slots.iter().any(|s| s.arg == "since");
                    score += match (p.takes(Slot::Window), self.closed_window && !dated) {
                        (true, false) => 0.03,
                        (false, false) => -0.03,
                        (_, true) => -0.12,
                    };
                }
                let missing: Vec<String> = p
                    .slots
                    .iter()
                    .filter(|s| s.required && !self.fills(s.slot, unknown))
                    .map(|s| s.arg.clone())
                    .collect();
                if !missing.is_empty() {
                    score -= 0.1;
                }
                // "which engineer has the most pending reviews?": the person is what a
                // ranking asks for, so a tool that needs one given cannot answer it.
                if self.ranks()
                    && p.slots.iter().any(|s| {
                        s.required
                            && s.slot == Slot::Entity(Kind::Person)
                            && missing.contains(&s.arg)
                    })
                {
                    score -= 0.6;
                }
                // "who reviews the most on Data?": a ranking wants a tool with figures.
                if self.ranks() && p.ranks {
                    score += RANKS;
                }
                // "which of those are sev1?": the tool that just answered, narrowed.
                if self.previous_tool.as_ref() == Some(&p.tool) {
                    score += 0.1;
                }
                // A query that explains every word of the question beats a near miss.
                if let Some(d) = &self.sql
                    && p.takes(Slot::Sql)
                {
                    score = score.max(if d.sure { DRAFTED } else { ACCEPT });
                }
                Candidate {
                    tool: p.tool.clone(),
                    score,
                    missing,
                    slots: p.slots.clone(),
                    measures: p.measures.clone(),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.tool.cmp(&b.tool))
        });
        self.candidates = out;
    }

    fn fills(&self, slot: Slot, unknown: bool) -> bool {
        match slot {
            Slot::Entity(k) => {
                self.mentions.iter().any(|m| m.kind == Some(k))
                    || (unknown
                        && matches!(k, Kind::Person | Kind::Team | Kind::Skill | Kind::Service))
            }
            Slot::Topic => {
                unknown
                    || self
                        .mentions
                        .iter()
                        .any(|m| matches!(m.kind, Some(Kind::Skill | Kind::Service)))
            }
            Slot::Age => self.age_days.is_some(),
            Slot::Top => self.top.is_some(),
            Slot::Window | Slot::Text | Slot::Choice | Slot::Level | Slot::Sql => true,
        }
    }

    /// The best tool among `allowed` (a node's tools), if any answers well enough.
    pub fn best(&self, allowed: impl Fn(&str) -> bool) -> Option<&Candidate> {
        self.candidates
            .iter()
            .find(|c| allowed(&c.tool))
            .filter(|c| c.score >= ACCEPT)
    }

    /// The `n` best tools among `allowed`, whatever their score (for "did you mean").
    pub fn nearest(&self, allowed: impl Fn(&str) -> bool, n: usize) -> Vec<&Candidate> {
        self.candidates
            .iter()
            .filter(|c| allowed(&c.tool) && c.score > 0.0)
            .take(n)
            .collect()
    }

    /// The measure among `figures` (name, other words for it) the question speaks of: most
    /// shared words, then fewest unshared (the shortest name when none is named), then
    /// the first.
    pub fn measure<'a>(&self, figures: &[(&'a str, &[String])]) -> Option<&'a str> {
        figures
            .iter()
            .enumerate()
            .max_by_key(|(i, f)| (self.fit(f), std::cmp::Reverse(*i)))
            .map(|(_, f)| f.0)
    }

    /// The figure the question itself names: the one of `figures` that fits the question
    /// better than any other ("how long does it take us to recover" → recovery time);
    /// none when no figure is named or two are named as fully.
    pub fn named_measure<'a>(&self, figures: &[(&'a str, &[String])]) -> Option<&'a str> {
        let mut fits: Vec<_> = figures.iter().map(|f| (self.fit(f), f.0)).collect();
        fits.sort_by_key(|f| std::cmp::Reverse(f.0));
        // At least half of its name said ("what changed" is no change failure rate).
        match fits.as_slice() {
            [(fit, n), rest @ ..]
                if fit.0 > 0 && fit.0 >= fit.1.0 && rest.first().is_none_or(|(o, _)| o < fit) =>
            {
                Some(n)
            }
            _ => None,
        }
    }

    /// Words of a figure's name the question uses, and those it does not: "who opened the
    /// most pull requests" is the pull requests, not the merged pull requests. A word
    /// declared for the figure ("slowest" for a wait) names it wholly.
    fn fit(&self, (name, words): &(&str, &[String])) -> (usize, std::cmp::Reverse<usize>) {
        let said = |w: &str| {
            let w = text::stem(&text::fold(w));
            self.stems.iter().any(|q| same_stem(q, &w))
        };
        let parts: Vec<&str> = name.split([' ', '_', '-']).collect();
        if words.iter().any(|w| said(w)) {
            return (parts.len() + 1, std::cmp::Reverse(0));
        }
        let hit = parts.iter().filter(|w| said(w)).count();
        (hit, std::cmp::Reverse(parts.len() - hit))
    }

    /// "which is better?", "who's faster?": a question that only asks which of what was
    /// said wins.
    fn asks_which_of_two(&self) -> bool {
        let words: Vec<String> = text::tokens(&self.question)
            .into_iter()
            .map(|t| t.word)
            .collect();
        matches!(
            words.first().map(String::as_str),
            Some("which" | "who" | "whos")
        ) && words.iter().any(|w| COMPARATIVE.contains(&w.as_str()))
    }

    /// The person the question is about, named or remembered from the thread ("is he
    /// overloaded?"), for an answer that lists many to speak of them first.
    pub fn about(&self) -> Option<&str> {
        self.mentions
            .iter()
            .find(|m| m.kind == Some(Kind::Person) && !m.name.is_empty())
            .map(|m| m.name.as_str())
    }

    /// The question ranks: most or least, best or worst.
    pub fn ranks(&self) -> bool {
        self.order.is_some() || self.best_or_worst.is_some()
    }

    /// Which end of a ranking is asked for: Most/Least by the words, or by `better` when
    /// the question says best or worst.
    pub fn wants_max(&self, higher_is_better: bool) -> bool {
        if let Some(best) = self.best_or_worst {
            return best == higher_is_better;
        }
        match self.order {
            Some(Order::Most) => true,
            Some(Order::Least) => false,
            None => higher_is_better,
        }
    }

    /// How the question said the window starting on `since` ("April 2025").
    pub fn window_label(&self, since: &str) -> Option<&str> {
        [&self.window, &self.versus]
            .into_iter()
            .flatten()
            .find(|w| w.dates().0.to_string() == since)
            .map(|w| w.label.as_str())
    }

    /// One line for a model's context: the names and window the question resolved to.
    pub fn note(&self) -> Option<String> {
        let mut parts: Vec<String> = self
            .mentions
            .iter()
            .filter(|m| !m.name.is_empty())
            .filter_map(|m| m.kind.map(|k| format!("{} = {}", k.as_str(), m.name)))
            .collect();
        if let Some(w) = &self.window {
            let (a, b) = w.dates();
            parts.push(format!("window = {a} to {b} ({})", w.label));
        }
        if !self.among.is_empty() {
            parts.push(format!("only these people = {}", self.among.join(", ")));
        }
        if !self.excluded.is_empty() {
            parts.push(format!("leave out = {}", self.excluded.join(", ")));
        }
        // The model may run the drafted query (query_database's `sql`) or write its own.
        if let Some(d) = self.sql.as_ref().filter(|d| d.sure) {
            parts.push(format!("a query that answers it = {}", d.sql));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "The question refers to (resolved against the organisation's data; use these exact names as arguments): {}.",
                parts.join("; ")
            )
        })
    }

    /// A result narrowed to the people of "which of them…", where it lists people, and
    /// without the people set aside ("besides Kenji").
    pub fn keep_among(&self, v: Value) -> Value {
        if self.among.is_empty() && !self.among_only && self.excluded.is_empty() {
            return v;
        }
        // A row about nobody in particular ("unassigned") is about none of them.
        let narrowed = !self.among.is_empty() || self.among_only;
        let keep = |row: &Value| {
            let Some(who) = [
                "name", "reviewer", "author", "person", "assignee", "employee",
            ]
            .iter()
            .find_map(|k| row.get(k)) else {
                return true;
            };
            let who = who.as_str();
            if who.is_some_and(|n| self.excluded.iter().any(|e| e == n)) {
                return false;
            }
            !narrowed || who.is_some_and(|n| self.among.iter().any(|a| a == n))
        };
        match v {
            Value::Array(rows) => Value::Array(rows.into_iter().filter(keep).collect()),
            Value::Object(mut o) => {
                if let Some(Value::Array(rows)) = o.get_mut("people") {
                    rows.retain(keep);
                }
                Value::Object(o)
            }
            other => other,
        }
    }

    fn names(&self, kind: Kind) -> Vec<String> {
        unique(
            self.mentions
                .iter()
                .filter(|m| m.kind == Some(kind) && !m.name.is_empty())
                .map(|m| m.name.clone()),
        )
    }

    /// People said by a role whose lookup has not run yet.
    pub fn references(&self) -> impl Iterator<Item = (usize, &vocab::Via)> {
        self.mentions
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.via.as_ref().map(|v| (i, v)))
    }

    /// The person the `i`th mention's lookup found (`None`: nobody, so who is meant is
    /// asked back).
    pub fn found(&mut self, i: usize, name: Option<String>, vocab: &Vocabulary) {
        match name {
            Some(name) => {
                self.person_team = vocab.team_of.get(&name).cloned();
                let m = &mut self.mentions[i];
                m.name = name;
                m.via = None;
            }
            None => {
                self.mentions.remove(i);
                self.unresolved = true;
            }
        }
    }

    fn unknown(&self) -> Option<String> {
        self.mentions
            .iter()
            .find(|m| m.kind.is_none())
            .map(|m| m.name.clone())
    }

    /// The calls that answer the question with `p`: one, or one per entity when the
    /// question names several of a kind the tool takes one of ("Mobile vs Platform",
    /// "Go and Kafka"). `schema` is the tool's argument schema.
    pub fn calls(&self, c: &Candidate, schema: &Value) -> Vec<Map<String, Value>> {
        let props = schema.get("properties").and_then(Value::as_object);
        let has = |a: &str| props.is_some_and(|p| p.contains_key(a));
        let mut base = Map::new();
        let mut fan: Option<(String, Vec<String>)> = None;
        // A name the organisation lacks goes to the first entity argument left empty
        // (required ones first): the tool then says "no team named X — did you mean Y?".
        let unknown_for: Option<String> = {
            let empty = |s: &&lexicon::ArgSlot| matches!(s.slot, Slot::Entity(k) if self.names(k).is_empty());
            let mut order: Vec<&lexicon::ArgSlot> = c.slots.iter().filter(|s| s.required).collect();
            let mut optional: Vec<&lexicon::ArgSlot> =
                c.slots.iter().filter(|s| !s.required).collect();
            optional.sort_by_key(|s| match s.slot {
                Slot::Entity(k) => k,
                _ => Kind::Title,
            });
            order.extend(optional);
            order.into_iter().find(empty).map(|s| s.arg.clone())
        };
        for s in c.slots.iter() {
            let values: Vec<String> = match s.slot {
                Slot::Entity(k) => {
                    let mut v = self.names(k);
                    if v.is_empty()
                        && k == Kind::Team
                        && !c.slots.iter().any(|s| s.slot == Slot::Entity(Kind::Person))
                        && let Some(t) = &self.person_team
                    {
                        v.push(t.clone());
                    }
                    if v.is_empty()
                        && unknown_for.as_deref() == Some(s.arg.as_str())
                        && let Some(u) = self.unknown()
                    {
                        v.push(u);
                    }
                    v
                }
                Slot::Topic => {
                    let mut v = self.names(Kind::Skill);
                    v.extend(self.names(Kind::Service));
                    if v.is_empty()
                        && let Some(u) = self.unknown()
                    {
                        v.push(u);
                    }
                    v
                }
                Slot::Window => continue,
                Slot::Age => {
                    if let Some(d) = self.age_days {
                        base.insert(s.arg.clone(), json!(d));
                    }
                    continue;
                }
                Slot::Top => {
                    // A ranking needs all of the list: the tool sorts by its own figure,
                    // and the question may rank by another ("the slowest reviewer" of a
                    // list sorted by reviews) or ask for its low end.
                    // So does a list narrowed to some people afterwards ("which of them"),
                    // or one that must show whether the person asked about is in it.
                    let low_end = self.ranks()
                        || !self.among.is_empty()
                        || self.among_via.is_some()
                        || self.about().is_some();
                    let max = props
                        .and_then(|p| p.get(&s.arg))
                        .and_then(|a| a.get("maximum"));
                    match (self.top, max) {
                        (Some(n), _) => {
                            base.insert(s.arg.clone(), json!(n));
                        }
                        (None, Some(max)) if low_end => {
                            base.insert(s.arg.clone(), max.clone());
                        }
                        _ => {}
                    }
                    continue;
                }
                Slot::Text => {
                    base.insert(s.arg.clone(), json!(self.question.trim()));
                    continue;
                }
                Slot::Level => {
                    let max = props
                        .and_then(|p| p.get(&s.arg))
                        .and_then(|a| a.get("maximum"))
                        .and_then(Value::as_i64)
                        .unwrap_or(10);
                    if let Some(n) = self.levels.iter().find(|n| (2..=max).contains(n)) {
                        base.insert(s.arg.clone(), json!(n));
                    }
                    continue;
                }
                Slot::Sql => {
                    if let Some(d) = &self.sql {
                        base.insert(s.arg.clone(), json!(d.sql));
                    }
                    continue;
                }
                Slot::Choice => {
                    let about_one = c.slots.iter().any(|s| match s.slot {
                        Slot::Entity(k) => !self.names(k).is_empty(),
                        _ => false,
                    });
                    let Some(v) = self.choose(&s.options) else {
                        continue;
                    };
                    // "is the Ledger migration on track?": the value that ends a yes/no
                    // question about something named is what to answer, not a filter.
                    let predicate = self.last_word.as_ref().is_some_and(|w| {
                        s.options
                            .iter()
                            .any(|(o, stems)| *o == v && stems.iter().any(|x| same_stem(w, x)))
                    });
                    if !(self.yes_no && about_one && predicate) {
                        base.insert(s.arg.clone(), v);
                    }
                    continue;
                }
            };
            match values.len() {
                0 => {}
                1 => {
                    base.insert(s.arg.clone(), json!(values[0]));
                }
                _ if fan.is_none() => fan = Some((s.arg.clone(), values)),
                _ => {
                    base.insert(s.arg.clone(), json!(values[0]));
                }
            }
        }
        // "last 4 sprints" → `sprints: 4`: an integer argument named after what is counted.
        for (arg, schema) in props.into_iter().flatten() {
            if base.contains_key(arg)
                || schema.get("type").and_then(Value::as_str) != Some("integer")
            {
                continue;
            }
            let stem = text::stem(arg);
            if let Some((n, _)) = self.counts.iter().find(|(_, w)| *w == stem) {
                base.insert(arg.clone(), json!(n));
            }
        }
        if let Some(w) = &self.window {
            // The tool's own words for the window where they say it exactly.
            if let (true, Some(d)) = (has("days"), w.days) {
                base.insert("days".into(), json!(d));
            } else if let (true, Some(d)) = (has("weeks"), w.days) {
                base.insert("weeks".into(), json!((d + 6) / 7));
            } else if let (true, Some(p)) = (has("period"), &w.period) {
                base.insert("period".into(), json!(p));
            } else if has("since") {
                let (a, b) = w.dates();
                base.insert("since".into(), json!(a.to_string()));
                if has("until") {
                    base.insert("until".into(), json!(b.to_string()));
                }
            } else if has("days")
                && self
                    .now
                    .is_some_and(|now| (now - w.end).num_hours().abs() < 24)
            {
                base.insert("days".into(), json!(w.span_days().max(1)));
            }
        }
        // Across teams: one call per team, when the tool takes one team and has figures.
        let team_arg = c
            .slots
            .iter()
            .find(|s| s.slot == Slot::Entity(Kind::Team))
            .map(|s| s.arg.clone());
        if fan.is_none()
            && !self.across.is_empty()
            && !c.measures.is_empty()
            && let Some(arg) = team_arg
            && !base.contains_key(&arg)
        {
            fan = Some((arg, self.across.clone()));
        }
        // Two windows side by side: the same call for each, when the tool takes dates.
        if fan.is_none()
            && let Some(v) = &self.versus
            && has("since")
        {
            let (a, b) = v.dates();
            let mut other = base.clone();
            other.insert("since".into(), json!(a.to_string()));
            if has("until") {
                other.insert("until".into(), json!(b.to_string()));
            }
            return vec![base, other];
        }
        match fan {
            None => vec![base],
            Some((arg, values)) => values
                .into_iter()
                .map(|v| {
                    let mut m = base.clone();
                    m.insert(arg.clone(), json!(v));
                    m
                })
                .collect(),
        }
    }

    /// The enum value whose stems the question uses most ("failed deployments" →
    /// failed_deployments), a stem matching when one is a prefix of the other.
    fn choose(&self, options: &[(Value, Vec<String>)]) -> Option<Value> {
        options
            .iter()
            .filter_map(|(o, stems)| {
                let hits: Vec<&String> = stems
                    .iter()
                    .filter(|w| {
                        self.stems.iter().any(|q| same_stem(q, w)) || self.joined.contains(w)
                    })
                    .collect();
                // "docs" says no "design doc": a value of several words needs more than its
                // last, the noun every value of its kind may share.
                let words: Vec<String> = o
                    .as_str()
                    .unwrap_or_default()
                    .split(['_', ' ', '-'])
                    .filter(|w| !w.is_empty() && !text::is_stopword(w))
                    .map(text::stem)
                    .collect();
                let only_last = words.len() >= 2
                    && hits
                        .iter()
                        .all(|h| words.last().is_some_and(|l| same_stem(h, l)));
                (!hits.is_empty() && !only_last).then_some((hits.len(), -(stems.len() as i64), o))
            })
            .max_by_key(|(hit, len, _)| (*hit, *len))
            .map(|(_, _, o)| o.clone())
    }
}

/// The kind of thing a word names ("team", "services").
fn kind_word(w: &str) -> Option<Kind> {
    match w {
        "team" | "teams" | "squad" | "squads" => Some(Kind::Team),
        "service" | "services" => Some(Kind::Service),
        "project" | "projects" => Some(Kind::Project),
        _ => None,
    }
}

/// What a "which team …" / "what service …" question asks for.
fn asked_kind(question: &str) -> Option<Kind> {
    let words: Vec<String> = text::tokens(question).into_iter().map(|t| t.word).collect();
    words.windows(2).find_map(|w| match w[0].as_str() {
        "which" | "what" | "whose" => kind_word(&w[1]),
        _ => None,
    })
}

/// "who is Sofia's manager?", "who does Kenji report to?": a question whose answer is a
/// person other than the one it names ("who is Sofia?" only asks who she is).
fn asks_who_but(question: &str, reading: &Understanding) -> bool {
    let tokens = text::tokens(question);
    let named = |i: usize| reading.mentions.iter().any(|m| m.tokens.contains(&i));
    // "who's the manager of Mobile?" names the person by a role: the answer is that person.
    let by_role = reading.mentions.iter().any(|m| {
        m.kind == Some(Kind::Person)
            && !m.tokens.is_empty()
            && m.tokens.end <= tokens.len()
            && tokens[m.tokens.clone()]
                .iter()
                .all(|t| !text::fold(&m.name).contains(&t.word))
    });
    if by_role {
        return false;
    }
    let words: Vec<&str> = tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| !named(*i) && !text::is_stopword(&t.word))
        .map(|(_, t)| t.word.as_str())
        .collect();
    tokens
        .first()
        .is_some_and(|t| matches!(t.word.as_str(), "who" | "whos" | "whom"))
        && words
            .iter()
            .any(|w| !matches!(*w, "who" | "whos" | "whom" | "s"))
}

/// "that person", "this person": someone the thread named before.
fn points_back(before: &[text::Token]) -> bool {
    before
        .last()
        .is_some_and(|t| matches!(t.word.as_str(), "that" | "this"))
}

/// Words that leave out what the last turn said: "same for Mobile", "just the open
/// ones", "compare with last quarter", "and for Payments only?".
const ELLIPSIS: &[&str] = &[
    "and",
    "still",
    "any",
    "also",
    "same",
    "just",
    "only",
    "compare",
    "with",
    "too",
    "one",
    "ones",
    "those",
    "these",
    "instead",
    "again",
    "now",
    "specifically",
    "alone",
    "what",
    "about",
    "how",
    "for",
    "then",
];

/// Words of a window said against the previous one ("the week after", "that month").
fn is_time_word(w: &str) -> bool {
    time::unit_days(w).is_some()
        || matches!(
            w,
            "after"
                | "befor"
                | "before"
                | "later"
                | "earlier"
                | "follow"
                | "following"
                | "previous"
                | "prior"
                | "then"
                | "same"
        )
}

/// A window said against the previous one: "the week after" / "the month before" (the
/// previous window moved), "that week", "the same month", "then", or "they"/"those" about
/// what the previous answer counted (the previous window itself).
fn window_after(words: &[String], prior: &Window) -> Option<Window> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    for i in 0..w.len() {
        let Some(unit) = time::unit_days(w[i]) else {
            continue;
        };
        let before = i.checked_sub(1).map(|j| w[j]);
        let later = match (before, w.get(i + 1).copied()) {
            (_, Some("after" | "later")) | (Some("following"), _) => Some(true),
            (_, Some("before" | "earlier")) | (Some("previous" | "prior"), _) => Some(false),
            _ => None,
        };
        if let Some(later) = later {
            let label = format!("the {unit} {}", if later { "after" } else { "before" });
            return prior.shifted(unit, later, &label);
        }
        if matches!(before, Some("that" | "same" | "those")) {
            return Some(prior.clone());
        }
    }
    let back = w.last() == Some(&"then")
        || w.iter()
            .any(|x| matches!(*x, "them" | "those" | "they" | "these"));
    back.then(|| prior.clone())
}

/// Words that name a person after a superlative ("the most overloaded engineer").
const PERSON_NOUNS: &[&str] = &[
    "person",
    "engineer",
    "dev",
    "developer",
    "one",
    "someone",
    "member",
    "ic",
    "individual",
];

/// Words before a role with no name beside it ("the lead", "its owner", "their manager").
const ROLE_OPENERS: &[&str] = &["the", "its", "their", "his", "her", "that", "our"];

/// Words that open a reference ("the Payments manager", "whoever owns payments-api").
const REFERENCE_OPENERS: &[&str] = &["the", "our", "whoever", "whomever"];

/// "the Payments manager", "whoever owns payments-api", "our top Rust expert", "the most
/// overloaded engineer": a person said by a role (`vocabulary.references`) becomes a
/// person mention whose lookup (`via`) runs first; the name is known already for the
/// heads of teams and services. A question that only asks who that is ("who owns
/// payments-api?", "who is the busiest?") is the lookup's own and stays as it is.
fn resolve_references(
    u: &mut Understanding,
    tokens: &[text::Token],
    used: &mut [bool],
    lex: &Lexicon,
    vocab: &Vocabulary,
) {
    if u.mentions.iter().any(|m| m.kind == Some(Kind::Person)) {
        return;
    }
    let words: Vec<&str> = tokens.iter().map(|t| t.word.as_str()).collect();
    // "lead time" is a metric, not the team's lead.
    let role_at = |r: &lexicon::Reference, i: usize| {
        r.words
            .iter()
            .any(|w| w == words[i] || plural_of(w, words[i]))
            && !matches!(words.get(i + 1).copied(), Some("time" | "times"))
    };
    // Only asks who it is: every other word is a question word.
    let identity = |span: &std::ops::Range<usize>| {
        (0..words.len())
            .filter(|i| !span.contains(i) && !used[*i])
            .all(|i| text::is_stopword(words[i]) || PERSON_NOUNS.contains(&words[i]))
    };
    for r in &lex.references {
        let found: Option<(std::ops::Range<usize>, Option<usize>)> = match r.of {
            Some(kind) => u.mentions.iter().enumerate().find_map(|(mi, m)| {
                if m.kind != Some(kind) {
                    return None;
                }
                let after = (m.tokens.end..words.len().min(m.tokens.end + 2))
                    .find(|&i| role_at(r, i))
                    .map(|i| m.tokens.start..i + 1);
                let before = (m.tokens.start.saturating_sub(3)..m.tokens.start)
                    .rev()
                    .find(|&i| {
                        role_at(r, i)
                            && words[i + 1..m.tokens.start]
                                .iter()
                                .all(|w| matches!(*w, "of" | "the" | "for" | "on"))
                    })
                    .map(|i| i..m.tokens.end);
                after.or(before).map(|span| (span, Some(mi)))
            }),
            None => (0..words.len()).find_map(|i| {
                if !role_at(r, i) {
                    return None;
                }
                let from = (i.saturating_sub(2)..=i).find(|&j| MOST.contains(&words[j]))?;
                // "the 5 busiest …" asks for a list.
                if from > 0 && time::count(words[from - 1]).is_some() {
                    return None;
                }
                let mut to = i + 1;
                match words.get(to) {
                    Some(w) if PERSON_NOUNS.contains(w) => to += 1,
                    // "the most overloaded engineers" asks for a list, "the busiest
                    // service" is no person.
                    // "… the most open work working on": the verb after is the question's.
                    Some(w) if !text::is_stopword(w) && !matches!(*w, "working" | "doing") => {
                        return None;
                    }
                    _ => {}
                }
                Some((from..to, None))
            }),
        };
        let Some((span, of)) = found else {
            continue;
        };
        if identity(&span) {
            // "who's the EM for payments": the role word is no title here.
            u.mentions.retain(|m| {
                m.kind != Some(Kind::Title)
                    || !(span.start <= m.tokens.start && m.tokens.end <= span.end)
            });
            return;
        }
        let mut args = Map::new();
        let mut name = String::new();
        if let Some(mi) = of {
            let (Some(arg), Some(m)) = (&r.arg, u.mentions.get(mi)) else {
                continue;
            };
            args.insert(arg.clone(), json!(m.name));
            name = vocab.heads.get(&m.name).cloned().unwrap_or_default();
            // "which Kafka experts are on call?": every one the lookup finds, for a
            // question about something else (numbers and order words ask for the list).
            let plural = span
                .clone()
                .any(|i| r.words.iter().any(|w| plural_of(w, words[i])));
            let other_words = (0..words.len()).any(|i| {
                !span.contains(&i)
                    && !used[i]
                    && !text::is_stopword(words[i])
                    && !PERSON_NOUNS.contains(&words[i])
                    && words[i].parse::<u32>().is_err()
            });
            if plural && (other_words || u.window.is_some()) {
                let said =
                    u.question[tokens[span.start].start..tokens[span.end - 1].end].to_string();
                used[span.clone()].iter_mut().for_each(|x| *x = true);
                u.mentions.remove(mi);
                u.among_via = Some(vocab::Via {
                    tool: r.tool.clone(),
                    args,
                    pick: r.pick.clone(),
                    said,
                });
                return;
            }
            // "the top 3 Python experts" is the lookup's own list.
            if plural {
                continue;
            }
            u.mentions.remove(mi);
        }
        // "our top Rust expert", "the most overloaded engineer": from the opener on.
        let mut open = span.start;
        while open > 0
            && (REFERENCE_OPENERS.contains(&words[open - 1]) || MOST.contains(&words[open - 1]))
        {
            open -= 1;
        }
        let said = u.question[tokens[open].start..tokens[span.end - 1].end].to_string();
        used[span.clone()].iter_mut().for_each(|x| *x = true);
        u.mentions.push(Mention {
            kind: Some(Kind::Person),
            name,
            possessive: tokens[span.end - 1].possessive,
            tokens: span,
            how: How::Partial,
            via: Some(vocab::Via {
                tool: r.tool.clone(),
                args,
                pick: r.pick.clone(),
                said,
            }),
        });
        u.mentions.sort_by_key(|m| m.tokens.start);
        return;
    }
}

/// `word` is the plural of `role` ("experts", "managers").
fn plural_of(role: &str, word: &str) -> bool {
    word.len() == role.len() + 1 && word.starts_with(role) && word.ends_with('s')
}

/// Two stems that are one word ("fail" and "failur"): equal, or one a prefix of the other
/// when both are long enough to mean something.
fn same_stem(a: &str, b: &str) -> bool {
    a == b || (a.len().min(b.len()) >= 4 && (a.starts_with(b) || b.starts_with(a)))
}

/// A name known from earlier in the thread or a lookup, not said in this question.
pub fn remembered(kind: Kind, name: String) -> Mention {
    Mention {
        kind: Some(kind),
        name,
        tokens: 0..0,
        how: How::Exact,
        possessive: false,
        via: None,
    }
}

fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A request to change data: a refusal phrase from the vocabulary ("truncate", "drop table").
fn refuses(words: &[&str], lex: &Lexicon) -> bool {
    // A command verb opening the request ("reassign …", "please mark …", "can you close …").
    let lead = words
        .iter()
        .position(|w| {
            !matches!(
                *w,
                "please"
                    | "can"
                    | "could"
                    | "would"
                    | "you"
                    | "go"
                    | "just"
                    | "now"
                    | "i"
                    | "want"
                    | "to"
                    | "need"
                    | "lets"
                    | "let"
                    | "us"
                    | "kindly"
            )
        })
        .and_then(|i| words.get(i));
    if lead.is_some_and(|w| lex.is_command(w)) {
        return true;
    }
    (0..words.len()).any(|i| {
        lex.is_refusal_word(words[i])
            || (i + 1 < words.len()
                && lex.is_refusal_word(&format!("{} {}", words[i], words[i + 1])))
    })
}
