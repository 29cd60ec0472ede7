//! Semantic checks over a loaded project, run after the syntax and schema checks of `config`.
//!
//! `check` reads as a checklist; each check adds to one report so an author sees every
//! problem in one run. Codes are stable and listed in docs/CONFIG.md.

mod cycles;
pub use crate::core::diagnostic;
mod graphs;
mod prompts;
mod regexes;
mod shape;
mod templates;
mod tests_check;
mod tools;

use std::path::Path;

use crate::config::{self, LoadError, Project};
use diagnostic::Report;

/// State keys every run has, whatever the graph declares.
pub const BUILTIN_KEYS: &[&str] = &[
    "question",
    "history",
    "thread_id",
    "task_type",
    "model_tier",
    "route",
    "answer",
];

/// Loads `root` and runs every check.
pub fn validate_dir(root: &Path) -> Result<(Project, Report), LoadError> {
    let project = config::load(root)?;
    let mut report = Report::default();
    check(&project, &mut report);
    Ok((project, report))
}

/// Every check, in the order a reader would fix them; the report comes back sorted.
pub fn check(project: &Project, report: &mut Report) {
    report
        .diagnostics
        .extend(project.findings.diagnostics.iter().cloned());
    tools::check_tools(project, report);
    graphs::check_names(project, report);
    graphs::check_references(project, report);
    cycles::check_include_cycles(project, report);
    cycles::check_pipeline_cycles(project, report);
    shape::check_edges(project, report);
    templates::check_templates(project, report);
    tests_check::check_tests(project, report);
    report.sort();
}
