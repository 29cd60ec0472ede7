//! Regexes of classify rules, router intents and tool intents: a pattern that does not
//! compile is reported at the offending part of the pattern, named captures at their name.

use super::diagnostic::{Diagnostic, Report};
use crate::config::regexes::Pattern;
use crate::config::{Doc, Project};

/// Parses the pattern at `pointer` (once per project: `compile` takes the same pattern);
/// on failure reports E041 at the broken token.
pub fn compile<T>(
    project: &Project,
    report: &mut Report,
    doc: &Doc<T>,
    pointer: &str,
    pattern: &str,
    what: &str,
) -> Option<Pattern> {
    match project.regexes.get(pattern) {
        Ok(re) => Some(re),
        Err(e) => {
            let (offset, reason) = match *e {
                regex_syntax::Error::Parse(p) => (p.span().start.offset, p.kind().to_string()),
                regex_syntax::Error::Translate(t) => (t.span().start.offset, t.kind().to_string()),
                e => (0, one_line(&e.to_string())),
            };
            report.push(Diagnostic::error(
                "E041",
                doc.file(),
                doc.at_offset(pointer, offset),
                format!("{what} is not a valid regex: {reason}; fix the pattern here (syntax: https://docs.rs/regex/#syntax)"),
            ));
            None
        }
    }
}

/// Byte offset of capture `name`'s name in `pattern` (`(?P<name>` or `(?<name>`).
pub fn capture_offset(pattern: &str, name: &str) -> usize {
    ["(?P<", "(?<"]
        .iter()
        .find_map(|open| {
            let at = pattern.find(&format!("{open}{name}>"))?;
            Some(at + open.len())
        })
        .unwrap_or(0)
}

/// Error texts span several lines; diagnostics are one line each.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
