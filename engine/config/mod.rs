//! Loading a project directory: `graphs/**/*.yaml`, `prompts/**/*.j2`, `tools.yaml` and
//! the files it includes (see `tools`).
//!
//! Loading never stops at the first problem. YAML syntax errors, repeated keys and
//! schema violations go to `Project::findings` and the file (in a tools file: the one
//! tool) is left out, so `validate` shows everything in one run. Names defined by what
//! was left out are kept in `Project::unloaded`, so that references to them are not
//! reported a second time as unknown.

pub mod case_spec;
pub mod cases;
pub mod locate;
pub mod regexes;
pub mod schema;
pub mod spans;
pub mod spec;
mod strict;
mod tools;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::core::diagnostic::{Diagnostic, Report};
use spans::{Pos, Spans};
use spec::{GraphSpec, ToolSpec, ToolsFile};
use strict::Strict;

/// A file's text and where its nodes are; `path` is relative to the project root.
#[derive(Debug)]
pub struct Source {
    pub path: String,
    pub text: String,
    /// Worked out when first asked: a file without findings never needs them.
    spans: OnceLock<Spans>,
}

impl Source {
    /// A YAML file: positions from its text on demand.
    pub fn yaml(path: String, text: String) -> Source {
        Source {
            path,
            text,
            spans: OnceLock::new(),
        }
    }
    /// A file whose nodes have no positions (a prompt).
    pub fn plain(path: String, text: String) -> Source {
        Source {
            path,
            text,
            spans: OnceLock::from(Spans::default()),
        }
    }
    pub fn spans(&self) -> &Spans {
        self.spans.get_or_init(|| Spans::of(&self.text))
    }
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
        self.source.spans().value(pointer)
    }
    /// Position of the key at a JSON Pointer.
    pub fn key_at(&self, pointer: &str) -> Pos {
        self.source.spans().key(pointer)
    }
    /// Position of byte `offset` of the string at `pointer`: a token inside a value.
    pub fn at_offset(&self, pointer: &str, offset: usize) -> Pos {
        let text = self.value.pointer(pointer).and_then(Value::as_str);
        match (self.source.spans().scalar(pointer), text) {
            (Some((start, style)), Some(text)) => {
                locate::locate(&self.source.text, start, style, text, offset)
            }
            _ => self.at(pointer),
        }
    }
}

/// Everything read from one project directory.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub root: PathBuf,
    pub graphs: Vec<Doc<GraphSpec>>,
    /// tools.yaml first, then the files it includes, in the order it lists them.
    pub tool_files: Vec<Doc<ToolsFile>>,
    /// Where the entries of merged sections are defined: section → name → index in
    /// `tool_files` (the first definition; a second one is reported).
    defined: BTreeMap<&'static str, BTreeMap<String, usize>>,
    /// Prompt name (path under prompts/ without `.j2`) → source.
    pub prompts: BTreeMap<String, Arc<Source>>,
    /// What loading found (syntax, repeated keys, schema); `validate::check` reports it first.
    pub findings: Report,
    pub unloaded: Unloaded,
    /// Its regexes, each compiled once for `validate` and `compile` both.
    pub regexes: regexes::Regexes,
}

/// One tool and the file that defines it.
#[derive(Debug, Clone, Copy)]
pub struct Tool<'a> {
    pub name: &'a str,
    pub doc: &'a Doc<ToolsFile>,
    pub spec: &'a ToolSpec,
}

impl<'a> Tool<'a> {
    /// JSON Pointer of `field` of the tool in its file (`""` for the entry itself).
    pub fn ptr(&self, field: &str) -> String {
        format!("/tools/{}{field}", spans::escape(self.name))
    }
    /// The tool's entry as written.
    pub fn value(&self) -> &'a Value {
        self.doc
            .value
            .pointer(&self.ptr(""))
            .unwrap_or(&Value::Null)
    }
}

impl Project {
    /// The tool called `name`, wherever it is defined.
    pub fn tool(&self, name: &str) -> Option<Tool<'_>> {
        let file = *self.defined.get(tools::TOOLS)?.get(name)?;
        let doc = &self.tool_files[file];
        let (name, spec) = doc.spec.tools.get_key_value(name)?;
        Some(Tool { name, doc, spec })
    }
    /// Every tool once, by name.
    pub fn tools(&self) -> impl Iterator<Item = Tool<'_>> {
        self.defined
            .get(tools::TOOLS)
            .into_iter()
            .flat_map(|m| m.keys())
            .filter_map(|name| self.tool(name))
    }
}

/// Names defined in files or entries that did not load.
#[derive(Debug, Clone, Default)]
pub struct Unloaded {
    pub graphs: BTreeSet<String>,
    /// A graph file whose name could not be read did not load: any graph name may be in it.
    pub any_graph: bool,
    pub tools: BTreeSet<String>,
    /// A tools file as a whole did not load (or an include was missing).
    pub any_tool: bool,
}

impl Unloaded {
    pub fn has_graph(&self, name: &str) -> bool {
        self.any_graph || self.graphs.contains(name)
    }
    pub fn has_tool(&self, name: &str) -> bool {
        self.any_tool || self.tools.contains(name)
    }
}

/// The project directory itself could not be read (exit code 2 territory).
#[derive(Debug, thiserror::Error)]
#[error("cannot read project at {path}: {reason}")]
pub struct LoadError {
    pub path: String,
    pub reason: String,
}

/// Reads and schema-checks every file under `root`; findings go to `Project::findings`.
pub fn load(root: &Path) -> Result<Project, LoadError> {
    let fail = |reason: &str| LoadError {
        path: root.display().to_string(),
        reason: reason.into(),
    };
    if !root.exists() {
        return Err(fail("no such directory"));
    }
    let graphs_dir = root.join("graphs");
    if !graphs_dir.is_dir() {
        return Err(fail(
            "no graphs/ directory here; pass the project directory (the one holding graphs/, prompts/ and tools.yaml)",
        ));
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
        load_graph(root, &path, &mut project);
    }

    tools::load(root, &mut project);

    let prompts_dir = root.join("prompts");
    for path in files_with_ext(&prompts_dir, &["j2"]) {
        let rel = relative(root, &path);
        let name = path
            .strip_prefix(&prompts_dir)
            .unwrap_or(&path)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        if let Some(text) = read(&rel, &path, &mut project.findings) {
            project
                .prompts
                .insert(name, Arc::new(Source::plain(rel, text)));
        }
    }
    Ok(project)
}

fn load_graph(root: &Path, path: &Path, project: &mut Project) {
    let rel = relative(root, path);
    let Some(text) = read(&rel, path, &mut project.findings) else {
        project.unloaded.any_graph = true;
        return;
    };
    let unloaded = &mut project.unloaded;
    let mut skip = |name: Option<String>| match name {
        Some(n) => {
            unloaded.graphs.insert(n);
        }
        None => unloaded.any_graph = true,
    };
    let Some((value, source)) = parse_yaml(rel, &text, &mut project.findings) else {
        skip(graph_name_in(&text));
        return;
    };
    let name = value.get("name").and_then(Value::as_str).map(String::from);
    if !schema::check(schema::graph(), &value, &source, &mut project.findings).is_empty() {
        skip(name);
        return;
    }
    match serde_json::from_value::<GraphSpec>(value.clone()) {
        Ok(spec) => project.graphs.push(Doc {
            source,
            value,
            spec,
        }),
        Err(e) => {
            project.findings.push(format_mismatch(&source, &e));
            skip(name);
        }
    }
}

pub fn read(rel: &str, path: &Path, findings: &mut Report) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            findings.push(Diagnostic::error(
                "E001",
                rel,
                Pos { line: 1, col: 1 },
                format!("cannot read: {e}; check the file's permissions and that it is UTF-8"),
            ));
            None
        }
    }
}

/// YAML syntax (E001) and repeated keys (E010); None when the file cannot be used.
pub fn parse_yaml(rel: String, text: &str, findings: &mut Report) -> Option<(Value, Arc<Source>)> {
    let source = Arc::new(Source::yaml(rel, text.to_string()));
    let value: Value = match serde_yaml::from_str(text) {
        Ok(Strict(v)) => v,
        Err(e) if e.to_string().contains(strict::DUPLICATE) => {
            duplicates(&source, findings);
            return None;
        }
        Err(e) => {
            let at = e
                .location()
                .map(|l| Pos {
                    line: l.line(),
                    col: l.column(),
                })
                .unwrap_or(Pos { line: 1, col: 1 });
            let (pos, message) = syntax_error(&e.to_string(), text, at);
            findings.push(Diagnostic::error("E001", &source.path, pos, message));
            return None;
        }
    };
    Some((value, source))
}

/// E010 for every mapping key `source` writes twice (the parse refused one).
fn duplicates(source: &Source, findings: &mut Report) {
    let found = source.spans().duplicates();
    if found.is_empty() {
        findings.push(Diagnostic::error(
            "E010",
            &source.path,
            Pos { line: 1, col: 1 },
            "a mapping key is written twice; YAML keeps only one of them, so rename or remove one",
        ));
    }
    for d in found {
        let within = match d.pointer.rsplit_once('/') {
            Some(("", _)) | None => "the top level".to_string(),
            Some((parent, _)) => format!("`{}`", schema::dotted(parent)),
        };
        findings.push(Diagnostic::error(
            "E010",
            &source.path,
            d.again,
            format!(
                "duplicate key \"{}\" in {within}, first at line {}; YAML keeps only the last one, so rename or remove one of them",
                d.key, d.first.line
            ),
        ));
    }
}

/// Where to point and what to say for a serde_yaml error. Its text is "PROBLEM at line L
/// column C[, while parsing THING at line L column C]"; something left open (a bracket, a
/// quote) is best shown where it opens, the rest where the parser stopped.
fn syntax_error(raw: &str, text: &str, at: Pos) -> (Pos, String) {
    let (head, context) = match raw.split_once(", while ") {
        Some((h, c)) => (h, Some(c)),
        None => (raw, None),
    };
    let problem = head.split(" at line ").next().unwrap_or(head);
    let opened = context.and_then(|c| {
        let (thing, place) = c.split_once(" at line ")?;
        let (line, col) = place.split_once(" column ")?;
        let pos = Pos {
            line: line.trim().parse().ok()?,
            col: col.trim().parse().ok()?,
        };
        let thing = match thing
            .trim_start_matches("parsing ")
            .trim_start_matches("scanning ")
        {
            "a flow sequence" => "the list `[`",
            "a flow mapping" => "the mapping `{`",
            "a quoted scalar" => "the quoted string",
            other => other,
        };
        Some((thing, pos))
    });
    let unclosed = problem.contains("end of stream") || problem.contains("expected ',' or");
    if let (true, Some((thing, pos))) = (unclosed, opened) {
        return (
            pos,
            format!(
                "YAML syntax error: {thing} that starts here is not closed ({problem} at line {} column {}); close it",
                at.line, at.col
            ),
        );
    }
    let ch = text
        .lines()
        .nth(at.line.saturating_sub(1))
        .and_then(|l| l.chars().nth(at.col.saturating_sub(1)));
    let fix = if ch == Some('\t') {
        "YAML does not allow tabs for indentation; indent with spaces"
    } else if problem.contains("mapping values are not allowed") {
        "a value that contains \": \" must be quoted, or a key is indented wrongly"
    } else {
        "check the indentation, and that quotes and brackets are closed"
    };
    (at, format!("YAML syntax error: {problem}; {fix}"))
}

/// The shape passed the schema but not the types (the schema and spec.rs disagree).
fn format_mismatch(source: &Source, e: &serde_json::Error) -> Diagnostic {
    Diagnostic::error(
        "E005",
        &source.path,
        Pos { line: 1, col: 1 },
        format!("does not match the file format: {e}; compare with docs/CONFIG.md"),
    )
}

/// `name:` of a graph file that did not parse, read from its text.
fn graph_name_in(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix("name:")?.trim();
        let v = v.trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Files under `dir` (recursively) with one of `exts`, sorted for stable output.
pub(crate) fn files_with_ext(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
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
