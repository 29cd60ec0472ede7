//! Each regex of a project parsed once and compiled at most once. `validate` parses a
//! pattern (regex-syntax: cheap) to report it when broken and to read its named captures;
//! `compile` takes the same [`Pattern`], whose automaton is built the first time a question
//! is matched against it. Building the automata of every pattern at start took about 40 ms
//! and 6 MB for the repository's 80 patterns, most of which a given question never tries
//! (bench/README.md, "Start").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::{Captures, Regex};
use regex_syntax::hir::{Hir, HirKind};

/// Parsed patterns by their text.
#[derive(Debug, Clone, Default)]
pub struct Regexes(Arc<Mutex<HashMap<String, Parsed>>>);

/// A pattern, or why its syntax is wrong (boxed: the error is large).
pub type Parsed = Result<Pattern, Box<regex_syntax::Error>>;

impl Regexes {
    /// `pattern` parsed (with the syntax and limits `Regex::new` uses), the first time it
    /// is asked for; the same `Pattern` after.
    pub fn get(&self, pattern: &str) -> Parsed {
        let mut known = self.0.lock().expect("regexes lock");
        if let Some(r) = known.get(pattern) {
            return r.clone();
        }
        let r = match regex_syntax::Parser::new().parse(pattern) {
            Ok(hir) => {
                let mut names = Vec::new();
                capture_names(&hir, &mut names);
                Ok(Pattern(Arc::new(Lazy {
                    text: pattern.to_string(),
                    names,
                    compiled: OnceLock::new(),
                })))
            }
            Err(e) => Err(Box::new(e)),
        };
        known.insert(pattern.to_string(), r.clone());
        r
    }
}

/// A pattern whose syntax is valid, compiled on its first match (a clone shares it).
#[derive(Debug, Clone)]
pub struct Pattern(Arc<Lazy>);

#[derive(Debug)]
struct Lazy {
    text: String,
    names: Vec<String>,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The names of its named captures, in the order of their groups.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.0.names.iter().map(String::as_str)
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex().is_some_and(|re| re.is_match(haystack))
    }

    pub fn captures<'h>(&self, haystack: &'h str) -> Option<Captures<'h>> {
        self.regex().and_then(|re| re.captures(haystack))
    }

    /// The compiled regex. A pattern whose syntax is valid fails to compile only past the
    /// regex crate's size limit (10 MB of automaton); it then matches nothing, said once
    /// in the log.
    fn regex(&self) -> Option<&Regex> {
        self.0
            .compiled
            .get_or_init(|| match Regex::new(&self.0.text) {
                Ok(re) => Some(re),
                Err(e) => {
                    tracing::error!(pattern = %self.0.text, error = %e, "a regex of the configuration does not compile; it matches nothing");
                    None
                }
            })
            .as_ref()
    }

    #[cfg(test)]
    fn is_compiled(&self) -> bool {
        self.0.compiled.get().is_some()
    }
}

/// The named groups of `hir`, left to right (the order of their opening parentheses).
fn capture_names(hir: &Hir, out: &mut Vec<String>) {
    match hir.kind() {
        HirKind::Capture(c) => {
            if let Some(name) = &c.name {
                out.push(name.to_string());
            }
            capture_names(&c.sub, out);
        }
        HirKind::Repetition(r) => capture_names(&r.sub, out),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for s in subs {
                capture_names(s, out);
            }
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_parsed_once_and_compiled_on_its_first_match() {
        let regexes = Regexes::default();
        let a = regexes.get(r"(?i)\bdora\b").unwrap();
        let b = regexes.get(r"(?i)\bdora\b").unwrap();
        assert_eq!(regexes.0.lock().unwrap().len(), 1);
        assert!(!a.is_compiled());
        assert!(a.is_match("our DORA metrics"));
        // b is the same pattern: compiled by a's match.
        assert!(b.is_compiled() && b.is_match("dora") && !b.is_match("adorable"));
        assert!(regexes.get("(unclosed").is_err());
    }

    #[test]
    fn capture_names_come_in_the_order_of_their_groups() {
        let regexes = Regexes::default();
        let p = regexes
            .get(r"(?i:between)\s+(?P<a>\w+)(?:\s+and\s+(?<b>\w+(x)?)|(?P<c>\d+)*)")
            .unwrap();
        let by_regex: Vec<String> = Regex::new(p.as_str())
            .unwrap()
            .capture_names()
            .flatten()
            .map(str::to_string)
            .collect();
        assert_eq!(p.capture_names().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(by_regex, ["a", "b", "c"]);
        let caps = p.captures("Between Ann and Bo").unwrap();
        assert_eq!((&caps["a"], &caps["b"]), ("Ann", "Bo"));
    }

    #[test]
    fn a_pattern_past_the_size_limit_parses_and_then_matches_nothing() {
        // Valid syntax; its automaton is far over the regex crate's 10 MB limit.
        let p = Regexes::default().get(r"\w{1000}\w{1000}").unwrap();
        assert!(!p.is_match(&"a".repeat(2000)));
    }
}
