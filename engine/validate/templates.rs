//! Templates and expressions: syntax (E030, E031) and variables that nothing provides (E032).
//!
//! What each template sees mirrors the executor (engine/run/exec.rs):
//! - prompts of `agent` and `llm` nodes, `template` nodes, tool-node `args`, subgraph
//!   `inputs`, a map's `over` and edge conditions (`when`): the graph's state keys;
//! - a router's prompt: state plus `routes`;
//! - an agent's answer (its `answer`, the `answer:` prompts of its tools, or the default
//!   answer prompt): state plus `results`, `result`, `tool`, `args`;
//! - a map's `args`: state plus the item (named by `as`, default `item`);
//! - a tool's `preview`: `result` and `args` only.

use std::collections::HashSet;

use super::BUILTIN_KEYS;
use super::diagnostic::{Diagnostic, Report, did_you_mean};
use super::graphs::node_ptr;
use crate::config::locate::pos_of_offset;
use crate::config::spans::{Pos, escape};
use crate::config::spec::{DEFAULT_ANSWER, EdgeSpec, GraphSpec, NodeKind};
use crate::config::{Doc, Project};

/// Names minijinja provides everywhere.
const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "none",
    "true",
    "false",
    "caller",
    "varargs",
    "kwargs",
];

/// Variables an agent's answer template sees beside state.
pub const ANSWER_VARS: &[&str] = &["results", "result", "tool", "args", "about"];
/// Variables a router prompt sees beside state.
pub const ROUTER_VARS: &[&str] = &["routes"];
/// Variables a tool's preview template sees (and nothing else).
pub const PREVIEW_VARS: &[&str] = &["result", "args"];

const FIX_STATE: &str = "declare it under `state:` or fix the name";

pub fn check_templates(project: &Project, report: &mut Report) {
    // Every prompt file parses, whether or not a node names it (answers include them).
    for src in project.prompts.values() {
        if let Err(e) = crate::core::templates_env().template_from_str(&src.text) {
            let pos = pos_of_offset(&src.text, error_offset(&src.text, &e));
            report.push(syntax_error(
                "E031",
                &src.path,
                pos,
                &format!("prompt {}", src.path),
                &e,
            ));
        }
    }
    for t in project.tools() {
        if let Some(p) = &t.spec.preview {
            let ctx = Ctx {
                vars: PREVIEW_VARS.to_vec(),
                fix: "a preview sees only `result` and `args`",
            };
            inline(
                report,
                t.doc,
                &t.ptr("/preview"),
                p,
                &ctx,
                &format!("preview of tool \"{}\"", t.name),
                false,
            );
        }
        for (m, spec) in &t.spec.measures {
            let ctx = Ctx {
                vars: vec!["result", "args", "row"],
                fix: "a measure sees `result`, `args` and, with `rows`, each `row`",
            };
            let esc = crate::config::spans::escape(m);
            let parts = [
                ("value", Some(&spec.value)),
                ("rows", spec.rows.as_ref()),
                ("label", spec.label.as_ref()),
            ];
            for (part, text) in parts {
                if let Some(text) = text {
                    inline(
                        report,
                        t.doc,
                        &t.ptr(&format!("/measures/{esc}/{part}")),
                        text,
                        &ctx,
                        &format!("measure \"{m}\" ({part}) of tool \"{}\"", t.name),
                        true,
                    );
                }
            }
        }
    }
    for doc in &project.graphs {
        check_graph(project, doc, report);
    }
}

/// The variables a template may use, and how to fix one it may not.
struct Ctx<'a> {
    vars: Vec<&'a str>,
    fix: &'a str,
}

fn check_graph(project: &Project, doc: &Doc<GraphSpec>, report: &mut Report) {
    let g = &doc.spec;
    let state: Vec<&str> = g
        .state
        .keys()
        .map(String::as_str)
        .chain(BUILTIN_KEYS.iter().copied())
        .collect();
    let with = |extra: &[&'static str]| Ctx {
        vars: state.iter().copied().chain(extra.iter().copied()).collect(),
        fix: FIX_STATE,
    };
    let plain = with(&[]);
    for (name, node) in &g.nodes {
        let p = node_ptr(name);
        let field = |f: &str| format!("{p}/{f}");
        let prompt = |report: &mut Report, prompt: &str, ctx: &Ctx| {
            if let Some(src) = project.prompts.get(prompt)
                && let Ok(t) = crate::core::templates_env().template_from_str(&src.text)
            {
                let what = format!(
                    "prompt \"{prompt}\" (used by node \"{name}\" in {})",
                    doc.file()
                );
                for var in unknown(t.undeclared_variables(false), ctx) {
                    let pos = pos_of_offset(&src.text, var_offset(&src.text, &var, false));
                    report.push(unknown_var(&src.path, pos, &what, &var, ctx));
                }
            }
        };
        match &node.kind {
            NodeKind::Agent {
                prompt: pr,
                tools,
                answer,
                ..
            } => {
                prompt(report, pr, &plain);
                let answers = with(ANSWER_VARS);
                match answer {
                    Some(answer) => inline(
                        report,
                        doc,
                        &field("answer"),
                        answer,
                        &answers,
                        &format!("answer of node \"{name}\""),
                        false,
                    ),
                    None => prompt(report, DEFAULT_ANSWER, &answers),
                }
                for t in tools.iter().filter_map(|t| project.tool(t)) {
                    if let Some(a) = &t.spec.answer {
                        prompt(report, a, &answers);
                    }
                }
            }
            NodeKind::Llm { prompt: pr, .. } => prompt(report, pr, &plain),
            NodeKind::Router {
                prompt: Some(pr), ..
            } => prompt(report, pr, &with(ROUTER_VARS)),
            NodeKind::Tool { args, .. } => {
                for (k, t) in args {
                    inline(
                        report,
                        doc,
                        &field(&format!("args/{}", escape(k))),
                        t,
                        &plain,
                        &format!("args.{k} of node \"{name}\""),
                        false,
                    );
                }
            }
            NodeKind::Subgraph { inputs, .. } => {
                for (k, t) in inputs {
                    inline(
                        report,
                        doc,
                        &field(&format!("inputs/{}", escape(k))),
                        t,
                        &plain,
                        &format!("inputs.{k} of node \"{name}\""),
                        false,
                    );
                }
            }
            NodeKind::Map {
                over, item, args, ..
            } => {
                inline(
                    report,
                    doc,
                    &field("over"),
                    over,
                    &plain,
                    &format!("`over` of node \"{name}\""),
                    true,
                );
                let ctx = Ctx {
                    vars: plain.vars.iter().copied().chain([item.as_str()]).collect(),
                    fix: FIX_STATE,
                };
                for (k, t) in args {
                    inline(
                        report,
                        doc,
                        &field(&format!("args/{}", escape(k))),
                        t,
                        &ctx,
                        &format!("args.{k} of node \"{name}\""),
                        false,
                    );
                }
            }
            NodeKind::Template { template } => {
                inline(
                    report,
                    doc,
                    &field("template"),
                    template,
                    &plain,
                    &format!("template of node \"{name}\""),
                    false,
                );
            }
            NodeKind::Classify { .. } | NodeKind::Router { .. } => {}
        }
    }
    for (i, e) in g.edges.iter().enumerate() {
        if let EdgeSpec::Edge {
            from,
            to,
            when: Some(cond),
        } = e
        {
            let what = format!("condition of edge {from} -> {to}");
            inline(
                report,
                doc,
                &format!("/edges/{i}/when"),
                cond,
                &plain,
                &what,
                true,
            );
        }
    }
}

/// A template (or, with `expr`, an expression) written in a YAML value.
fn inline<T>(
    report: &mut Report,
    doc: &Doc<T>,
    ptr: &str,
    text: &str,
    ctx: &Ctx,
    what: &str,
    expr: bool,
) {
    let env = crate::core::templates_env();
    let vars = if expr {
        env.compile_expression(text)
            .map(|x| x.undeclared_variables(false))
    } else {
        env.template_from_str(text)
            .map(|t| t.undeclared_variables(false))
    };
    match vars {
        Err(e) => {
            let pos = doc.at_offset(ptr, error_offset(text, &e));
            let code = if expr { "E030" } else { "E031" };
            report.push(syntax_error(code, doc.file(), pos, what, &e));
        }
        Ok(found) => {
            for var in unknown(found, ctx) {
                let pos = doc.at_offset(ptr, var_offset(text, &var, expr));
                report.push(unknown_var(doc.file(), pos, what, &var, ctx));
            }
        }
    }
}

fn syntax_error(
    code: &'static str,
    file: &str,
    pos: Pos,
    what: &str,
    e: &minijinja::Error,
) -> Diagnostic {
    let detail = e.detail().unwrap_or("syntax error");
    let fix = if code == "E030" {
        "write a minijinja expression over state, e.g. `route == \"people\"`"
    } else {
        "fix the {{ … }} or {% … %} tag here"
    };
    Diagnostic::error(
        code,
        file,
        pos,
        format!("{what} does not parse: {detail}; {fix}"),
    )
}

fn unknown_var(file: &str, pos: Pos, what: &str, var: &str, ctx: &Ctx) -> Diagnostic {
    let hint = did_you_mean(var, ctx.vars.iter().copied());
    Diagnostic::error(
        "E032",
        file,
        pos,
        format!(
            "{what} uses \"{var}\", which no state key, input or node output provides{hint}; {}",
            ctx.fix
        ),
    )
}

/// Variables in `found` the context does not provide, sorted.
fn unknown(found: HashSet<String>, ctx: &Ctx) -> Vec<String> {
    let mut v: Vec<String> = found
        .into_iter()
        .filter(|var| !ctx.vars.contains(&var.as_str()) && !GLOBALS.contains(&var.as_str()))
        .collect();
    v.sort();
    v
}

/// Byte offset of a template error: its span, else the start of its line.
fn error_offset(text: &str, e: &minijinja::Error) -> usize {
    if let Some(r) = e.range() {
        return r.start.min(text.len());
    }
    let line = e.line().unwrap_or(1);
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// Byte offset of the first use of variable `var` in template code (inside `{{ }}` and
/// `{% %}`, or anywhere with `expr`), skipping string literals and attribute names.
pub fn var_offset(text: &str, var: &str, expr: bool) -> usize {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut code = expr;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if !code {
            if rest.starts_with("{{") || rest.starts_with("{%") {
                code = true;
                i += 2;
            } else if rest.starts_with("{#") {
                i += rest.find("#}").map_or(rest.len(), |e| e + 2);
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if !expr && (rest.starts_with("}}") || rest.starts_with("%}")) {
            code = false;
            i += 2;
        } else if c == b'\'' || c == b'"' {
            quote = Some(c);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let after_dot = text[..start].trim_end().ends_with('.');
            if &text[start..i] == var && !after_dot {
                return start;
            }
        } else {
            i += 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::var_offset;

    #[test]
    fn finds_the_variable_not_its_namesakes() {
        let t = "{# answr #}answr {{ x.answr ~ 'answr' }} {{ answr }}";
        assert_eq!(var_offset(t, "answr", false), t.rfind("answr").unwrap());
        let e = "route == 'route' or rout";
        assert_eq!(var_offset(e, "rout", true), e.len() - 4);
    }
}
