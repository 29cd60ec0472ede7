//! The JSON Schemas of graph files and tools.yaml, and schema findings with positions.
//!
//! The schemas are the files published under `docs/schema/` (editors use them through
//! yaml-language-server), compiled once here, so the editor and `validate` agree. A
//! finding quotes the schema's `description` of the field, so the fix is in the message.

use std::collections::HashSet;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

use super::Source;
use super::spans::{Pos, escape};
use crate::core::diagnostic::{Diagnostic, Report, did_you_mean};

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

/// One violation, ready to report: where, what, and the instance it concerns.
struct Finding {
    code: &'static str,
    pos: Pos,
    message: String,
    /// JSON Pointer of the offending instance (the loader leaves out what holds it).
    pointer: String,
    /// E002: the field the unknown one was probably meant to be; E004: the missing field.
    field: Option<String>,
}

/// Reports every schema violation of `value`; returns the pointers of the offending
/// instances (empty when the document conforms).
pub fn check(
    schema: &jsonschema::Validator,
    value: &Value,
    source: &Source,
    report: &mut Report,
) -> Vec<String> {
    let root = if std::ptr::eq(schema, graph()) {
        &*GRAPH_JSON
    } else if std::ptr::eq(schema, tools()) {
        &*TOOLS_JSON
    } else {
        &Value::Null
    };
    check_against(schema, root, value, source, report)
}

/// [`check`] for any schema: `schema_json` is the schema the validator was built from,
/// where messages find the allowed field names and the fields' descriptions.
pub fn check_against(
    schema: &jsonschema::Validator,
    schema_json: &Value,
    value: &Value,
    source: &Source,
    report: &mut Report,
) -> Vec<String> {
    let mut found: Vec<Finding> = Vec::new();
    for err in schema.iter_errors(value) {
        describe(schema_json, source, &err, &mut found);
    }
    // A misspelt required field is one mistake: keep "unknown field (did you mean)" only.
    let meant: HashSet<(&str, &str)> = found
        .iter()
        .filter(|f| f.code == "E002")
        .filter_map(|f| Some((parent(&f.pointer), f.field.as_deref()?)))
        .collect();
    let misspelt = |f: &Finding| {
        f.code == "E004"
            && f.field
                .as_deref()
                .is_some_and(|name| meant.contains(&(parent(&f.pointer), name)))
    };
    let mut seen = HashSet::new();
    let mut pointers = Vec::new();
    for f in found.iter().filter(|f| !misspelt(f)) {
        if seen.insert((f.code, f.pos, f.message.clone())) {
            pointers.push(f.pointer.clone());
            report.push(Diagnostic::error(
                f.code,
                &source.path,
                f.pos,
                f.message.clone(),
            ));
        }
    }
    pointers
}

fn describe(root: &Value, source: &Source, err: &ValidationError, out: &mut Vec<Finding>) {
    let at = err.instance_path().as_str().to_string();
    let schema_path = err.schema_path().as_str();
    let schema_here = schema_at(root, parent(schema_path));
    let hint = schema_here
        .and_then(|s| s.get("description"))
        .and_then(Value::as_str)
        .map(|d| format!(" ({})", d.trim_end_matches('.')))
        .unwrap_or_default();
    let place = where_(&at);
    let mut push = |code, pos, message: String, pointer: String, field| {
        out.push(Finding {
            code,
            pos,
            message,
            pointer,
            field,
        })
    };
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = schema_here
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_default();
            let allowed = if known.is_empty() {
                String::new()
            } else {
                format!("; allowed here: {}", known.join(", "))
            };
            for field in unexpected {
                let hint = did_you_mean(field, known.iter().copied());
                let meant = closest(field, &known);
                let pointer = format!("{at}/{}", escape(field));
                push(
                    "E002",
                    source.spans().key(&pointer),
                    format!("unknown field \"{field}\" in {place}{hint}{allowed}"),
                    pointer,
                    meant,
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let what = schema_here
                .and_then(|s| s.pointer(&format!("/properties/{}/description", escape(name))))
                .and_then(Value::as_str)
                .map(|d| format!(" ({})", d.trim_end_matches('.')))
                .unwrap_or_default();
            // Pointer of the would-be field, so a misspelling of it can cancel this finding.
            push(
                "E004",
                source.spans().key(&at),
                format!("missing required field \"{name}\" in {place}; add `{name}:`{what}"),
                format!("{at}/{}", escape(name)),
                Some(name.to_string()),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => yaml_type(*t).to_string(),
                TypeKind::Multiple(ts) => ts.iter().map(yaml_type).collect::<Vec<_>>().join(" or "),
            };
            push(
                "E003",
                source.spans().value(&at),
                format!(
                    "wrong type at {place}: expected {expected}, found {}{hint}",
                    found_type(err.instance())
                ),
                at,
                None,
            );
        }
        ValidationErrorKind::Enum { options } => {
            let got = match err.instance().as_ref() {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let got = got.as_str();
            let opts: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let did = did_you_mean(got, opts.iter().copied());
            let what = if at.ends_with("/kind") && at.starts_with("/nodes/") {
                format!("unknown node kind \"{got}\"")
            } else {
                format!("\"{got}\" is not allowed at {place}")
            };
            push(
                "E003",
                source.spans().value(&at),
                format!("{what}{did}; use one of: {}", opts.join(", ")),
                at,
                None,
            );
        }
        ValidationErrorKind::PropertyNames { error } => {
            let name = error.instance().as_str().unwrap_or_default().to_string();
            let pointer = format!("{at}/{}", escape(&name));
            push(
                "E005",
                source.spans().key(&pointer),
                format!("name \"{name}\" is not allowed in {place}: {error}{hint}; rename it"),
                pointer,
                None,
            );
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context }
            if let [branch] = same_type_branches(context, &at).as_slice() =>
        {
            // Only one alternative has the right type: what is wrong is inside it.
            for e in branch.iter() {
                describe(root, source, e, out);
            }
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => push(
            "E005",
            source.spans().value(&at),
            format!(
                "invalid value at {place}: found {}{hint}",
                found_type(err.instance())
            ),
            at,
            None,
        ),
        _ => push(
            "E005",
            source.spans().value(&at),
            format!("invalid value at {place}: {err}{hint}"),
            at,
            None,
        ),
    }
}

/// The alternatives of a oneOf/anyOf whose type fits the instance at `at`.
fn same_type_branches<'a, 'e>(
    context: &'a [Vec<ValidationError<'e>>],
    at: &str,
) -> Vec<&'a Vec<ValidationError<'e>>> {
    context
        .iter()
        .filter(|errs| {
            !errs.is_empty()
                && !errs.iter().any(|e| {
                    matches!(e.kind(), ValidationErrorKind::Type { .. })
                        && e.instance_path().as_str() == at
                })
        })
        .collect()
}

/// `` `nodes.agent.tools` `` for a JSON Pointer, "the top level" for the root.
fn where_(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level".into()
    } else {
        format!("`{}`", dotted(pointer))
    }
}

/// `nodes.agent.tools` for `/nodes/agent/tools`.
pub fn dotted(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn parent(pointer: &str) -> &str {
    pointer.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// The name in `known` that `field` was probably meant to be.
fn closest(field: &str, known: &[&str]) -> Option<String> {
    let hint = did_you_mean(field, known.iter().copied());
    known
        .iter()
        .find(|k| hint == format!(" (did you mean \"{k}\"?)"))
        .map(|k| k.to_string())
}

/// The schema object at a validator's schema path, following `$ref`s on the way.
fn schema_at<'a>(root: &'a Value, schema_path: &str) -> Option<&'a Value> {
    let resolve = |mut node: &'a Value| {
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            match root.pointer(r.trim_start_matches('#')) {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    };
    let mut node = root;
    for seg in schema_path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "$ref")
    {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => node.get(&seg)?,
        };
        node = resolve(node);
    }
    Some(node)
}

/// JSON type names as a YAML author knows them.
fn yaml_type(t: JsonType) -> &'static str {
    match t {
        JsonType::Array => "a list",
        JsonType::Object => "a mapping",
        JsonType::String => "a string",
        JsonType::Integer => "an integer",
        JsonType::Number => "a number",
        JsonType::Boolean => "true or false",
        JsonType::Null => "nothing",
    }
}

fn found_type(v: &Value) -> String {
    match v {
        Value::Null => "nothing (an empty value)".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
