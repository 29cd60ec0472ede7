//! Checks of tools (tools.yaml and the files it includes): argument schemas, intent regexes
//! and their captures, the `:name` parameters of queries, pipeline graphs and answer
//! prompts. Preview templates are checked with the other templates.

use serde_json::Value;

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use super::regexes;
use crate::config::spans::escape;
use crate::config::spec::{QuerySpec, StoreRole, ToolSpec, ToolsFile};
use crate::config::{Doc, Project};
use crate::core::Builtin;

/// The `type` names JSON Schema knows.
const JSON_TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "array", "object", "null",
];

pub fn check_tools(project: &Project, report: &mut Report) {
    for t in project.tools() {
        let (doc, name, tool) = (t.doc, t.name, t.spec);
        let base = t.ptr("");
        check_args_schema(report, doc, &base, name, tool);
        let props = arg_names(&tool.args);
        for (i, intent) in tool.intents.iter().enumerate() {
            let ptr = format!("{base}/intents/{i}");
            let what = format!("intent {i} of tool \"{name}\"");
            let Some(re) = regexes::compile(project, report, doc, &ptr, intent, &what) else {
                continue;
            };
            for cap in re.capture_names() {
                if !props.iter().any(|p| p == cap) {
                    let hint = did_you_mean(cap, props.iter().map(String::as_str));
                    report.push(Diagnostic::error(
                        "E042",
                        doc.file(),
                        doc.at_offset(&ptr, regexes::capture_offset(intent, cap)),
                        format!("capture \"{cap}\" of {what} is not one of its args{hint}; name the capture after a property in `args.properties` ({})", list(&props)),
                    ));
                }
            }
        }
        if let Some(query) = &tool.query {
            check_query_params(report, doc, &base, name, query, &props);
        }
        if let Some(graph) = &tool.graph {
            check_pipeline(project, report, doc, &base, name, graph, &props);
        }
        if let Some(answer) = &tool.answer {
            super::prompts::check_ref(project, report, doc, &t.ptr("/answer"), answer);
        }
        if tool.store == StoreRole::Builtin && Builtin::parse(name).is_none() {
            check_builtin(report, doc, &base, name);
        }
        check_language(report, doc, &base, name, tool, &props);
    }
    for doc in &project.tool_files {
        check_references(project, report, doc);
        check_tables(report, doc);
    }
}

/// Each `vocabulary.tables` entry names a table generated SQL may read, and columns of
/// it (E065).
fn check_tables(report: &mut Report, doc: &Doc<ToolsFile>) {
    let allowed = crate::dataset::sql_guard().allowed();
    for (i, t) in doc.spec.vocabulary.tables.iter().enumerate() {
        let ptr = format!("/vocabulary/tables/{i}");
        let Some((_, columns)) = allowed.iter().find(|(name, _)| *name == t.table) else {
            report.push(Diagnostic::error(
                "E065",
                doc.file(),
                doc.at(&format!("{ptr}/table")),
                format!(
                    "table \"{}\" is not one generated SQL may read{}",
                    t.table,
                    did_you_mean(&t.table, allowed.iter().map(|(n, _)| *n))
                ),
            ));
            continue;
        };
        let named = std::iter::once(("label".to_string(), &t.label))
            .chain(t.person.iter().map(|p| ("person".to_string(), p)))
            .chain(
                t.time
                    .iter()
                    .enumerate()
                    .map(|(j, c)| (format!("time/{j}"), c)),
            );
        for (key, column) in named {
            if !columns.contains(&column.as_str()) {
                let at = format!("{ptr}/{key}");
                report.push(Diagnostic::error(
                    "E065",
                    doc.file(),
                    doc.at(&at),
                    format!(
                        "table \"{}\" has no readable column \"{column}\"{}",
                        t.table,
                        did_you_mean(column, columns.iter().copied())
                    ),
                ));
            }
        }
    }
}

/// Each `vocabulary.references` entry names a tool (E063) that takes the kind of name
/// its `of` says (E064).
fn check_references(project: &Project, report: &mut Report, doc: &Doc<ToolsFile>) {
    use crate::understand::{Kind, Slot};
    for (i, r) in doc.spec.vocabulary.references.iter().enumerate() {
        let ptr = format!("/vocabulary/references/{i}");
        let Some(tool) = project.tools().find(|t| t.name == r.tool) else {
            let names: Vec<&str> = project.tools().map(|t| t.name).collect();
            report.push(Diagnostic::error(
                "E063",
                doc.file(),
                doc.at(&format!("{ptr}/tool")),
                format!(
                    "reference {i} names tool \"{}\", which is not defined{}",
                    r.tool,
                    did_you_mean(&r.tool, names.iter().copied())
                ),
            ));
            continue;
        };
        // The schema has checked that `of` is a kind.
        let Some(k) = r.of.as_deref().and_then(Kind::parse) else {
            continue;
        };
        let takes = |k: Kind| {
            arg_names(&tool.spec.args).iter().any(|a| {
                let schema = tool
                    .spec
                    .args
                    .pointer(&format!("/properties/{a}"))
                    .cloned()
                    .unwrap_or_default();
                tool.spec
                    .slots
                    .get(a)
                    .and_then(|s| Slot::parse(s))
                    .or_else(|| Slot::by_arg_name(a, &schema))
                    .is_some_and(|s| s.takes(k))
            })
        };
        if !takes(k) {
            let of = k.as_str();
            report.push(Diagnostic::error(
                "E064",
                doc.file(),
                doc.at(&format!("{ptr}/of")),
                format!(
                    "reference {i} finds its person with tool \"{}\", which takes no {of}; name a tool with a {of} argument",
                    r.tool
                ),
            ));
        }
    }
}

/// The question-understanding fields: each `{placeholder}` of an example is a known one
/// (E045) that an argument of the tool takes (E046; a tool that takes the question's text
/// takes every name); each `slots:` key is an arg (E047).
fn check_language(
    report: &mut Report,
    doc: &Doc<ToolsFile>,
    base: &str,
    name: &str,
    tool: &crate::config::spec::ToolSpec,
    props: &[String],
) {
    use crate::understand::lexicon::{PLACEHOLDERS, Slot};
    let schema_of = |arg: &str| {
        tool.args
            .pointer(&format!("/properties/{arg}"))
            .cloned()
            .unwrap_or_default()
    };
    let takes: Vec<&str> = props
        .iter()
        .filter_map(|a| {
            tool.slots
                .get(a)
                .and_then(|s| Slot::parse(s))
                .or_else(|| Slot::by_arg_name(a, &schema_of(a)))
        })
        .flat_map(|s| match s {
            Slot::Topic => vec!["topic", "skill", "service"],
            s => vec![s.placeholder()],
        })
        .collect();
    for (i, example) in tool.examples.iter().enumerate() {
        let ptr = format!("{base}/examples/{i}");
        let mut rest = example.as_str();
        let mut at = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let ph = &rest[open + 1..open + close];
            let offset = at + open + 1;
            if !PLACEHOLDERS.contains(&ph) {
                report.push(Diagnostic::error(
                    "E045",
                    doc.file(),
                    doc.at_offset(&ptr, offset),
                    format!(
                        "example {i} of tool \"{name}\" has an unknown placeholder {{{ph}}}{}; use one of {}",
                        did_you_mean(ph, PLACEHOLDERS.iter().copied()),
                        PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            } else if !takes.contains(&ph) && !takes.contains(&"text") {
                report.push(Diagnostic::error(
                    "E046",
                    doc.file(),
                    doc.at_offset(&ptr, offset),
                    format!(
                        "example {i} of tool \"{name}\" names a {{{ph}}}, but no argument of the tool takes one; add the argument (or a `slots:` entry) or drop the placeholder"
                    ),
                ));
            }
            at += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }
    for arg in tool.slots.keys() {
        if !props.iter().any(|p| p == arg) {
            report.push(Diagnostic::error(
                "E047",
                doc.file(),
                doc.key_at(&format!("{base}/slots/{}", escape(arg))),
                format!(
                    "slot \"{arg}\" of tool \"{name}\" is not one of its args{}; name a property of `args.properties` ({})",
                    did_you_mean(arg, props.iter().map(String::as_str)),
                    list(props)
                ),
            ));
        }
    }
}

/// A `store: builtin` tool is run by the builtin of its name, which must exist (E045).
fn check_builtin(report: &mut Report, doc: &Doc<ToolsFile>, base: &str, name: &str) {
    let names = Builtin::ALL.map(Builtin::name);
    report.push(Diagnostic::error(
        "E048",
        doc.file(),
        doc.key_at(base),
        format!(
            "tool \"{name}\" has `store: builtin`, but no builtin is named \"{name}\"{}; builtins are {} — name the tool after one, or give it another store",
            did_you_mean(name, names.iter().copied()),
            names.join(", ")
        ),
    ));
}

/// A pipeline tool names a graph (E014) whose state has a key for each of its args (E016).
fn check_pipeline(
    project: &Project,
    report: &mut Report,
    doc: &Doc<ToolsFile>,
    base: &str,
    name: &str,
    graph: &str,
    props: &[String],
) {
    let Some(g) = project.graphs.iter().find(|g| g.spec.name == graph) else {
        if !project.unloaded.has_graph(graph) {
            let names: Vec<&str> = project
                .graphs
                .iter()
                .map(|g| g.spec.name.as_str())
                .collect();
            report.push(Diagnostic::error(
                "E014",
                doc.file(),
                doc.at(&format!("{base}/graph")),
                format!(
                    "tool \"{name}\" runs unknown graph \"{graph}\"{}; name a graph defined under graphs/ (its `name:`)",
                    did_you_mean(graph, names.iter().copied())
                ),
            ));
        }
        return;
    };
    let keys: Vec<&str> = g
        .spec
        .state
        .keys()
        .map(String::as_str)
        .chain(super::BUILTIN_KEYS.iter().copied())
        .collect();
    for arg in props {
        if !keys.contains(&arg.as_str()) {
            report.push(Diagnostic::error(
                "E016",
                doc.file(),
                doc.key_at(&format!("{base}/args/properties/{}", escape(arg))),
                format!(
                    "arg \"{arg}\" of pipeline tool \"{name}\" is not a state key of graph \"{graph}\"{}; declare it under `state:` in {} or rename the arg",
                    did_you_mean(arg, keys.iter().copied()),
                    g.file()
                ),
            ));
        }
    }
}

/// The args schema is valid JSON Schema (E040) and describes an object.
fn check_args_schema(
    report: &mut Report,
    doc: &Doc<ToolsFile>,
    base: &str,
    name: &str,
    tool: &ToolSpec,
) {
    let at_args = format!("{base}/args");
    if let Err(e) = jsonschema::meta::validate(&tool.args) {
        let inner = e.instance_path().as_str().to_string();
        let pointer = format!("{at_args}{inner}");
        let message = match tool.args.pointer(&inner).and_then(Value::as_str) {
            Some(t) if inner.ends_with("/type") => format!(
                "args of tool \"{name}\" is not a valid JSON Schema: unknown type \"{t}\"{}; use one of: {}",
                did_you_mean(t, JSON_TYPES.iter().copied()),
                JSON_TYPES.join(", ")
            ),
            _ => format!(
                "args of tool \"{name}\" is not a valid JSON Schema: {e}; fix it so it describes the arguments object"
            ),
        };
        report.push(Diagnostic::error(
            "E040",
            doc.file(),
            doc.at(&pointer),
            message,
        ));
        return;
    }
    if let Err(e) = jsonschema::validator_for(&tool.args) {
        report.push(Diagnostic::error(
            "E040",
            doc.file(),
            doc.at(&at_args),
            format!("args of tool \"{name}\" is not a usable JSON Schema: {e}; fix it so it describes the arguments object"),
        ));
        return;
    }
    if tool.args.get("type").and_then(Value::as_str) != Some("object") {
        report.push(Diagnostic::error(
            "E040",
            doc.file(),
            doc.at(&at_args),
            format!("args of tool \"{name}\" must describe an object: add `type: object` and list the args under `properties`"),
        ));
    }
}

/// A query's `:name` parameters are args of the tool or derived from them (E044); Cypher
/// queries use `:Label` syntax of their own and are left alone.
fn check_query_params(
    report: &mut Report,
    doc: &Doc<ToolsFile>,
    base: &str,
    name: &str,
    query: &QuerySpec,
    props: &[String],
) {
    let queries: Vec<(String, &str)> = match query {
        QuerySpec::One(q) => vec![(format!("{base}/query"), q.as_str())],
        QuerySpec::PerBackend(m) => m
            .iter()
            .filter(|(backend, _)| backend.as_str() != "cypher")
            .map(|(b, q)| (format!("{base}/query/{}", escape(b)), q.as_str()))
            .collect(),
    };
    let derived = derived_params(props);
    for (ptr, q) in queries {
        for (offset, param) in query_params(q) {
            if !props.contains(&param) && !derived.contains(&param.as_str()) {
                let hint = did_you_mean(&param, props.iter().map(String::as_str));
                report.push(Diagnostic::error(
                    "E044",
                    doc.file(),
                    doc.at_offset(&ptr, offset),
                    format!("query parameter \":{param}\" of tool \"{name}\" is not one of its args{hint}; add it to `args.properties` or fix the name ({})", list(props)),
                ));
            }
        }
    }
}

/// Parameters the store derives from the args (engine/store/params.rs): `now`, `today` and
/// `until` always, `since` from a `days` or `weeks` arg, `older_than` from `min_age_days`,
/// the `period_*` bounds from a `period` arg or a `since`/`until` window.
fn derived_params(props: &[String]) -> Vec<&'static str> {
    let has = |a: &str| props.iter().any(|p| p == a);
    let mut out = vec!["now", "today", "until"];
    if has("days") || has("weeks") {
        out.push("since");
    }
    if has("min_age_days") {
        out.push("older_than");
    }
    if has("period") || has("since") {
        out.extend([
            "period_start",
            "period_end",
            "period_start_at",
            "period_end_at",
        ]);
    }
    out
}

/// The `:name` parameters of a query as the store reads them (engine/store/sql.rs skips
/// literals, comments and `::` casts), each with the byte offset of its first use.
pub fn query_params(q: &str) -> Vec<(usize, String)> {
    let names = crate::store::sql::positional(q, crate::store::sql::Style::Question).names;
    names
        .into_iter()
        .map(|name| {
            let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
            let marker = format!(":{name}");
            let offset = q
                .match_indices(&marker)
                .find(|(i, _)| !q[i + marker.len()..].starts_with(ident))
                .map_or(0, |(i, _)| i + 1);
            (offset, name)
        })
        .collect()
}

/// Names under `properties` of an args schema.
pub fn arg_names(args: &Value) -> Vec<String> {
    args.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `args: a, b` for a message, or that there are none.
pub fn list(names: &[String]) -> String {
    if names.is_empty() {
        "it declares none".into()
    } else {
        format!("args: {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::query_params;

    #[test]
    fn parameters_with_the_offset_of_their_first_use() {
        let q = "SELECT a::int FROM t WHERE x = ':no' AND y = :team_id AND z = :team -- :gone\n AND w = :team";
        let found = query_params(q);
        let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["team_id", "team"]);
        for (offset, name) in &found {
            assert_eq!(&q[offset - 1..offset + name.len()], format!(":{name}"));
        }
        assert_eq!(found[1].0, q.find(":team ").unwrap() + 1);
    }
}
