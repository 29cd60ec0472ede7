//! Finding the cases: the `tests:` blocks of the project's graph files and the files
//! under `graphs/tests/` (its `recordings/` excluded), each case with its file,
//! position and the graph it runs: what `validate` checks and `graph_tests` runs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde_json::Value;

use super::case_spec::{CaseSpec, TestFile};
use super::spans::{Pos, escape};
use super::spec::SUPERVISOR;
use super::{Project, Source, schema};
use crate::core::{Diagnostic, Report, did_you_mean};

/// Where test files live, relative to the project root.
pub const TESTS_DIR: &str = "graphs/tests";
/// Where recorded model replies live, under [`TESTS_DIR`].
pub const RECORDINGS_DIR: &str = "recordings";

const TESTS_SCHEMA: &str = include_str!("../../docs/schema/tests.schema.json");
static TESTS_V: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let json: Value = serde_json::from_str(TESTS_SCHEMA).expect("tests schema is JSON");
    jsonschema::validator_for(&json).expect("tests schema compiles")
});

/// One case, ready to run or check.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<file>::<name>`, the file named without `graphs/` and its extension.
    pub id: String,
    pub spec: CaseSpec,
    /// The graph it runs.
    pub graph: String,
    pub source: Arc<Source>,
    /// JSON Pointer of the case in its file.
    pub pointer: String,
}

impl Case {
    /// The file, relative to the project root.
    pub fn file(&self) -> &str {
        &self.source.path
    }
    /// Where the case starts.
    pub fn pos(&self) -> Pos {
        self.source.spans().value(&self.pointer)
    }
    /// Where a field of the case is, e.g. `/expect/route`.
    pub fn at(&self, field: &str) -> Pos {
        self.source
            .spans()
            .value(&format!("{}{field}", self.pointer))
    }
    /// The file part of the id (`specialists/dora_pro`).
    pub fn file_id(&self) -> &str {
        self.id.rsplit_once("::").map_or("", |(f, _)| f)
    }
}

/// Every case of the project, in file order; problems of test files go to `report`.
pub fn cases(project: &Project, report: &mut Report) -> Vec<Case> {
    let mut out = Vec::new();
    for doc in &project.graphs {
        for (i, value) in doc.spec.tests.iter().enumerate() {
            let pointer = format!("/tests/{i}");
            if let Some(spec) = typed(value, &doc.source, &pointer, report) {
                out.push(case(spec, doc.spec.name.clone(), &doc.source, pointer));
            }
        }
    }
    if project.root.as_os_str().is_empty() {
        return out;
    }
    for path in test_files(&project.root) {
        let Some((file, source)) = read_test_file(&project.root, &path, report) else {
            continue;
        };
        let default = file.graph.as_deref().unwrap_or(SUPERVISOR);
        for (i, spec) in file.tests.into_iter().enumerate() {
            out.push(case(spec, default.into(), &source, format!("/tests/{i}")));
        }
    }
    out
}

fn case(spec: CaseSpec, default_graph: String, source: &Arc<Source>, pointer: String) -> Case {
    Case {
        id: format!("{}::{}", file_id(&source.path), spec.name),
        graph: spec.graph.clone().unwrap_or(default_graph),
        spec,
        source: source.clone(),
        pointer,
    }
}

/// `graphs/specialists/dora_pro.yaml` → `specialists/dora_pro`.
pub fn file_id(rel: &str) -> &str {
    let rel = rel.strip_prefix("graphs/").unwrap_or(rel);
    rel.strip_suffix(".yaml")
        .or_else(|| rel.strip_suffix(".yml"))
        .unwrap_or(rel)
}

fn typed(value: &Value, source: &Source, pointer: &str, report: &mut Report) -> Option<CaseSpec> {
    match serde_json::from_value(value.clone()) {
        Ok(spec) => Some(spec),
        Err(e) => {
            report.push(Diagnostic::error(
                "E005",
                &source.path,
                source.spans().value(pointer),
                format!(
                    "test case does not match the test format: {e}; compare with docs/CONFIG.md"
                ),
            ));
            None
        }
    }
}

/// YAML files under graphs/tests/, recordings left out, sorted.
pub fn test_files(root: &Path) -> Vec<PathBuf> {
    let dir = root.join(TESTS_DIR);
    let recordings = dir.join(RECORDINGS_DIR);
    super::files_with_ext(&dir, &["yaml", "yml"])
        .into_iter()
        .filter(|p| !p.starts_with(&recordings))
        .collect()
}

/// Unknown top-level fields, with a "did you mean". `schema::check` names the allowed
/// fields only for the graph and tools schemas, so the top level is checked here.
const FIELDS: &[&str] = &["graph", "tests"];

fn top_level_ok(value: &Value, source: &Source, report: &mut Report) -> bool {
    let Some(map) = value.as_object() else {
        return true; // the schema reports the wrong type
    };
    let mut ok = true;
    for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        ok = false;
        report.push(Diagnostic::error(
            "E002",
            &source.path,
            source.spans().key(&format!("/{}", escape(key))),
            format!(
                "unknown field \"{key}\" in the top level{}; allowed here: {}",
                did_you_mean(key, FIELDS.iter().copied()),
                FIELDS.join(", ")
            ),
        ));
    }
    ok
}

/// Reads one test file: syntax (E001), repeated keys (E010), schema, then the typed file.
fn read_test_file(
    root: &Path,
    path: &Path,
    report: &mut Report,
) -> Option<(TestFile, Arc<Source>)> {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
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
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg);
            report.push(Diagnostic::error(
                "E001",
                &rel,
                pos,
                format!("YAML syntax error: {msg}; check the indentation and quoting here"),
            ));
            return None;
        }
    };
    let source = Arc::new(Source::yaml(rel, text));
    for d in source.spans().duplicates() {
        report.push(Diagnostic::error(
            "E010",
            &source.path,
            d.again,
            format!("duplicate key \"{}\", first at line {}; YAML keeps only the last one, so rename or remove one of them", d.key, d.first.line),
        ));
    }
    if !source.spans().duplicates().is_empty() {
        return None;
    }
    let top_ok = top_level_ok(&value, &source, report);
    let mut checked = value.clone();
    if let Some(map) = checked.as_object_mut() {
        map.retain(|k, _| FIELDS.contains(&k.as_str()));
    }
    if !schema::check(&TESTS_V, &checked, &source, report).is_empty() || !top_ok {
        return None;
    }
    match serde_json::from_value::<TestFile>(value) {
        Ok(file) => Some((file, source)),
        Err(e) => {
            report.push(Diagnostic::error(
                "E005",
                &source.path,
                Pos { line: 1, col: 1 },
                format!("does not match the test file format: {e}; compare with docs/CONFIG.md"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Editors read the case format from either schema; both must say the same.
    #[test]
    fn both_schemas_define_the_same_test_case() {
        let graph: Value =
            serde_json::from_str(include_str!("../../docs/schema/graph.schema.json")).unwrap();
        let tests: Value = serde_json::from_str(TESTS_SCHEMA).unwrap();
        assert_eq!(graph["$defs"]["test_case"], tests["$defs"]["test_case"]);
        assert_eq!(
            graph["properties"]["tests"]["items"],
            tests["properties"]["tests"]["items"]
        );
    }

    #[test]
    fn file_ids_drop_the_folder_and_extension() {
        assert_eq!(
            file_id("graphs/specialists/dora_pro.yaml"),
            "specialists/dora_pro"
        );
        assert_eq!(file_id("graphs/tests/people.yml"), "tests/people");
    }
}
