//! Checks of test cases (`tests:` blocks and files under graphs/tests/): the graphs,
//! routes, tools, tool arguments and events they name exist, their regexes compile,
//! and case names are unique per file (they name the recordings).

use std::collections::{BTreeSet, HashSet};

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use crate::config::Project;
use crate::config::case_spec::CallSpec;
use crate::config::cases::{Case, cases};
use crate::config::spans::escape;
use crate::config::spec::NodeKind;
use crate::core::EVENT_NAMES;

pub fn check_tests(project: &Project, report: &mut Report) {
    let mut out = Findings::default();
    let all = cases(project, report);
    let tools: Vec<&str> = project.tools().map(|t| t.name).collect();
    let graphs: Vec<&str> = project
        .graphs
        .iter()
        .map(|g| g.spec.name.as_str())
        .collect();

    let mut names: HashSet<(&str, &str)> = HashSet::new();
    for case in &all {
        if !names.insert((case.file(), case.spec.name.as_str())) {
            out.push(Diagnostic::error(
                "E075",
                case.file(),
                case.at("/name"),
                format!(
                    "duplicate test case name \"{}\" in this file; names identify cases and their recordings, so give each its own",
                    case.spec.name
                ),
            ));
        }

        let graph_ok = graphs.contains(&case.graph.as_str());
        if !graph_ok && !project.unloaded.has_graph(&case.graph) {
            let pos = if case.spec.graph.is_some() {
                case.at("/graph")
            } else if let Some((pos, _)) = case.source.spans().scalar("/graph") {
                pos
            } else {
                case.pos()
            };
            out.push(Diagnostic::error(
                "E070",
                case.file(),
                pos,
                format!(
                    "test case \"{}\" runs unknown graph \"{}\"{}; name a graph defined under graphs/",
                    case.spec.name,
                    case.graph,
                    did_you_mean(&case.graph, graphs.iter().copied())
                ),
            ));
        }
        if graph_ok && let Some(route) = &case.spec.expect.route {
            let routes = routes_from(project, &case.graph);
            if !routes.contains(route.as_str()) {
                let known: Vec<&str> = routes.iter().copied().collect();
                let fix = if known.is_empty() {
                    format!("graph \"{}\" has no router; remove `route`", case.graph)
                } else {
                    format!("routes it can take: {}", known.join(", "))
                };
                out.push(Diagnostic::error(
                    "E071",
                    case.file(),
                    case.at("/expect/route"),
                    format!(
                        "unknown route \"{route}\" in test case \"{}\"{}; {fix}",
                        case.spec.name,
                        did_you_mean(route, known.iter().copied())
                    ),
                ));
            }
        }
        check_tools(project, case, &tools, &mut out);
        check_expect(case, &mut out);
    }
    out.into(report);
}

fn check_tools(project: &Project, case: &Case, tools: &[&str], out: &mut Findings) {
    let mut named: Vec<(String, &str, bool)> = Vec::new();
    if let Some(canned) = &case.spec.tools {
        for name in canned.keys() {
            named.push((format!("/tools/{}", escape(name)), name, true));
        }
    }
    for (i, call) in case.spec.expect.tools_called.iter().enumerate() {
        let p = match call {
            CallSpec::Name(_) => format!("/expect/tools_called/{i}"),
            CallSpec::Call { .. } => format!("/expect/tools_called/{i}/tool"),
        };
        named.push((p, call.tool(), false));
    }
    for (i, t) in case.spec.expect.tools_not_called.iter().enumerate() {
        named.push((format!("/expect/tools_not_called/{i}"), t, false));
    }
    for (ptr, name, is_key) in named {
        if tools.contains(&name) || project.unloaded.has_tool(name) {
            continue;
        }
        let full = format!("{}{ptr}", case.pointer);
        let pos = if is_key {
            case.source.spans().key(&full)
        } else {
            case.source.spans().value(&full)
        };
        out.push(Diagnostic::error(
            "E072",
            case.file(),
            pos,
            format!(
                "unknown tool \"{name}\" in test case \"{}\"{}; name a tool declared in tools.yaml",
                case.spec.name,
                did_you_mean(name, tools.iter().copied())
            ),
        ));
    }
    // Expected args must be arguments the tool takes.
    for (i, call) in case.spec.expect.tools_called.iter().enumerate() {
        let (Some(args), Some(spec)) = (call.args(), project.tool(call.tool()).map(|t| t.spec))
        else {
            continue;
        };
        let Some(props) = spec.args.get("properties").and_then(|p| p.as_object()) else {
            continue;
        };
        for arg in args.keys() {
            if props.contains_key(arg) {
                continue;
            }
            let known: Vec<&str> = props.keys().map(String::as_str).collect();
            let takes = if known.is_empty() {
                "it takes no arguments".to_string()
            } else {
                format!("its arguments: {}", known.join(", "))
            };
            out.push(Diagnostic::error(
                "E076",
                case.file(),
                case.source.spans().key(&format!(
                    "{}/expect/tools_called/{i}/args/{}",
                    case.pointer,
                    escape(arg)
                )),
                format!(
                    "tool \"{}\" has no argument \"{arg}\"{}; {takes}",
                    call.tool(),
                    did_you_mean(arg, known.iter().copied())
                ),
            ));
        }
    }
}

fn check_expect(case: &Case, out: &mut Findings) {
    for (i, name) in case.spec.expect.events.iter().enumerate() {
        if !EVENT_NAMES.contains(&name.as_str()) {
            out.push(Diagnostic::error(
                "E073",
                case.file(),
                case.at(&format!("/expect/events/{i}")),
                format!(
                    "unknown event \"{name}\"{}; events: {}",
                    did_you_mean(name, EVENT_NAMES.iter().copied()),
                    EVENT_NAMES.join(", ")
                ),
            ));
        }
    }
    if let Some(pattern) = &case.spec.expect.answer_matches
        && let Err(e) = regex_syntax::Parser::new().parse(pattern)
    {
        out.push(Diagnostic::error(
            "E074",
            case.file(),
            case.at("/expect/answer_matches"),
            format!(
                "answer_matches of test case \"{}\" is not a valid regex: {}",
                case.spec.name,
                one_line(&e.to_string())
            ),
        ));
    }
}

/// regex errors span several lines; a diagnostic is one.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Route names of every router `graph` can reach (through subgraph and map nodes).
fn routes_from<'a>(project: &'a Project, graph: &str) -> BTreeSet<&'a str> {
    let mut routes = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut todo = vec![graph.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(doc) = project.graphs.iter().find(|g| g.spec.name == name) else {
            continue;
        };
        for node in doc.spec.nodes.values() {
            match &node.kind {
                NodeKind::Router { routes: r, .. } => routes.extend(r.keys().map(String::as_str)),
                NodeKind::Subgraph { graph, .. } => todo.push(graph.clone()),
                NodeKind::Map { graph: Some(g), .. } => todo.push(g.clone()),
                _ => {}
            }
        }
    }
    routes
}

/// Findings of this check, each reported once (a file-level `graph:` concerns every case).
#[derive(Default)]
struct Findings {
    seen: HashSet<(String, usize, usize, String)>,
    list: Vec<Diagnostic>,
}

impl Findings {
    fn push(&mut self, d: Diagnostic) {
        if self
            .seen
            .insert((d.file.clone(), d.line, d.col, d.message.clone()))
        {
            self.list.push(d);
        }
    }
    fn into(self, report: &mut Report) {
        for d in self.list {
            report.push(d);
        }
    }
}
