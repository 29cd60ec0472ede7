//! Reloading the configuration of a running engine: validate, compile, swap, and say
//! what changed. The HTTP reload endpoint, SIGHUP and `serve --watch` all come here,
//! so a config with errors is refused the same way everywhere and the running one stays.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::config::Project;
use crate::run::Engine;
use crate::validate::diagnostic::{Diagnostic, Report};

/// What a reload changed, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigDiff {
    pub graphs: Changes,
    pub tools: Changes,
    pub prompts: Changes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl Changes {
    /// Compares two name → content maps.
    fn between<T: PartialEq>(old: &BTreeMap<&str, T>, new: &BTreeMap<&str, T>) -> Changes {
        let mut c = Changes::default();
        for (name, v) in new {
            match old.get(name) {
                None => c.added.push(name.to_string()),
                Some(o) if o != v => c.changed.push(name.to_string()),
                Some(_) => {}
            }
        }
        c.removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| k.to_string())
            .collect();
        c
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

impl ConfigDiff {
    /// Graphs and prompts compare by source text, tools by their entry (wherever it is
    /// written: a tool moved to another file unchanged has not changed).
    pub fn new(old: &Project, new: &Project) -> ConfigDiff {
        ConfigDiff {
            graphs: Changes::between(&graph_texts(old), &graph_texts(new)),
            tools: Changes::between(&tool_entries(old), &tool_entries(new)),
            prompts: Changes::between(&prompt_texts(old), &prompt_texts(new)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty() && self.tools.is_empty() && self.prompts.is_empty()
    }
}

fn graph_texts(p: &Project) -> BTreeMap<&str, &str> {
    p.graphs
        .iter()
        .map(|g| (g.spec.name.as_str(), g.source.text.as_str()))
        .collect()
}

fn tool_entries(p: &Project) -> BTreeMap<&str, &Value> {
    p.tools().map(|t| (t.name, t.value())).collect()
}

fn prompt_texts(p: &Project) -> BTreeMap<&str, &str> {
    p.prompts
        .iter()
        .map(|(k, s)| (k.as_str(), s.text.as_str()))
        .collect()
}

/// `graphs: changed supervisor; prompts: added a, removed b`, or `no changes`.
impl std::fmt::Display for ConfigDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("no changes");
        }
        let mut parts = Vec::new();
        for (kind, c) in [
            ("graphs", &self.graphs),
            ("tools", &self.tools),
            ("prompts", &self.prompts),
        ] {
            let mut what = Vec::new();
            for (verb, names) in [
                ("added", &c.added),
                ("changed", &c.changed),
                ("removed", &c.removed),
            ] {
                if !names.is_empty() {
                    what.push(format!("{verb} {}", names.join(", ")));
                }
            }
            if !what.is_empty() {
                parts.push(format!("{kind}: {}", what.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// Loads, validates and compiles `root`; on success swaps it into `engine` (unless
/// nothing changed) and returns what changed. On errors the engine keeps its config.
/// A set that drops the entry graph the engine runs is refused too (E077): it validates,
/// since a project may hold pipelines alone, but a server running it would answer no
/// chat. Graphs that anything points at are checked by `validate` (E014 and the like).
pub fn reload(engine: &Engine, root: &Path) -> Result<ConfigDiff, Report> {
    let (new, _warnings) = crate::compile::load(root)?;
    let served = missing_entry(&engine.config()).is_none();
    if let Some(missing) = missing_entry(&new).filter(|_| served) {
        let mut report = Report::default();
        report.push(missing);
        return Err(report);
    }
    let diff = ConfigDiff::new(&engine.config().project, &new.project);
    if !diff.is_empty() {
        engine.swap(new);
    }
    Ok(diff)
}

/// E077 when `set` has no entry graph (`supervisor`), which serving needs.
pub fn missing_entry(set: &crate::compile::CompiledSet) -> Option<Diagnostic> {
    let entry = crate::config::spec::SUPERVISOR;
    set.graph(entry).is_none().then(|| {
        Diagnostic::error(
            "E077",
            "graphs/",
            crate::core::Pos { line: 0, col: 0 },
            format!(
                "no graph named \"{entry}\": the server runs every chat from it; restore graphs/{entry}.yaml"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_by_name() {
        let old: BTreeMap<&str, i32> = [("a", 1), ("b", 2), ("c", 3)].into();
        let new: BTreeMap<&str, i32> = [("a", 1), ("b", 20), ("d", 4)].into();
        let c = Changes::between(&old, &new);
        assert_eq!(c.added, vec!["d"]);
        assert_eq!(c.changed, vec!["b"]);
        assert_eq!(c.removed, vec!["c"]);
        assert!(Changes::between(&old, &old).is_empty());
        let diff = ConfigDiff {
            prompts: c,
            ..Default::default()
        };
        assert_eq!(diff.to_string(), "prompts: added d, changed b, removed c");
        assert_eq!(ConfigDiff::default().to_string(), "no changes");
    }
}
