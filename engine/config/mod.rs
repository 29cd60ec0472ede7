//! Loading a project directory: `graphs/**/*.yaml`, `prompts/**/*.j2`, `tools.yaml`.
//!
//! Loading never stops at the first problem: YAML syntax and schema findings go to the
//! report and the file is skipped, so `validate` can show everything in one run.

pub mod schema;
pub mod spans;
pub mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::validate::diagnostic::{Diagnostic, Report};
use spans::{Pos, Spans};
use spec::{GraphSpec, ToolsFile};

/// A file's text and where its nodes are; `path` is relative to the project root.
#[derive(Debug)]
pub struct Source {
    pub path: String,
    pub text: String,
    pub spans: Spans,
}

/// A parsed YAML file: the raw value (for schema checks) and the typed spec.
#[derive(Debug, Clone)]
pub struct Doc<T> {
    pub source: Arc<Source>,
    pub value: Value,
    pub spec: T,
}

impl<T> Doc<T> {
    pub fn file(&self) -> &str {
        &self.source.path
    }
    /// Position of the value at a JSON Pointer.
    pub fn at(&self, pointer: &str) -> Pos {
        self.source.spans.value(pointer)
    }
    /// Position of the key at a JSON Pointer.
    pub fn key_at(&self, pointer: &str) -> Pos {
        self.source.spans.key(pointer)
    }
}

/// Everything read from one project directory.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub root: PathBuf,
    pub graphs: Vec<Doc<GraphSpec>>,
    pub tools: Option<Doc<ToolsFile>>,
    /// Prompt name (path under prompts/ without `.j2`) → source.
    pub prompts: BTreeMap<String, Arc<Source>>,
}

/// The project directory itself could not be read (exit code 2 territory).
#[derive(Debug, thiserror::Error)]
#[error("cannot read project at {path}: {reason}")]
pub struct LoadError {
    pub path: String,
    pub reason: String,
}

/// Reads and schema-checks every file under `root`, adding findings to `report`.
pub fn load(root: &Path, report: &mut Report) -> Result<Project, LoadError> {
    let graphs_dir = root.join("graphs");
    if !graphs_dir.is_dir() {
        return Err(LoadError {
            path: root.display().to_string(),
            reason: "no graphs/ directory here; pass the project directory (the one holding graphs/, prompts/ and tools.yaml)".into(),
        });
    }
    let mut project = Project {
        root: root.to_path_buf(),
        ..Default::default()
    };

    let mut graph_files = files_with_ext(&graphs_dir, &["yaml", "yml"]);
    graph_files.retain(|p| {
        !p.strip_prefix(&graphs_dir)
            .is_ok_and(|r| r.starts_with("tests"))
    });
    for path in graph_files {
        if let Some(doc) = read_doc::<GraphSpec>(root, &path, schema::graph(), report) {
            project.graphs.push(doc);
        }
    }

    let tools_path = root.join("tools.yaml");
    if tools_path.is_file() {
        project.tools = read_doc::<ToolsFile>(root, &tools_path, schema::tools(), report);
    }

    let prompts_dir = root.join("prompts");
    for path in files_with_ext(&prompts_dir, &["j2"]) {
        let rel = relative(root, &path);
        let name = path
            .strip_prefix(&prompts_dir)
            .unwrap_or(&path)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                project.prompts.insert(
                    name,
                    Arc::new(Source {
                        path: rel,
                        text,
                        spans: Spans::default(),
                    }),
                );
            }
            Err(e) => report.push(Diagnostic::error(
                "E001",
                &rel,
                Pos::default(),
                format!("cannot read: {e}"),
            )),
        }
    }
    Ok(project)
}

/// Parses one YAML file: syntax (E001, E010), then schema (E002–E005), then the typed spec.
pub fn read_doc<T: DeserializeOwned>(
    root: &Path,
    path: &Path,
    schema: &jsonschema::Validator,
    report: &mut Report,
) -> Option<Doc<T>> {
    let rel = relative(root, path);
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.push(Diagnostic::error(
                "E001",
                &rel,
                Pos { line: 1, col: 1 },
                format!("cannot read: {e}"),
            ));
            return None;
        }
    };
    parse_doc(rel, text, schema, report)
}

/// Like [`read_doc`] for text already in memory (tests, hot reload).
pub fn parse_doc<T: DeserializeOwned>(
    rel: String,
    text: String,
    schema: &jsonschema::Validator,
    report: &mut Report,
) -> Option<Doc<T>> {
    let value: Value = match serde_yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let pos = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or(Pos { line: 1, col: 1 });
            // serde_yaml appends " at line L column C"; we print the position up front.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            let (code, msg) = if msg.contains("duplicate entry") {
                (
                    "E010",
                    format!(
                        "duplicate name: {msg}; every key in a mapping must be unique, rename or remove one"
                    ),
                )
            } else {
                ("E001", format!("YAML syntax error: {msg}"))
            };
            report.push(Diagnostic::error(code, &rel, pos, msg));
            return None;
        }
    };
    let source = Arc::new(Source {
        spans: Spans::of(&text),
        path: rel,
        text,
    });
    if !schema::check(schema, &value, &source, report) {
        return None;
    }
    match serde_json::from_value::<T>(value.clone()) {
        Ok(spec) => Some(Doc {
            source,
            value,
            spec,
        }),
        Err(e) => {
            report.push(Diagnostic::error(
                "E005",
                &source.path,
                Pos { line: 1, col: 1 },
                format!("does not match the file format: {e}"),
            ));
            None
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Files under `dir` (recursively) with one of `exts`, sorted for stable output.
fn files_with_ext(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
