//! Each regex of a project compiled once: `validate` compiles a pattern to report it when
//! broken, and `compile` takes the same compiled regex instead of building it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;

/// Compiled patterns by their text (a `Regex` clone shares the compiled program).
#[derive(Debug, Clone, Default)]
pub struct Regexes(Arc<Mutex<HashMap<String, Result<Regex, regex::Error>>>>);

impl Regexes {
    /// `pattern` compiled, the first time it is asked for.
    pub fn get(&self, pattern: &str) -> Result<Regex, regex::Error> {
        let mut known = self.0.lock().expect("regexes lock");
        if let Some(r) = known.get(pattern) {
            return r.clone();
        }
        let r = Regex::new(pattern);
        known.insert(pattern.to_string(), r.clone());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once_and_shared() {
        let regexes = Regexes::default();
        let a = regexes.get(r"(?i)\bdora\b").unwrap();
        let b = regexes.get(r"(?i)\bdora\b").unwrap();
        assert!(a.is_match("our DORA metrics") && b.is_match("dora"));
        assert_eq!(regexes.0.lock().unwrap().len(), 1);
        assert!(regexes.get("(unclosed").is_err());
    }
}
