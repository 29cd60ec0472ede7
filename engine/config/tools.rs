//! tools.yaml and the files it includes. Each file is read and schema-checked on its own,
//! so every position stays in its file; then the named entries of their sections are
//! merged into one index (`Project::defined`).
//!
//! Only tools.yaml includes files, with paths relative to it, listed explicitly. An
//! include of a file that does not exist is E060, of tools.yaml itself or of a file
//! already included E061, and a name defined in two places E062 — each reported where
//! the include or the second definition is written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::spans::{Pos, escape};
use super::spec::ToolsFile;
use super::{Doc, Project, format_mismatch, parse_yaml, read, relative, schema};
use crate::core::diagnostic::{Diagnostic, Report, did_you_mean};

/// The top file, at the project root.
pub const TOP: &str = "tools.yaml";
/// The section of tools.
pub const TOOLS: &str = "tools";

/// Sections whose named entries merge across tools.yaml and its includes, with what one
/// entry is called in messages. Another section is one more line here, its field in
/// `ToolsFile`, and its property in docs/schema/tools.schema.json.
const SECTIONS: &[(&str, &str)] = &[(TOOLS, "tool")];

/// Loads tools.yaml, then each file it includes, then merges their sections.
pub(super) fn load(root: &Path, project: &mut Project) {
    let top = root.join(TOP);
    if !top.is_file() {
        return;
    }
    let Some(doc) = load_file(root, &top, project) else {
        return;
    };
    let includes = doc.spec.include.clone();
    project.tool_files.push(doc);
    // Path as the project names it → where it was first included.
    let mut included: HashMap<String, Pos> = HashMap::new();
    for (i, entry) in includes.iter().enumerate() {
        let at = project.tool_files[0].at(&format!("/include/{i}"));
        let path = normalize(&root.join(entry));
        let rel = relative(root, &path);
        let mut fail = |code, message: String| {
            project
                .findings
                .push(Diagnostic::error(code, TOP, at, message))
        };
        if rel == TOP {
            fail(
                "E061",
                format!("{TOP} includes itself; remove this entry (list only the files under it)"),
            );
            continue;
        }
        if let Some(first) = included.get(&rel) {
            fail(
                "E061",
                format!(
                    "\"{rel}\" is already included at line {}; list each file once",
                    first.line
                ),
            );
            continue;
        }
        included.insert(rel.clone(), at);
        if !path.is_file() {
            fail(
                "E060",
                format!(
                    "included file \"{entry}\" does not exist{}; create it or fix the path (relative to {TOP})",
                    did_you_mean(entry, siblings(root, &path).iter().map(String::as_str))
                ),
            );
            // Its tools are unknown: do not report every use of them as well.
            project.unloaded.any_tool = true;
            continue;
        }
        if let Some(doc) = load_file(root, &path, project) {
            if doc.value.get("include").is_some() {
                project.findings.push(Diagnostic::error(
                    "E002",
                    doc.file(),
                    doc.key_at("/include"),
                    format!("unknown field \"include\" in an included file; only {TOP} includes files, so list these in its `include:`"),
                ));
            }
            project.tool_files.push(doc);
        }
    }
    for (section, what) in SECTIONS {
        let index = merge(&project.tool_files, section, what, &mut project.findings);
        project.defined.insert(section, index);
    }
}

/// One tools file: a tool with schema violations is left out alone; the others load.
fn load_file(root: &Path, path: &Path, project: &mut Project) -> Option<Doc<ToolsFile>> {
    let rel = relative(root, path);
    let findings = &mut project.findings;
    let unloaded = &mut project.unloaded;
    let Some(text) = read(&rel, path, findings) else {
        unloaded.any_tool = true;
        return None;
    };
    let Some((mut value, source)) = parse_yaml(rel, &text, findings) else {
        unloaded.any_tool = true;
        return None;
    };
    for pointer in schema::check(schema::tools(), &value, &source, findings) {
        let tool = pointer
            .strip_prefix("/tools/")
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .map(|seg| seg.replace("~1", "/").replace("~0", "~"));
        match tool {
            Some(name) => {
                if let Some(tools) = value.get_mut(TOOLS).and_then(Value::as_object_mut) {
                    tools.remove(&name);
                }
                unloaded.tools.insert(name);
            }
            None => {
                unloaded.any_tool = true;
                return None;
            }
        }
    }
    match serde_json::from_value::<ToolsFile>(value.clone()) {
        Ok(spec) => Some(Doc {
            source,
            value,
            spec,
        }),
        Err(e) => {
            findings.push(format_mismatch(&source, &e));
            unloaded.any_tool = true;
            None
        }
    }
}

/// Name → index of the file that defines it, for the entries of `section` in `files`
/// taken in order; a name defined again is E062 at its second definition.
fn merge(
    files: &[Doc<ToolsFile>],
    section: &str,
    what: &str,
    findings: &mut Report,
) -> BTreeMap<String, usize> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, doc) in files.iter().enumerate() {
        let Some(entries) = doc.value.get(section).and_then(Value::as_object) else {
            continue;
        };
        for name in entries.keys() {
            let ptr = format!("/{section}/{}", escape(name));
            match index.get(name) {
                Some(&first) => {
                    let (prev, at) = (&files[first], files[first].key_at(&ptr));
                    findings.push(Diagnostic::error(
                        "E062",
                        doc.file(),
                        doc.key_at(&ptr),
                        format!(
                            "duplicate {what} \"{name}\", already defined in {}:{}:{}; define each {what} once (rename or remove one)",
                            prev.file(),
                            at.line,
                            at.col
                        ),
                    ));
                }
                None => {
                    index.insert(name.clone(), i);
                }
            }
        }
    }
    index
}

/// `path` with `.` and `..` resolved without touching the file system (the file may not
/// exist), so that two spellings of one file compare equal.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// YAML files beside a missing one, as the project names them: candidates for "did you mean".
fn siblings(root: &Path, missing: &Path) -> Vec<String> {
    let Some(dir) = missing.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .map(|p| relative(root, &p))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(
            normalize(Path::new("/p/./tools/../tools.yaml")),
            Path::new("/p/tools.yaml")
        );
        assert_eq!(normalize(Path::new("a/../../b")), Path::new("../b"));
    }
}
