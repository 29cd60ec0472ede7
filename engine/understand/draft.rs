//! Queries drafted from the question, without a model: "who is based in London?", "how
//! many PRs were merged in May?", "who made the most commits?". When every word of a
//! question is explained by one table of `vocabulary.tables` — the words naming its rows,
//! values of its columns, a name in one of its columns, a window on one of its time
//! columns, and the shape (how many, the most, the newest, a list) — the question becomes
//! one SELECT, which the SQL guard checks like any model's. Anything left unexplained
//! drafts nothing: a wrong filter is worse than no answer.

use std::collections::BTreeMap;

use super::text::{self, Token};
use super::vocab::{Kind, ValueMention, Vocabulary};
use super::{Lexicon, Mention, Order, Window};
use crate::config::spec::TableSpec;

/// A declared table, compiled.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// The stemmed word sequences that name its rows.
    words: Vec<Vec<String>>,
    label: String,
    person: Option<String>,
    time: Vec<String>,
}

impl Table {
    pub fn compile(spec: &TableSpec) -> Table {
        Table {
            name: spec.table.clone(),
            words: spec
                .words
                .iter()
                .map(|w| {
                    text::tokens(w)
                        .iter()
                        .map(|t| text::stem(&t.word))
                        .collect()
                })
                .collect(),
            label: spec.label.clone(),
            person: spec.person.clone(),
            time: spec.time.clone(),
        }
    }

    /// The column holding names of `kind`.
    fn column_for(&self, kind: Kind, columns: &[&str]) -> Option<String> {
        let col = match kind {
            Kind::Person => return self.person.clone().or_else(|| self.names_people()),
            Kind::Team => "team",
            Kind::Service => "service",
            Kind::Title => "title",
            Kind::Skill | Kind::Project => return None,
        };
        columns.contains(&col).then(|| col.to_string())
    }

    /// A table of people is called by its people's names.
    fn names_people(&self) -> Option<String> {
        (self.person.is_none() && self.words.iter().any(|w| w == &["who"]))
            .then(|| self.label.clone())
    }
}

/// Words of a question's shape, explained by any draft.
const SHAPE: &[&str] = &[
    "how",
    "many",
    "much",
    "number",
    "count",
    "total",
    "list",
    "show",
    "give",
    "tell",
    "most",
    "least",
    "fewest",
    "recent",
    "recently",
    "newest",
    "latest",
    "oldest",
    "earliest",
    "right",
    "now",
    "currently",
    "current",
    "not",
    "non",
    "which",
    "what",
    "whats",
    "who",
    "whos",
    "made",
    "make",
    "done",
    "did",
    "do",
    "does",
    "have",
    "has",
    "had",
    "there",
    "all",
    "every",
    "our",
    "we",
    "me",
    "us",
    "ever",
    "so",
    "far",
];
const COUNT: &[&str] = &["many", "number", "count", "total"];
const NEWEST: &[&str] = &["newest", "latest", "recent", "recently"];
const OLDEST: &[&str] = &["oldest", "earliest"];
const NOT: &[&str] = &["not", "non", "except", "excluding", "besides"];

/// What a draft reads from the question.
pub struct Reading<'a> {
    pub tokens: &'a [Token],
    /// Tokens a time expression used.
    pub used: &'a [bool],
    pub mentions: &'a [Mention],
    pub window: Option<&'a Window>,
    pub order: Option<Order>,
    pub top: Option<usize>,
}

/// The SELECT that answers the question, when one declared table explains all of it.
pub fn draft(r: &Reading<'_>, lex: &Lexicon, vocab: &Vocabulary) -> Option<Draft> {
    if lex.tables.is_empty() {
        return None;
    }
    let words: Vec<&str> = r.tokens.iter().map(|t| t.word.as_str()).collect();
    // Each word's stem and what the vocabulary reads it as ("joined" → hire).
    let stems: Vec<Vec<String>> = words
        .iter()
        .map(|w| {
            let mut s = vec![text::stem(w)];
            s.extend(lex.reading(w).iter().map(|x| text::stem(x)));
            s
        })
        .collect();
    let values = vocab.values_in(&words);
    let row_words = |t: &Table| -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        for seq in &t.words {
            for i in 0..words.len().saturating_sub(seq.len().saturating_sub(1)) {
                if seq
                    .iter()
                    .enumerate()
                    .all(|(k, w)| stems[i + k].contains(w))
                {
                    out.push(i..i + seq.len());
                }
            }
        }
        out
    };
    // The table the words name most; declared order breaks ties.
    let (table, named) = lex
        .tables
        .iter()
        .map(|t| {
            let named = row_words(t);
            let own_values = values.iter().filter(|v| v.value.table == t.name).count();
            (t, named.len() * 2 + own_values, named)
        })
        .filter(|(_, score, _)| *score > 0)
        .max_by_key(|(t, score, _)| {
            let order = lex.tables.iter().position(|x| x.name == t.name);
            (*score, std::cmp::Reverse(order))
        })
        .map(|(t, _, named)| (t, named))?;
    let columns: Vec<&str> = crate::dataset::sql_guard()
        .allowed()
        .iter()
        .find(|(name, _)| *name == table.name)
        .map(|(_, c)| c.clone())?;

    let mut explained: Vec<bool> = r.used.to_vec();
    for range in &named {
        explained[range.clone()].iter_mut().for_each(|x| *x = true);
    }
    let mut filters: Vec<String> = Vec::new();
    // Values of this table's columns; "not critical" excludes.
    let mut by_column: BTreeMap<(&str, bool), Vec<&str>> = BTreeMap::new();
    for v in &values {
        if v.value.table != table.name {
            continue;
        }
        let negated = negated(&words, v);
        by_column
            .entry((v.value.column.as_str(), negated))
            .or_default()
            .push(&v.value.value);
        explained[v.tokens.clone()]
            .iter_mut()
            .for_each(|x| *x = true);
    }
    for ((column, negated), vals) in by_column {
        let list: Vec<String> = vals.iter().map(|v| quote(v)).collect();
        filters.push(match (negated, list.as_slice()) {
            (false, [one]) => format!("{column} = {one}"),
            (true, [one]) => format!("{column} <> {one}"),
            (false, _) => format!("{column} IN ({})", list.join(", ")),
            (true, _) => format!("{column} NOT IN ({})", list.join(", ")),
        });
    }
    // Names the question gives, in the column that holds names of their kind.
    for m in r.mentions.iter().filter(|m| !m.tokens.is_empty()) {
        // "PRs" is the table's own word, not an unknown name.
        if m.kind.is_none()
            && named
                .iter()
                .any(|n| n.start <= m.tokens.start && m.tokens.end <= n.end)
        {
            continue;
        }
        let column = table.column_for(m.kind?, &columns)?;
        filters.push(format!("{column} = {}", quote(&m.name)));
        explained[m.tokens.clone()]
            .iter_mut()
            .for_each(|x| *x = true);
    }
    // The time column the question's words pick ("merged" → merged_at), else the first.
    // A key ("manager_id") or a flag ("is_manager") says nothing a join-free query answers.
    let column_words = |c: &str| -> Vec<String> {
        if c.ends_with("_id") || c.starts_with("is_") {
            return Vec::new();
        }
        c.split('_')
            .filter(|w| !matches!(*w, "at" | "on" | "date" | "id"))
            .map(text::stem)
            .collect()
    };
    // The default only when the rows were named ("commits last month"): "who's in
    // today?" is no question about hire dates.
    let by_who = named.iter().all(|n| words[n.clone()] == ["who"]);
    let time = table
        .time
        .iter()
        .find(|c| {
            let cw = column_words(c);
            stems.iter().flatten().any(|s| cw.contains(s))
        })
        .or(table.time.first().filter(|_| !by_who));
    if let Some(w) = r.window {
        let column = time?;
        let (since, until) = w.dates();
        let end = until.succ_opt().unwrap_or(until);
        filters.push(format!(
            "{column} >= '{since}' AND {column} < '{end}'",
            since = since.format("%Y-%m-%d"),
            end = end.format("%Y-%m-%d")
        ));
    }
    // Every other word is the table's column names or the question's shape.
    let column_stems: Vec<String> = columns.iter().flat_map(|c| column_words(c)).collect();
    for (i, w) in words.iter().enumerate() {
        if explained[i]
            || text::is_stopword(w)
            || SHAPE.contains(w)
            || stems[i].iter().any(|s| column_stems.contains(s))
            || w.chars().all(|c| c.is_ascii_digit()) && r.top.is_some()
        {
            explained[i] = true;
        }
    }
    if explained.iter().any(|x| !x) {
        return None;
    }

    let has = |set: &[&str]| words.iter().any(|w| set.contains(w));
    let filter = match filters.is_empty() {
        true => String::new(),
        false => format!(" WHERE {}", filters.join(" AND ")),
    };
    let t = &table.name;
    let by_value = !values.iter().all(|v| v.value.table != table.name);
    let (sql, shaped) = if let (Some(order), Some(person)) = (r.order, &table.person)
        && has(&["who", "whos", "whom", "which", "person", "engineer"])
    {
        let dir = if order == Order::Most { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {person} AS name, COUNT(*) AS count FROM {t}{filter} GROUP BY {person} ORDER BY count {dir}, {person} LIMIT {}",
            r.top.unwrap_or(5)
        );
        (sql, true)
    } else if has(COUNT) {
        // A count of everything is a headcount tool's question.
        let sql = format!("SELECT COUNT(*) AS count FROM {t}{filter}");
        (sql, !filters.is_empty())
    } else if let Some(time) = time
        && (has(NEWEST) || has(OLDEST))
    {
        let dir = if has(OLDEST) { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT {label}, {time} FROM {t}{filter} ORDER BY {time} {dir} LIMIT {}",
            r.top.unwrap_or(1),
            label = table.label
        );
        (sql, true)
    } else if !filters.is_empty() {
        let label = &table.label;
        (
            format!("SELECT {label} FROM {t}{filter} ORDER BY {label}"),
            false,
        )
    } else {
        // Every row of a table answers nothing.
        return None;
    };
    Some(Draft {
        sql,
        sure: shaped || by_value,
    })
}

/// A drafted query, and whether it says something no tool's arguments can (a ranking,
/// the newest, a column's value, a filtered count); a plain list or count only answers
/// when no tool does.
#[derive(Debug, Clone)]
pub struct Draft {
    pub sql: String,
    pub sure: bool,
}

/// "not critical tier", "non-critical": a negation just before the value.
fn negated(words: &[&str], v: &ValueMention<'_>) -> bool {
    let start = v.tokens.start;
    words[start.saturating_sub(2)..start]
        .iter()
        .any(|w| NOT.contains(w))
}

/// A string as an SQL literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::VocabularySpec;
    use crate::understand::{Understanding, lexicon::ToolLanguage};

    fn lexicon() -> Lexicon {
        let spec: VocabularySpec = serde_yaml::from_str(
            r#"
words: { based: location, joined: hire }
tables:
  - { table: pull_requests, words: [pr, prs, pull request], label: title, person: author, time: [opened_at, merged_at] }
  - { table: employees, words: [who, people, engineers], label: name, time: [hire_date] }
"#,
        )
        .unwrap();
        let args =
            serde_json::json!({ "type": "object", "properties": { "sql": { "type": "string" } } });
        let examples = vec!["query the database".to_string()];
        let none = Default::default();
        Lexicon::compile(
            [ToolLanguage {
                name: "query_database",
                description: "",
                args_schema: &args,
                examples: &examples,
                slots: &none,
                measures: vec![],
                ranks: false,
            }],
            &spec,
        )
    }

    fn vocabulary() -> Vocabulary {
        Vocabulary::new(vec![(Kind::Person, "Ravi Patel".into())], None).with_values(
            [
                ("employees", "location", "London"),
                ("pull_requests", "state", "merged"),
                ("pull_requests", "state", "open"),
            ]
            .map(|(t, c, v)| (t.into(), c.into(), v.into())),
        )
    }

    fn sql(q: &str) -> Option<String> {
        let u = Understanding::read(q, &[], &lexicon(), &vocabulary());
        u.sql.map(|d| d.sql)
    }

    #[test]
    fn values_names_windows_and_shapes_become_one_select() {
        assert_eq!(
            sql("who is based in London?").as_deref(),
            Some("SELECT name FROM employees WHERE location = 'London' ORDER BY name")
        );
        assert_eq!(
            sql("how many PRs were merged in May 2025?").as_deref(),
            Some(
                "SELECT COUNT(*) AS count FROM pull_requests WHERE state = 'merged' AND merged_at >= '2025-05-01' AND merged_at < '2025-06-01'"
            )
        );
        assert_eq!(
            sql("who opened the most pull requests?").as_deref(),
            Some(
                "SELECT author AS name, COUNT(*) AS count FROM pull_requests GROUP BY author ORDER BY count DESC, author LIMIT 5"
            )
        );
        assert_eq!(
            sql("which engineers are not in London").as_deref(),
            Some("SELECT name FROM employees WHERE location <> 'London' ORDER BY name")
        );
        assert_eq!(
            sql("who joined most recently?").as_deref(),
            Some("SELECT name, hire_date FROM employees ORDER BY hire_date DESC LIMIT 1")
        );
        assert_eq!(
            sql("open PRs by Ravi").as_deref(),
            Some(
                "SELECT title FROM pull_requests WHERE state = 'open' AND author = 'Ravi Patel' ORDER BY title"
            )
        );
    }

    #[test]
    fn a_word_no_table_explains_drafts_nothing() {
        // "manager" needs a join; "flaky" is no column of either table.
        assert_eq!(sql("who is Ravi's manager in London?"), None);
        assert_eq!(sql("how many flaky PRs?"), None);
        assert_eq!(sql("what is our lead time?"), None);
    }
}
