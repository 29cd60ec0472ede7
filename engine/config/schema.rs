//! The JSON Schemas of graph files and tools.yaml, and schema findings with positions.
//!
//! The schemas are the files published under `docs/schema/` (editors use them through
//! yaml-language-server), compiled once here, so the editor and `validate` agree.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::Source;
use crate::validate::diagnostic::{Diagnostic, Report, did_you_mean};

const GRAPH: &str = include_str!("../../docs/schema/graph.schema.json");
const TOOLS: &str = include_str!("../../docs/schema/tools.schema.json");

static GRAPH_JSON: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(GRAPH).expect("graph schema is JSON"));
static TOOLS_JSON: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(TOOLS).expect("tools schema is JSON"));
static GRAPH_V: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| jsonschema::validator_for(&GRAPH_JSON).expect("graph schema compiles"));
static TOOLS_V: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| jsonschema::validator_for(&TOOLS_JSON).expect("tools schema compiles"));

pub fn graph() -> &'static jsonschema::Validator {
    &GRAPH_V
}
pub fn tools() -> &'static jsonschema::Validator {
    &TOOLS_V
}

/// Reports every schema violation of `value`; true when there were none.
pub fn check(
    schema: &jsonschema::Validator,
    value: &Value,
    source: &Source,
    report: &mut Report,
) -> bool {
    let root = if std::ptr::eq(schema, graph()) {
        &*GRAPH_JSON
    } else {
        &*TOOLS_JSON
    };
    let mut ok = true;
    let mut seen = std::collections::HashSet::new();
    for err in schema.iter_errors(value) {
        ok = false;
        let at = err.instance_path().as_str().to_string();
        let (code, pos, msg) = match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = known_fields(root, err.schema_path().as_str());
                let field = unexpected.first().cloned().unwrap_or_default();
                let hint = did_you_mean(&field, known.iter().map(String::as_str));
                let pointer = format!("{at}/{}", super::spans::escape(&field));
                let expected = if known.is_empty() {
                    String::new()
                } else {
                    format!("; allowed here: {}", known.join(", "))
                };
                (
                    "E002",
                    source.spans.key(&pointer),
                    format!("unknown field \"{field}\"{hint}{expected}"),
                )
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                (
                    "E004",
                    source.spans.value(&at),
                    format!("missing required field \"{name}\" in {}", where_(&at)),
                )
            }
            ValidationErrorKind::Type { .. } => (
                "E003",
                source.spans.value(&at),
                format!("wrong type at {}: {err}", where_(&at)),
            ),
            ValidationErrorKind::Enum { options } => {
                let got = value
                    .pointer(&at)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let opts: Vec<&str> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let hint = did_you_mean(got, opts.iter().copied());
                (
                    "E003",
                    source.spans.value(&at),
                    format!(
                        "\"{got}\" is not allowed at {}{hint}; use one of: {}",
                        where_(&at),
                        opts.join(", ")
                    ),
                )
            }
            _ => (
                "E005",
                source.spans.value(&at),
                format!("invalid value at {}: {err}", where_(&at)),
            ),
        };
        if seen.insert((code, pos.line, pos.col, msg.clone())) {
            report.push(Diagnostic::error(code, &source.path, pos, msg));
        }
    }
    ok
}

fn where_(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level".into()
    } else {
        format!("`{}`", pointer.trim_start_matches('/').replace('/', "."))
    }
}

/// Field names allowed by the schema object whose `additionalProperties` failed.
fn known_fields(root: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let mut node = root;
    for seg in parent.split('/').filter(|s| !s.is_empty()) {
        if seg == "$ref" {
            continue;
        }
        node = match node.get(seg).or_else(|| {
            node.as_array()
                .and_then(|a| a.get(seg.parse::<usize>().ok()?))
        }) {
            Some(n) => n,
            None => return vec![],
        };
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            match root.pointer(r.trim_start_matches('#')) {
                Some(n) => node = n,
                None => break,
            }
        }
    }
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
