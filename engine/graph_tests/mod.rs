//! Tests declared in YAML and run by `eng-intel test`: a question, optionally earlier
//! turns and canned tool results, and what must happen (route, tool calls, answer,
//! events, steps).
//!
//! The file format (`config::case_spec`) and finding the cases (`config::cases`) live in
//! `config`, below `validate`, which checks them. Here `runner` runs them one at a time
//! on one `Engine` (`slot` holds each case's model and tools), `expect` checks the
//! events, `report` prints results like `cargo test` or as JUnit XML, and `record` with
//! `cassette` records and replays the model's replies at the HTTP level. The format is
//! documented in docs/CONFIG.md ("Tests").

pub mod cassette;
pub mod expect;
pub mod record;
pub mod report;
pub mod runner;
mod slot;

use std::path::{Path, PathBuf};

pub use crate::config::cases::{Case, cases};
pub use runner::{CaseResult, RunOptions, run};

/// The project directory holding `path`: the nearest of it and its ancestors with a `graphs/` folder.
pub fn find_root(path: &Path) -> Option<PathBuf> {
    let abs = path.canonicalize().ok()?;
    abs.ancestors()
        .find(|d| d.join("graphs").is_dir())
        .map(Path::to_path_buf)
}

/// The cases in files under `scope` (a file or a folder; None = all) whose id
/// contains `filter`, and how many the filter left out.
pub fn select(
    cases: Vec<Case>,
    root: &Path,
    scope: Option<&Path>,
    filter: Option<&str>,
) -> (Vec<Case>, usize) {
    let scope = scope.and_then(|s| s.canonicalize().ok());
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let in_scope: Vec<Case> = cases
        .into_iter()
        .filter(|c| {
            scope
                .as_ref()
                .is_none_or(|s| root.join(c.file()).starts_with(s))
        })
        .collect();
    let total = in_scope.len();
    let kept: Vec<Case> = in_scope
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.id.contains(f)))
        .collect();
    let left_out = total - kept.len();
    (kept, left_out)
}
