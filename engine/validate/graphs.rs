//! Checks of graph files: names, references, edges, reachability, subgraph cycles.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::DiGraph;
use petgraph::visit::{Bfs, Reversed};

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use super::{BUILTIN_KEYS, TIERS};
use crate::config::spans::escape;
use crate::config::spec::{END, GraphSpec, NodeKind};
use crate::config::{Doc, Project};

fn node_ptr(node: &str) -> String {
    format!("/nodes/{}", escape(node))
}

/// Graph names are unique across files.
pub fn check_names(project: &Project, report: &mut Report) {
    let mut first: HashMap<&str, &Doc<GraphSpec>> = HashMap::new();
    for doc in &project.graphs {
        let name = doc.spec.name.as_str();
        if let Some(prev) = first.get(name) {
            report.push(Diagnostic::error(
                "E010",
                doc.file(),
                doc.at("/name"),
                format!("duplicate graph name \"{name}\", already defined in {}; give each graph its own name", prev.file()),
            ));
        } else {
            first.insert(name, doc);
        }
        if doc.spec.nodes.contains_key(END) {
            report.push(Diagnostic::error(
                "E010",
                doc.file(),
                doc.key_at(&node_ptr(END)),
                "\"END\" is reserved for the end of the graph; rename this node",
            ));
        }
    }
}

/// Tools, prompts, graphs, tiers and state keys that nodes name exist.
pub fn check_references(project: &Project, report: &mut Report) {
    let tools: Vec<&str> = project
        .tools
        .iter()
        .flat_map(|t| t.spec.tools.keys().map(String::as_str))
        .collect();
    let prompts: Vec<&str> = project.prompts.keys().map(String::as_str).collect();
    let graphs: Vec<&str> = project
        .graphs
        .iter()
        .map(|g| g.spec.name.as_str())
        .collect();
    for doc in &project.graphs {
        let g = &doc.spec;
        let file = doc.file();
        let unknown = |report: &mut Report,
                       code,
                       ptr: String,
                       what: &str,
                       name: &str,
                       known: &[&str],
                       fix: &str| {
            let hint = did_you_mean(name, known.iter().copied());
            report.push(Diagnostic::error(
                code,
                file,
                doc.at(&ptr),
                format!("unknown {what} \"{name}\"{hint}; {fix}"),
            ));
        };
        let keys: Vec<&str> = g
            .state
            .keys()
            .map(String::as_str)
            .chain(BUILTIN_KEYS.iter().copied())
            .collect();
        for (name, node) in &g.nodes {
            let p = node_ptr(name);
            if let Some(out) = &node.output
                && !keys.contains(&out.as_str())
            {
                unknown(
                    report,
                    "E016",
                    format!("{p}/output"),
                    "state key",
                    out,
                    &keys,
                    "declare it under `state:` or write to a declared key",
                );
            }
            let tier = |report: &mut Report, ptr: String, t: &str| {
                if !TIERS.contains(&t) {
                    unknown(
                        report,
                        "E015",
                        ptr,
                        "model tier",
                        t,
                        TIERS,
                        "use one of primary, code, fast, analytics",
                    );
                }
            };
            let prompt = |report: &mut Report, ptr: String, pr: &str| {
                if !prompts.contains(&pr) {
                    unknown(
                        report,
                        "E013",
                        ptr,
                        "prompt",
                        pr,
                        &prompts,
                        "add prompts/<name>.j2 or fix the name",
                    );
                }
            };
            match &node.kind {
                NodeKind::Classify { rules, default } => {
                    for (i, r) in rules.iter().enumerate() {
                        tier(report, format!("{p}/rules/{i}/tier"), &r.class.tier);
                        if let Err(e) = regex::Regex::new(&r.pattern) {
                            report.push(Diagnostic::error(
                                "E041",
                                file,
                                doc.at(&format!("{p}/rules/{i}/pattern")),
                                format!(
                                    "rule {i} of \"{name}\" is not a valid regex: {}",
                                    super::tools::one_line(&e.to_string())
                                ),
                            ));
                        }
                    }
                    tier(report, format!("{p}/default/tier"), &default.tier);
                }
                NodeKind::Router {
                    routes,
                    default,
                    prompt: pr,
                    tier: t,
                } => {
                    if !routes.contains_key(default) {
                        let names: Vec<&str> = routes.keys().map(String::as_str).collect();
                        unknown(
                            report,
                            "E011",
                            format!("{p}/default"),
                            "route",
                            default,
                            &names,
                            "name one of the routes",
                        );
                    }
                    for (rname, r) in routes {
                        for (i, intent) in r.intents.iter().enumerate() {
                            if let Err(e) = regex::Regex::new(intent) {
                                report.push(Diagnostic::error(
                                    "E041",
                                    file,
                                    doc.at(&format!("{p}/routes/{}/intents/{i}", escape(rname))),
                                    format!(
                                        "intent {i} of route \"{rname}\" is not a valid regex: {}",
                                        super::tools::one_line(&e.to_string())
                                    ),
                                ));
                            }
                        }
                    }
                    if let Some(pr) = pr {
                        prompt(report, format!("{p}/prompt"), pr);
                    }
                    if let Some(t) = t {
                        tier(report, format!("{p}/tier"), t);
                    }
                }
                NodeKind::Agent {
                    prompt: pr,
                    tools: ts,
                    tier: t,
                    ..
                } => {
                    prompt(report, format!("{p}/prompt"), pr);
                    for (i, tool) in ts.iter().enumerate() {
                        if !tools.contains(&tool.as_str()) {
                            unknown(
                                report,
                                "E012",
                                format!("{p}/tools/{i}"),
                                "tool",
                                tool,
                                &tools,
                                "declare it in tools.yaml or fix the name",
                            );
                        }
                    }
                    if let Some(t) = t {
                        tier(report, format!("{p}/tier"), t);
                    }
                }
                NodeKind::Llm {
                    prompt: pr,
                    tier: t,
                    ..
                } => {
                    prompt(report, format!("{p}/prompt"), pr);
                    if let Some(t) = t {
                        tier(report, format!("{p}/tier"), t);
                    }
                }
                NodeKind::Tool { tool, .. } => {
                    if !tools.contains(&tool.as_str()) {
                        unknown(
                            report,
                            "E012",
                            format!("{p}/tool"),
                            "tool",
                            tool,
                            &tools,
                            "declare it in tools.yaml or fix the name",
                        );
                    }
                }
                NodeKind::Subgraph { graph, .. } => {
                    if !graphs.contains(&graph.as_str()) {
                        unknown(
                            report,
                            "E014",
                            format!("{p}/graph"),
                            "graph",
                            graph,
                            &graphs,
                            "name a graph defined under graphs/",
                        );
                    }
                }
                NodeKind::Map { graph, tool, .. } => match (graph, tool) {
                    (Some(gr), None) if !graphs.contains(&gr.as_str()) => unknown(
                        report,
                        "E014",
                        format!("{p}/graph"),
                        "graph",
                        gr,
                        &graphs,
                        "name a graph defined under graphs/",
                    ),
                    (None, Some(t)) if !tools.contains(&t.as_str()) => unknown(
                        report,
                        "E012",
                        format!("{p}/tool"),
                        "tool",
                        t,
                        &tools,
                        "declare it in tools.yaml or fix the name",
                    ),
                    (Some(_), Some(_)) | (None, None) => report.push(Diagnostic::error(
                        "E005",
                        file,
                        doc.at(&p),
                        format!("map node \"{name}\" needs exactly one of `graph` or `tool`"),
                    )),
                    _ => {}
                },
                NodeKind::Template { .. } => {}
            }
        }
    }
}

/// Edges name existing nodes; `start` exists; every node but END has a way out.
pub fn check_edges(project: &Project, report: &mut Report) {
    for doc in &project.graphs {
        let g = &doc.spec;
        let names: Vec<&str> = g.nodes.keys().map(String::as_str).collect();
        if !g.nodes.contains_key(&g.start) {
            let hint = did_you_mean(&g.start, names.iter().copied());
            report.push(Diagnostic::error(
                "E011",
                doc.file(),
                doc.at("/start"),
                format!(
                    "start node \"{}\" is not defined{hint}; name one of the nodes",
                    g.start
                ),
            ));
        }
        let mut outgoing: BTreeSet<&str> = BTreeSet::new();
        for e in g.flat_edges() {
            for (end, name) in [("from", &e.from), ("to", &e.to)] {
                let ok = g.nodes.contains_key(name) || (end == "to" && name == END);
                if !ok {
                    let hint = did_you_mean(name, names.iter().copied().chain([END]));
                    let what = if end == "from" {
                        "edge from"
                    } else {
                        "edge to"
                    };
                    let ptr = if e.pointer.starts_with("/edges")
                        && doc.value.pointer(&format!("{}/{end}", e.pointer)).is_some()
                    {
                        format!("{}/{end}", e.pointer)
                    } else {
                        e.pointer.clone()
                    };
                    report.push(Diagnostic::error(
                        "E011",
                        doc.file(),
                        doc.at(&ptr),
                        format!(
                            "{what} unknown node \"{name}\"{hint}; define the node or fix the name"
                        ),
                    ));
                }
            }
            if let Some(cond) = &e.when
                && let Err(err) = crate::compile::templates_env().compile_expression(cond)
            {
                report.push(Diagnostic::error("E030", doc.file(), doc.at(&format!("{}/when", e.pointer)), format!("condition `{cond}` does not parse: {}; write a minijinja expression such as `route == \"x\"`", err.detail().unwrap_or("syntax error"))));
            }
            outgoing.insert(
                g.nodes
                    .get_key_value(&e.from)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or(""),
            );
        }
        for name in g.nodes.keys() {
            if !outgoing.contains(name.as_str()) {
                report.push(Diagnostic::error("E021", doc.file(), doc.key_at(&node_ptr(name)), format!("node \"{name}\" has no outgoing edge, so the run can never end; add `{name} -> END` or an edge to another node")));
            }
        }
    }
}

/// Every node is reachable from start, and END is reachable from every node.
pub fn check_reachability(project: &Project, report: &mut Report) {
    for doc in &project.graphs {
        let g = &doc.spec;
        if !g.nodes.contains_key(&g.start) {
            continue;
        }
        let mut pg: DiGraph<&str, ()> = DiGraph::new();
        let mut idx = BTreeMap::new();
        for name in g.nodes.keys().map(String::as_str).chain([END]) {
            idx.insert(name, pg.add_node(name));
        }
        for e in g.flat_edges() {
            if let (Some(a), Some(b)) = (idx.get(e.from.as_str()), idx.get(e.to.as_str())) {
                pg.add_edge(*a, *b, ());
            }
        }
        let mut reach = BTreeSet::new();
        let mut bfs = Bfs::new(&pg, idx[g.start.as_str()]);
        while let Some(n) = bfs.next(&pg) {
            reach.insert(pg[n]);
        }
        let mut to_end = BTreeSet::new();
        let rev = Reversed(&pg);
        let mut bfs = Bfs::new(rev, idx[END]);
        while let Some(n) = bfs.next(rev) {
            to_end.insert(pg[n]);
        }
        for name in g.nodes.keys() {
            if !reach.contains(name.as_str()) {
                report.push(Diagnostic::warning("W020", doc.file(), doc.key_at(&node_ptr(name)), format!("node \"{name}\" is unreachable from start \"{}\"; add an edge to it or remove it", g.start)));
            } else if !to_end.contains(name.as_str()) {
                report.push(Diagnostic::error("E021", doc.file(), doc.key_at(&node_ptr(name)), format!("node \"{name}\" has no path to END (it loops forever); add an edge that leaves the loop")));
            }
        }
    }
}

/// Subgraph and map nodes do not include their own graph, directly or through others.
pub fn check_include_cycles(project: &Project, report: &mut Report) {
    let mut pg: DiGraph<&str, ()> = DiGraph::new();
    let mut idx = HashMap::new();
    for doc in &project.graphs {
        idx.entry(doc.spec.name.as_str())
            .or_insert_with(|| pg.add_node(doc.spec.name.as_str()));
    }
    for doc in &project.graphs {
        for node in doc.spec.nodes.values() {
            let child = match &node.kind {
                NodeKind::Subgraph { graph, .. } => Some(graph),
                NodeKind::Map {
                    graph: Some(graph), ..
                } => Some(graph),
                _ => None,
            };
            if let Some(child) = child.and_then(|c| idx.get(c.as_str())) {
                pg.add_edge(idx[doc.spec.name.as_str()], *child, ());
            }
        }
    }
    for scc in petgraph::algo::tarjan_scc(&pg) {
        let cyclic = scc.len() > 1 || pg.contains_edge(scc[0], scc[0]);
        if !cyclic {
            continue;
        }
        let mut names: Vec<&str> = scc.iter().map(|n| pg[*n]).collect();
        names.sort();
        for doc in project
            .graphs
            .iter()
            .filter(|d| names.contains(&d.spec.name.as_str()))
        {
            for (nname, node) in &doc.spec.nodes {
                let child = match &node.kind {
                    NodeKind::Subgraph { graph, .. }
                    | NodeKind::Map {
                        graph: Some(graph), ..
                    } => graph,
                    _ => continue,
                };
                if names.contains(&child.as_str()) {
                    report.push(Diagnostic::error("E050", doc.file(), doc.at(&format!("{}/graph", node_ptr(nname))), format!("subgraph include cycle: {} → back to \"{}\"; a graph cannot include itself", names.join(" → "), doc.spec.name)));
                }
            }
        }
    }
}
