//! Checks of templates and prompts: syntax, and variables that nothing provides.

use super::BUILTIN_KEYS;
use super::diagnostic::{Diagnostic, Report, did_you_mean};
use crate::config::Project;
use crate::config::spans::{Pos, escape};
use crate::config::spec::NodeKind;

/// Functions minijinja provides everywhere.
const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "none",
    "true",
    "false",
];

/// Variables available to an agent's answer template beside state.
pub const ANSWER_VARS: &[&str] = &["results", "result", "tool", "args"];
/// Variables available to a router prompt beside state.
pub const ROUTER_VARS: &[&str] = &["routes"];
/// Variables available to a tool's preview template.
pub const PREVIEW_VARS: &[&str] = &["result", "args"];

pub fn check_templates(project: &Project, report: &mut Report) {
    if let Some(doc) = &project.tools {
        for (name, tool) in &doc.spec.tools {
            if let Some(p) = &tool.preview {
                check_one(
                    report,
                    doc.file(),
                    doc.at(&format!("/tools/{name}/preview")),
                    p,
                    PREVIEW_VARS,
                    &format!("preview of tool \"{name}\""),
                );
            }
        }
    }
    for doc in &project.graphs {
        let g = &doc.spec;
        let state: Vec<&str> = g
            .state
            .keys()
            .map(String::as_str)
            .chain(BUILTIN_KEYS.iter().copied())
            .collect();
        let with = |extra: &[&'static str]| -> Vec<&str> {
            state.iter().copied().chain(extra.iter().copied()).collect()
        };
        for (name, node) in &g.nodes {
            let p = format!("/nodes/{}", escape(name));
            let file = doc.file();
            let prompt = |report: &mut Report, field: &str, prompt: &str, vars: &[&str]| {
                if let Some(src) = project.prompts.get(prompt) {
                    let what = format!("prompt \"{prompt}\" (used by node \"{name}\")");
                    check_in_file(
                        report,
                        &src.path,
                        &src.text,
                        vars,
                        &what,
                        (file, doc.at(&format!("{p}/{field}"))),
                    );
                }
            };
            match &node.kind {
                NodeKind::Agent {
                    prompt: pr, answer, ..
                } => {
                    let vars = with(ANSWER_VARS);
                    prompt(report, "prompt", pr, &vars);
                    check_one(
                        report,
                        file,
                        doc.at(&format!("{p}/answer")),
                        answer,
                        &vars,
                        &format!("answer of node \"{name}\""),
                    );
                }
                NodeKind::Llm { prompt: pr, .. } => prompt(report, "prompt", pr, &state),
                NodeKind::Router {
                    prompt: Some(pr), ..
                } => prompt(report, "prompt", pr, &with(ROUTER_VARS)),
                NodeKind::Tool { args, .. } | NodeKind::Subgraph { inputs: args, .. } => {
                    let field = if matches!(node.kind, NodeKind::Tool { .. }) {
                        "args"
                    } else {
                        "inputs"
                    };
                    for (k, t) in args {
                        check_one(
                            report,
                            file,
                            doc.at(&format!("{p}/{field}/{}", escape(k))),
                            t,
                            &state,
                            &format!("{field}.{k} of node \"{name}\""),
                        );
                    }
                }
                NodeKind::Map {
                    over, item, args, ..
                } => {
                    check_expr(
                        report,
                        file,
                        doc.at(&format!("{p}/over")),
                        over,
                        &state,
                        &format!("`over` of node \"{name}\""),
                    );
                    let mut vars = state.clone();
                    vars.push(item);
                    for (k, t) in args {
                        check_one(
                            report,
                            file,
                            doc.at(&format!("{p}/args/{}", escape(k))),
                            t,
                            &vars,
                            &format!("args.{k} of node \"{name}\""),
                        );
                    }
                }
                NodeKind::Template { template } => {
                    check_one(
                        report,
                        file,
                        doc.at(&format!("{p}/template")),
                        template,
                        &state,
                        &format!("template of node \"{name}\""),
                    );
                }
                NodeKind::Classify { .. } | NodeKind::Router { .. } => {}
            }
        }
    }
}

/// An inline template: syntax (E031) and unknown variables (E032), reported at the field.
fn check_one(report: &mut Report, file: &str, at: Pos, text: &str, vars: &[&str], what: &str) {
    let env = crate::compile::templates_env();
    match env.template_from_str(text) {
        Err(e) => {
            let pos = Pos {
                line: at.line + e.line().unwrap_or(1).saturating_sub(1),
                col: at.col,
            };
            report.push(Diagnostic::error(
                "E031",
                file,
                pos,
                format!(
                    "template syntax error in {what}: {}; fix the template",
                    e.detail().unwrap_or("syntax error")
                ),
            ));
        }
        Ok(t) => unknown_vars(report, file, at, t.undeclared_variables(false), vars, what),
    }
}

/// A prompt file: syntax errors point into the prompt; unknown variables too, and name the user.
fn check_in_file(
    report: &mut Report,
    path: &str,
    text: &str,
    vars: &[&str],
    what: &str,
    _user: (&str, Pos),
) {
    let env = crate::compile::templates_env();
    match env.template_from_str(text) {
        Err(e) => report.push(Diagnostic::error(
            "E031",
            path,
            Pos {
                line: e.line().unwrap_or(1),
                col: 1,
            },
            format!(
                "template syntax error in {what}: {}; fix the template",
                e.detail().unwrap_or("syntax error")
            ),
        )),
        Ok(t) => {
            for var in sorted(t.undeclared_variables(false)) {
                if !vars.contains(&var.as_str()) && !GLOBALS.contains(&var.as_str()) {
                    let line = text
                        .lines()
                        .position(|l| l.contains(var.as_str()))
                        .map(|i| i + 1)
                        .unwrap_or(1);
                    let col = text
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.find(var.as_str()))
                        .map(|c| c + 1)
                        .unwrap_or(1);
                    let hint = did_you_mean(&var, vars.iter().copied());
                    report.push(Diagnostic::error("E032", path, Pos { line, col }, format!("{what} uses variable \"{var}\" that no state key, input or node output provides{hint}; declare it under `state:` or fix the name")));
                }
            }
        }
    }
}

fn check_expr(report: &mut Report, file: &str, at: Pos, expr: &str, vars: &[&str], what: &str) {
    let env = crate::compile::templates_env();
    match env.compile_expression(expr) {
        Err(e) => report.push(Diagnostic::error(
            "E030",
            file,
            at,
            format!(
                "{what} `{expr}` does not parse: {}",
                e.detail().unwrap_or("syntax error")
            ),
        )),
        Ok(x) => unknown_vars(report, file, at, x.undeclared_variables(false), vars, what),
    }
}

fn unknown_vars(
    report: &mut Report,
    file: &str,
    at: Pos,
    found: std::collections::HashSet<String>,
    vars: &[&str],
    what: &str,
) {
    for var in sorted(found) {
        if !vars.contains(&var.as_str()) && !GLOBALS.contains(&var.as_str()) {
            let hint = did_you_mean(&var, vars.iter().copied());
            report.push(Diagnostic::error("E032", file, at, format!("{what} uses variable \"{var}\" that no state key, input or node output provides{hint}; declare it under `state:` or fix the name")));
        }
    }
}

fn sorted(set: std::collections::HashSet<String>) -> Vec<String> {
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort();
    v
}
