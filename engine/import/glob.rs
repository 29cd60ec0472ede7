//! Path and name patterns of import.yaml (`axum-extra/**`, `*.lock`, `*[bot]*`), compiled
//! to anchored regexes: `**` crosses directories, `*` and `?` stay within one.

use regex::Regex;

/// A compiled pattern; `text` is what was written.
#[derive(Debug, Clone)]
pub struct Glob {
    pub text: String,
    re: Regex,
}

impl Glob {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        if pattern.trim().is_empty() {
            return Err("an empty pattern matches nothing".into());
        }
        let mut re = String::from("(?i)^");
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    if chars.peek() == Some(&'/') {
                        chars.next();
                        re.push_str("(?:.*/)?");
                    } else {
                        re.push_str(".*");
                    }
                }
                '*' => re.push_str("[^/]*"),
                '?' => re.push_str("[^/]"),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        // A directory pattern also matches what is inside it.
        if pattern.ends_with('/') {
            re.push_str(".*");
        }
        re.push('$');
        Regex::new(&re)
            .map(|re| Glob {
                text: pattern.to_string(),
                re,
            })
            .map_err(|e| e.to_string())
    }

    pub fn matches(&self, text: &str) -> bool {
        self.re.is_match(text)
    }
}

/// Whether any of `globs` matches `text`.
pub fn any(globs: &[Glob], text: &str) -> bool {
    globs.iter().any(|g| g.matches(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_directory_and_double_stars_cross() {
        let g = |p: &str| Glob::new(p).unwrap();
        assert!(g("axum-extra/**").matches("axum-extra/src/lib.rs"));
        assert!(!g("axum-extra/**").matches("axum/src/lib.rs"));
        assert!(g("**/*.lock").matches("Cargo.lock"));
        assert!(g("**/*.lock").matches("examples/x/Cargo.lock"));
        assert!(!g("*.lock").matches("examples/Cargo.lock"));
        assert!(g("*[bot]*").matches("dependabot[bot]"));
        assert!(g("vendor/").matches("vendor/a/b.c"));
        assert!(Glob::new(" ").is_err());
    }
}
