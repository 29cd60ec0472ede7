//! What the configuration says about language, compiled once with the graphs: each
//! tool's example phrasings turned into weighted word features, its slots, and the
//! vocabulary section of tools.yaml (name synonyms, word synonyms, refusals).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::text::{self, Token};
use super::vocab::Kind;
pub use crate::config::spec::VocabularySpec;

/// What fills a tool argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    /// A named entity of this kind.
    Entity(Kind),
    /// A skill or else a service (`topic`).
    Topic,
    /// A time window: `since`/`until` dates, a `period`, or `days`.
    Window,
    /// An age threshold in days ("in review for over a week").
    Age,
    /// "top 5" → a limit.
    Top,
    /// The question's own words (a search query, a question for a pipeline).
    Text,
    /// One of the values the schema's `enum` lists, read from the question's words.
    Choice,
    /// A small number the question states ("at least a 4", "5/5") for a `min_…` argument.
    Level,
    /// A SELECT drafted from the question over `vocabulary.tables`.
    Sql,
}

impl Slot {
    /// The slot an argument fills by its name, when the config does not say.
    pub fn by_arg_name(arg: &str, schema: &Value) -> Option<Slot> {
        Some(match arg {
            "person" | "manager" => Slot::Entity(Kind::Person),
            "team" => Slot::Entity(Kind::Team),
            "service" => Slot::Entity(Kind::Service),
            "skills" | "skill" => Slot::Entity(Kind::Skill),
            "project" => Slot::Entity(Kind::Project),
            "title" | "role" => Slot::Entity(Kind::Title),
            "topic" => Slot::Topic,
            "since" | "until" | "days" | "period" | "weeks" => Slot::Window,
            "min_age_days" => Slot::Age,
            a if a.starts_with("min_")
                && schema.get("type").and_then(Value::as_str) == Some("integer") =>
            {
                Slot::Level
            }
            "limit" => Slot::Top,
            "query" | "question" | "text" => Slot::Text,
            "sql" => Slot::Sql,
            _ if schema.get("enum").is_some() => Slot::Choice,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<Slot> {
        Some(match s {
            "topic" => Slot::Topic,
            "window" => Slot::Window,
            "age" => Slot::Age,
            "top" => Slot::Top,
            "text" => Slot::Text,
            "choice" => Slot::Choice,
            "level" => Slot::Level,
            "sql" => Slot::Sql,
            other => Slot::Entity(Kind::parse(other)?),
        })
    }

    /// Whether a name of `kind` fills it.
    pub fn takes(self, kind: Kind) -> bool {
        self == Slot::Entity(kind)
            || (self == Slot::Topic && matches!(kind, Kind::Skill | Kind::Service))
    }

    /// The placeholder examples write for it (`{team}`).
    pub fn placeholder(self) -> &'static str {
        match self {
            Slot::Entity(k) => k.as_str(),
            Slot::Topic => "topic",
            Slot::Window => "window",
            Slot::Age => "age",
            Slot::Top => "top",
            Slot::Text => "text",
            Slot::Choice => "choice",
            Slot::Level => "level",
            Slot::Sql => "sql",
        }
    }
}

/// Names a placeholder may take in an example.
pub const PLACEHOLDERS: &[&str] = &[
    "person", "team", "service", "skill", "project", "title", "topic", "window", "age", "top",
];

/// One argument a tool takes from the question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArgSlot {
    pub arg: String,
    pub slot: Slot,
    pub required: bool,
    /// For a choice: each `enum` value and the stems that say it — its own words, and
    /// what the vocabulary's `words` read them as ("completed" → done).
    #[serde(skip)]
    pub options: Vec<(Value, Vec<String>)>,
}

/// A tool as the understanding stage sees it.
#[derive(Debug, Clone)]
pub struct Profile {
    pub tool: String,
    pub description: String,
    /// Shared with every reading's candidates, never copied per question.
    pub slots: Arc<[ArgSlot]>,
    pub measures: Arc<[String]>,
    pub ranks: bool,
    /// Each example's features (ids, sorted) and the example's norm.
    examples: Vec<(Vec<u32>, f32)>,
    /// Every feature of every example (ids, sorted).
    union: Vec<u32>,
    /// Words no other tool's examples use ("unusual", "spike"): a question with one is
    /// about what this tool does, whatever else it names (ids, sorted).
    own: Vec<u32>,
}

/// A question's features as the lexicon weighs them: known feature ids, sorted, and the
/// question's norm (features no example uses weigh nothing).
#[derive(Debug, Clone, Default)]
pub struct Query {
    ids: Vec<u32>,
    norm: f32,
}

impl Profile {
    pub fn takes(&self, slot: Slot) -> bool {
        self.slots.iter().any(|s| s.slot == slot)
    }
    /// Whether a name of `kind` can reach the tool: by an argument, or in the question's
    /// text a tool reads whole.
    pub fn takes_kind(&self, kind: Kind) -> bool {
        self.takes(Slot::Entity(kind))
            || self.takes(Slot::Text)
            || (self.takes(Slot::Topic) && matches!(kind, Kind::Skill | Kind::Service))
    }
}

/// Everything above, compiled.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    pub profiles: Vec<Profile>,
    /// Every feature of the examples, numbered, and the square of its idf weight.
    ids: HashMap<String, u32>,
    weight: Vec<f32>,
    /// Every word the examples use (folded, and stemmed), never read as a misspelt name.
    pub known: HashSet<String>,
    pub synonyms: HashMap<Vec<String>, String>,
    words: HashMap<String, Vec<String>>,
    refuse: HashSet<String>,
    commands: HashSet<String>,
    pub references: Vec<Reference>,
    /// Tables a question may ask about directly (`vocabulary.tables`).
    pub tables: Vec<super::draft::Table>,
}

/// A person named by a role, found by `tool` first (from `vocabulary.references`).
#[derive(Debug, Clone)]
pub struct Reference {
    /// The role words, folded ("manager", "owner", "overloaded").
    pub words: Vec<String>,
    /// The kind of name the role word stands next to; None: after "most".
    pub of: Option<Kind>,
    pub tool: String,
    /// The tool's argument that takes the name.
    pub arg: Option<String>,
    pub pick: String,
}

/// A tool's examples and slots as written in tools.yaml.
pub struct ToolLanguage<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub args_schema: &'a Value,
    pub examples: &'a [String],
    pub slots: &'a BTreeMap<String, String>,
    /// Names of the figures read once per result (a breakdown calls once per team).
    pub measures: Vec<String>,
    /// It has figures of any kind to rank by ("who reviews the most").
    pub ranks: bool,
}

impl Lexicon {
    pub fn compile<'a>(
        tools: impl IntoIterator<Item = ToolLanguage<'a>>,
        vocab: &VocabularySpec,
    ) -> Lexicon {
        let mut lex = Lexicon {
            synonyms: vocab
                .synonyms
                .iter()
                .map(|(k, v)| {
                    (
                        text::tokens(k).into_iter().map(|t| t.word).collect(),
                        v.clone(),
                    )
                })
                .collect(),
            words: vocab
                .words
                .iter()
                .map(|(k, v)| {
                    (
                        text::fold(k),
                        text::tokens(v).into_iter().map(|t| t.word).collect(),
                    )
                })
                .collect(),
            refuse: vocab.refuse.iter().map(|w| text::fold(w)).collect(),
            tables: vocab
                .tables
                .iter()
                .map(super::draft::Table::compile)
                .collect(),
            commands: vocab.commands.iter().map(|w| text::fold(w)).collect(),
            ..Default::default()
        };
        // Each profile's examples' features, weighed once all are known.
        let mut texts: Vec<Vec<Vec<String>>> = Vec::new();
        for t in tools {
            let props = t.args_schema.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = t
                .args_schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut slots = Vec::new();
            for (arg, schema) in props.into_iter().flatten() {
                let slot = t
                    .slots
                    .get(arg)
                    .and_then(|s| Slot::parse(s))
                    .or_else(|| Slot::by_arg_name(arg, schema));
                if let Some(slot) = slot {
                    let options = schema
                        .get("enum")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|o| (o.clone(), lex.option_stems(o.as_str().unwrap_or_default())))
                        .collect();
                    slots.push(ArgSlot {
                        arg: arg.clone(),
                        slot,
                        required: required.contains(&arg.as_str()),
                        options,
                    });
                }
            }
            // `{topic}` is a skill or a service: one variant each.
            let examples: Vec<Vec<String>> = t
                .examples
                .iter()
                .flat_map(|e| match e.contains("{topic}") {
                    true => vec![
                        e.replace("{topic}", "{skill}"),
                        e.replace("{topic}", "{service}"),
                    ],
                    false => vec![e.clone()],
                })
                .map(|e| lex.example_features(&e))
                .collect();
            for e in t.examples {
                for tok in text::tokens(e) {
                    lex.known.insert(tok.word.clone());
                    lex.known.insert(text::stem(&tok.word));
                }
            }
            texts.push(examples);
            lex.profiles.push(Profile {
                tool: t.name.to_string(),
                description: t.description.to_string(),
                slots: slots.into(),
                measures: t.measures.into(),
                ranks: t.ranks,
                examples: Vec::new(),
                union: Vec::new(),
                own: Vec::new(),
            });
        }
        for w in lex.words.keys() {
            lex.known.insert(w.clone());
        }
        lex.references = vocab
            .references
            .iter()
            .map(|r| {
                let of = r.of.as_deref().and_then(Kind::parse);
                let arg = of.and_then(|k| {
                    lex.profile(&r.tool)?
                        .slots
                        .iter()
                        .find(|s| s.slot.takes(k))
                        .map(|s| s.arg.clone())
                });
                Reference {
                    words: r.words.iter().map(|w| text::fold(w)).collect(),
                    of,
                    tool: r.tool.clone(),
                    arg,
                    pick: r.pick.clone(),
                }
            })
            .collect();
        // idf: features few tools use weigh most.
        let n = lex.profiles.len().max(1) as f32;
        let mut df: BTreeMap<&str, usize> = BTreeMap::new();
        for examples in &texts {
            let union: HashSet<&str> = examples.iter().flatten().map(String::as_str).collect();
            for f in union {
                *df.entry(f).or_default() += 1;
            }
        }
        for (i, (f, d)) in df.iter().enumerate() {
            lex.ids.insert(f.to_string(), i as u32);
            let idf = (1.0 + n / *d as f32).ln();
            lex.weight.push(idf * idf);
        }
        for (p, examples) in lex.profiles.iter_mut().zip(&texts) {
            let q: Vec<Query> = examples
                .iter()
                .map(|e| query_of(&lex.ids, &lex.weight, e))
                .collect();
            // The words of a tool's argument values are its words too ("review wait" for
            // the anomaly tool's `review_wait_hours`).
            let options = p
                .slots
                .iter()
                .flat_map(|s| s.options.iter().flat_map(|(_, stems)| stems))
                .filter_map(|w| lex.ids.get(w).copied());
            p.union = q
                .iter()
                .flat_map(|q| q.ids.iter().copied())
                .chain(options)
                .collect();
            p.union.sort_unstable();
            p.union.dedup();
            p.own = examples
                .iter()
                .flatten()
                .filter(|f| df.get(f.as_str()) == Some(&1) && !f.contains([' ', '{']))
                .filter_map(|f| lex.ids.get(f).copied())
                .collect();
            p.own.sort_unstable();
            p.own.dedup();
            p.examples = q.into_iter().map(|q| (q.ids, q.norm)).collect();
        }
        lex
    }

    /// A question's features, weighed.
    pub fn query(&self, features: &[String]) -> Query {
        query_of(&self.ids, &self.weight, features)
    }

    /// The stems that say an `enum` value: its words but stopwords ("in_review" → review),
    /// the words the vocabulary reads them as, and the words run together ("todo").
    fn option_stems(&self, option: &str) -> Vec<String> {
        let words: Vec<String> = option
            .split(['_', ' ', '-'])
            .map(text::fold)
            .filter(|w| !w.is_empty())
            .collect();
        let mut out: Vec<String> = words
            .iter()
            .filter(|w| !text::is_stopword(w))
            .flat_map(|w| {
                let mut read = self.words.get(w).cloned().unwrap_or_default();
                // "sev1" reads as "sev1 incident": the value is its own word, not the noun
                // every value of its kind shares.
                if read.contains(w) {
                    read.clear();
                }
                std::iter::once(w.clone()).chain(read)
            })
            .map(|w| text::stem(&w))
            .collect();
        if words.len() > 1 {
            out.push(words.concat());
        }
        out.sort();
        out.dedup();
        out
    }

    /// Synonyms whose target is no name in `vocab` (phrase, target), for a warning at start.
    pub fn dangling(&self, vocab: &super::Vocabulary) -> Vec<(String, String)> {
        if vocab.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<(String, String)> = self
            .synonyms
            .iter()
            .filter(|(_, target)| vocab.lookup(target).is_none())
            .map(|(phrase, target)| (phrase.join(" "), target.clone()))
            .collect();
        out.sort();
        out
    }

    pub fn profile(&self, tool: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.tool == tool)
    }

    /// A verb that changes data when it opens a request ("reassign", "mark", "close").
    /// What the vocabulary's `words` read a word as ("finished" → done).
    pub fn reading(&self, w: &str) -> &[String] {
        // A plural reads as its singular does ("SEV1s" as sev1).
        self.words
            .get(w)
            .or_else(|| self.words.get(&text::stem(w)))
            .map_or(&[], Vec::as_slice)
    }

    pub fn is_command(&self, w: &str) -> bool {
        self.commands.contains(w)
    }

    pub fn is_refusal_word(&self, w: &str) -> bool {
        self.refuse.contains(w)
    }

    /// An example's features: `{kind}` placeholders as themselves, the rest as words.
    fn example_features(&self, example: &str) -> Vec<String> {
        let mut toks: Vec<Token> = Vec::new();
        let mut marks: Vec<(usize, String)> = Vec::new();
        let mut rest = example;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            toks.extend(text::tokens(&rest[..open]));
            marks.push((toks.len(), format!("{{{}}}", &rest[open + 1..open + close])));
            rest = &rest[open + close + 1..];
        }
        toks.extend(text::tokens(rest));
        // Time is read apart in questions ("next sprint" is a window, not words): so here.
        let mut timed = vec![false; toks.len()];
        let now = crate::dataset::as_of();
        let cal = super::Calendar {
            now,
            sprint: Some((now.date_naive(), now.date_naive())),
        };
        let spans = [
            super::time::window(&toks, &cal).map(|f| f.tokens),
            super::time::age_days(&toks).map(|f| f.tokens),
        ];
        for span in spans.into_iter().flatten() {
            timed[span].iter_mut().for_each(|x| *x = true);
        }
        let mut words: Vec<Option<String>> = Vec::new();
        let mut m = marks.into_iter().peekable();
        for (i, t) in toks.iter().enumerate() {
            while m.peek().is_some_and(|(at, _)| *at == i) {
                words.push(Some(m.next().expect("peeked").1));
            }
            // A sprint said as a window ("this sprint") is still about sprints.
            words.push((!timed[i] || is_sprint(&t.word)).then(|| t.word.clone()));
        }
        words.extend(m.map(|(_, p)| Some(p)));
        self.features(&words)
    }

    /// Features of a word sequence (None where an entity or time expression stood):
    /// word synonyms applied, stopwords dropped, stems, and bigrams of neighbours.
    pub fn features(&self, words: &[Option<String>]) -> Vec<String> {
        // Two words the examples write as one ("run book" → runbook, "post mortem").
        let mut joined: Vec<Option<String>> = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            if let (Some(Some(a)), Some(Some(b))) = (words.get(i), words.get(i + 1))
                && !a.starts_with('{')
                && !b.starts_with('{')
                && self.known.contains(&format!("{a}{b}"))
            {
                joined.push(Some(format!("{a}{b}")));
                i += 2;
                continue;
            }
            joined.push(words[i].clone());
            i += 1;
        }
        let words = &joined[..];
        let mut stems: Vec<Option<String>> = Vec::new();
        // The particle after each kept stem ("work on" is not "work with").
        let mut particle: Vec<Option<&'static str>> = Vec::new();
        // Whether the word before produced a stem (a particle binds only to its neighbour).
        let mut kept_before = false;
        for (i, w) in words.iter().enumerate() {
            // "the Data team": "team" is part of the name, not a word about teams.
            if i > 0
                && words[i - 1].as_deref() == Some("{team}")
                && matches!(w.as_deref(), Some("team" | "teams" | "squad"))
            {
                continue;
            }
            let kept_here = stems.len();
            // "metrics for {team}" names a scope; "working on" at the end is a verb's.
            let before_name = words
                .get(i + 1)
                .is_some_and(|n| n.as_ref().is_some_and(|n| n.starts_with('{')));
            match w {
                Some(w) if w.starts_with('{') => {
                    stems.push(Some(w.clone()));
                    particle.push(None);
                }
                Some(w) => {
                    let replaced = self.reading(w).to_vec();
                    let replaced = match replaced.is_empty() {
                        true => vec![w.clone()],
                        false => replaced,
                    };
                    for r in replaced {
                        if !text::is_stopword(&r) {
                            stems.push(Some(text::stem(&r)));
                            particle.push(None);
                        } else if let Some(p) = text::particle(&r)
                            && !before_name
                            && kept_before
                            && let Some(last) = particle.last_mut()
                            && last.is_none()
                            && stems.last().is_some_and(|s| s.is_some())
                        {
                            *last = Some(p);
                        }
                    }
                }
                None => {
                    stems.push(None);
                    particle.push(None);
                }
            }
            kept_before = stems.len() > kept_here && stems.last().is_some_and(|s| s.is_some());
        }
        let mut out: Vec<String> = stems.iter().flatten().cloned().collect();
        for pair in stems.windows(2) {
            // Bigrams keep order: "{person} report" (their manager) is not "report {person}".
            if let [Some(a), Some(b)] = pair
                && !(a.starts_with('{') && b.starts_with('{'))
            {
                out.push(format!("{a} {b}"));
            }
        }
        for (s, p) in stems.iter().zip(&particle) {
            if let (Some(s), Some(p)) = (s, p)
                && !s.starts_with('{')
            {
                out.push(format!("{s} {p}"));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A word the examples never use, read as the nearest one they do (one edit, two for
    /// long words): "deploymnets" → "deployments".
    pub fn correct(&self, w: &str) -> Option<String> {
        // A comparative reads as the superlative the examples use ("flakier" → flakiest,
        // "slower" → slowest).
        let superlative = w
            .strip_suffix("ier")
            .map(|b| format!("{b}iest"))
            .or_else(|| w.strip_suffix("er").map(|b| format!("{b}est")));
        if let Some(s) = superlative.filter(|s| w.len() >= 5 && self.known.contains(s)) {
            return Some(s);
        }
        // A four-letter word only by two letters swapped ("tiem" → time, "taem" → team),
        // the last letters first (the first is rarely the one mistyped).
        if w.len() == 4 && !self.known.contains(w) && w.chars().all(|c| c.is_ascii_alphabetic()) {
            let b = w.as_bytes();
            return (0..3)
                .rev()
                .map(|i| {
                    let mut s = b.to_vec();
                    s.swap(i, i + 1);
                    String::from_utf8(s).expect("ascii letters")
                })
                .find(|s| s != w && self.known.contains(s));
        }
        if w.len() < 5
            || self.known.contains(w)
            || self.known.contains(&text::stem(w))
            || !w.chars().all(char::is_alphabetic)
        {
            return None;
        }
        let limit = if w.len() >= 8 { 2 } else { 1 };
        // People rarely mistype the first letter but for swapping it with the second:
        // "crate" is no "rate", "edploy" is "deploy".
        let (w0, w1) = (w.as_bytes()[0], w.as_bytes()[1]);
        let same_start = |k: &str| {
            let k = k.as_bytes();
            k[0] == w0 || (k[0] == w1 && k[1] == w0)
        };
        self.known
            .iter()
            .filter(|k| k.len() >= 4 && k.len().abs_diff(w.len()) <= limit && same_start(k))
            .map(|k| (strsim::damerau_levenshtein(w, k), k))
            .filter(|(d, _)| *d <= limit)
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
            .map(|(_, k)| k.clone())
    }

    /// How well a tool's examples explain the question's features, 0–1: the best single
    /// example (cosine) blended with how much of the question the tool's words cover.
    pub fn score(&self, p: &Profile, q: &Query) -> f32 {
        if q.norm == 0.0 {
            return 0.0;
        }
        let shared = |e: &[u32]| -> f32 {
            q.ids
                .iter()
                .filter(|id| e.binary_search(id).is_ok())
                .map(|&id| self.weight[id as usize])
                .sum()
        };
        let best = p
            .examples
            .iter()
            .map(|(e, norm)| match *norm == 0.0 {
                true => 0.0,
                false => shared(e) / (norm * q.norm),
            })
            .fold(0.0, f32::max);
        let own = q.ids.iter().any(|id| p.own.binary_search(id).is_ok());
        0.6 * best + 0.4 * shared(&p.union).sqrt() / q.norm + if own { OWN_WORD } else { 0.0 }
    }
}

/// What a word only one tool's examples use adds to that tool's score.
const OWN_WORD: f32 = 0.12;

/// "sprint", also where it says a window ("this sprint"): the question is about sprints.
pub fn is_sprint(w: &str) -> bool {
    matches!(w, "sprint" | "sprints")
}

/// `features` as ids (sorted, each once) and their norm under `weight`.
fn query_of(ids: &HashMap<String, u32>, weight: &[f32], features: &[String]) -> Query {
    let mut q: Vec<u32> = features
        .iter()
        .filter_map(|f| ids.get(f).copied())
        .collect();
    q.sort_unstable();
    q.dedup();
    let norm = q.iter().map(|&i| weight[i as usize]).sum::<f32>().sqrt();
    Query { ids: q, norm }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::{Understanding, Vocabulary};

    fn lexicon() -> Lexicon {
        let args = serde_json::json!({
            "type": "object",
            "properties": { "person": { "type": "string" }, "team": { "type": "string" } },
        });
        let none = BTreeMap::new();
        let tools = [
            (
                "reporting_chain",
                vec!["who does {person} report to".to_string()],
            ),
            (
                "direct_reports",
                vec!["who reports to {person}".to_string()],
            ),
            (
                "team_members",
                vec!["who is on the {team} team".to_string()],
            ),
        ];
        let vocab = VocabularySpec {
            synonyms: [
                ("danny".to_string(), "Daniel Okafor".to_string()),
                ("ghost".to_string(), "Nobody Here".to_string()),
            ]
            .into(),
            words: [("boss".to_string(), "manager".to_string())].into(),
            refuse: vec!["drop table".into()],
            commands: vec!["reassign".into()],
            references: vec![crate::config::spec::ReferenceSpec {
                words: vec!["manager".into(), "lead".into()],
                of: Some("team".into()),
                tool: "team_members".into(),
                pick: "0.name".into(),
            }],
            tables: vec![],
        };
        Lexicon::compile(
            tools.iter().map(|(name, examples)| ToolLanguage {
                name,
                description: name,
                args_schema: &args,
                examples,
                slots: &none,
                measures: vec![],
                ranks: false,
            }),
            &vocab,
        )
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary::new(
            vec![
                (Kind::Person, "Daniel Okafor".into()),
                (Kind::Team, "Payments".into()),
            ],
            None,
        )
    }

    #[test]
    fn word_order_tells_manager_from_reports() {
        let (lex, v) = (lexicon(), vocabulary());
        let best = |q: &str| {
            Understanding::read(q, &[], &lex, &v).candidates[0]
                .tool
                .clone()
        };
        assert_eq!(best("Who does Daniel Okafor report to?"), "reporting_chain");
        assert_eq!(best("who reports to danny"), "direct_reports");
        assert_eq!(best("who is on payments"), "team_members");
        assert!(Understanding::read("please DROP TABLE employees", &[], &lex, &v).refuse);
        assert!(Understanding::read("can you reassign Daniel's tickets", &[], &lex, &v).refuse);
        assert!(!Understanding::read("who should reassign tickets?", &[], &lex, &v).refuse);
    }

    #[test]
    fn a_role_is_a_person_found_by_a_lookup_first() {
        let (lex, v) = (lexicon(), vocabulary());
        let u = Understanding::read("who reports to the payments manager?", &[], &lex, &v);
        assert_eq!(u.candidates[0].tool, "direct_reports");
        let via = u.mentions[0].via.as_ref().expect("a lookup");
        assert_eq!(
            (via.tool.as_str(), &via.args["team"], via.said.as_str()),
            (
                "team_members",
                &serde_json::json!("Payments"),
                "the payments manager"
            )
        );
        // Only asking who it is: the lookup's own question, nothing composed.
        let u = Understanding::read("who is the Payments lead?", &[], &lex, &v);
        assert!(u.mentions.iter().all(|m| m.via.is_none()));
        // "lead time" is a metric.
        let u = Understanding::read("lead time for payments", &[], &lex, &v);
        assert!(u.mentions.iter().all(|m| m.via.is_none()));
    }

    #[test]
    fn a_role_without_a_name_is_the_role_of_what_the_thread_named() {
        use crate::understand::Turn;
        let lex = lexicon();
        let first = [Turn {
            question: "who is on the payments team?".into(),
            answer: "Daniel Okafor, Sofia Rossi".into(),
        }];
        // Nobody known as its head: the lookup runs first.
        let u = Understanding::read("who reports to their manager?", &first, &lex, &vocabulary());
        let via = u
            .mentions
            .iter()
            .find_map(|m| m.via.as_ref())
            .expect("a lookup");
        assert_eq!(
            (via.tool.as_str(), &via.args["team"]),
            ("team_members", &serde_json::json!("Payments"))
        );
        assert_eq!(u.candidates[0].tool, "direct_reports");
        // Its head known: the person at once.
        let v = vocabulary().with_heads([("Payments".to_string(), "Daniel Okafor".to_string())]);
        let u = Understanding::read("who reports to the manager?", &first, &lex, &v);
        assert!(
            u.mentions
                .iter()
                .any(|m| m.name == "Daniel Okafor" && m.via.is_none())
        );
        assert!(u.mentions.iter().all(|m| m.kind != Some(Kind::Team)));
    }

    #[test]
    fn a_follow_up_reads_time_against_the_last_window() {
        use crate::understand::Turn;
        let (lex, v) = (lexicon(), vocabulary());
        let first = Turn {
            question: "who is on the payments team in May 2025?".into(),
            answer: "Daniel Okafor".into(),
        };
        let window = |q: &str| {
            let u = Understanding::read(q, std::slice::from_ref(&first), &lex, &v);
            u.window
                .map(|w| w.dates())
                .map(|(a, b)| format!("{a}..{b}"))
        };
        assert_eq!(
            window("and the month after?").as_deref(),
            Some("2025-06-01..2025-06-30")
        );
        assert_eq!(
            window("the month before?").as_deref(),
            Some("2025-04-01..2025-04-30")
        );
        assert_eq!(
            window("who reports to danny that month").as_deref(),
            Some("2025-05-01..2025-05-31")
        );
        assert_eq!(window("who reports to danny").as_deref(), None);
    }

    #[test]
    fn a_first_question_pointing_at_nothing_is_asked_back() {
        let (lex, v) = (lexicon(), vocabulary());
        let read = |q: &str| Understanding::read(q, &[], &lex, &v);
        assert!(read("is it on track?").vague);
        assert!(read("compare the two teams").vague);
        assert!(read("when is she back?").unresolved);
        assert!(!read("who has too much on their plate?").vague);
        assert!(!read("how long does it take to ship?").vague);
        assert!(!read("is payments on track?").vague);
    }

    #[test]
    fn synonyms_pointing_at_nothing_are_listed() {
        assert_eq!(
            lexicon().dangling(&vocabulary()),
            vec![("ghost".to_string(), "Nobody Here".to_string())]
        );
        assert!(
            lexicon().dangling(&Vocabulary::default()).is_empty(),
            "no data, no verdict"
        );
    }

    #[test]
    fn typos_keep_their_first_letter() {
        let lex = lexicon();
        assert_eq!(lex.correct("reprot").as_deref(), Some("report"));
        assert_eq!(
            lex.correct("erport").as_deref(),
            Some("report"),
            "first two swapped"
        );
        assert_eq!(lex.correct("treport"), None, "no typo adds a first letter");
    }
}
