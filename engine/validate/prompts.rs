//! References to prompts by name (a node's `prompt`, a tool's `answer`): E013 when no
//! prompts/<name>.j2 exists, with the near name, or the name written as a path or with
//! its extension.

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use crate::config::{Doc, Project};

/// Reports E013 at `ptr` of `doc` unless `name` is a prompt of `project`.
pub fn check_ref<T>(project: &Project, report: &mut Report, doc: &Doc<T>, ptr: &str, name: &str) {
    if project.prompts.contains_key(name) {
        return;
    }
    let stem = name.strip_suffix(".j2").unwrap_or(name);
    let bare = stem.strip_prefix("prompts/").unwrap_or(stem);
    let message = if bare != name && project.prompts.contains_key(bare) {
        let why = if stem != name {
            "prompts are named without the .j2 extension"
        } else {
            "prompts are named by their path under prompts/"
        };
        format!("unknown prompt \"{name}\" (did you mean \"{bare}\"?); {why}")
    } else {
        let hint = did_you_mean(name, project.prompts.keys().map(String::as_str));
        format!(
            "unknown prompt \"{name}\"{hint}; add prompts/<name>.j2 or fix the name (a path under prompts/, without .j2)"
        )
    };
    report.push(Diagnostic::error("E013", doc.file(), doc.at(ptr), message));
}
