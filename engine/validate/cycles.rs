//! Graphs that would run themselves without end: a subgraph or map node that includes
//! its own graph, directly or through others (E050), and a node whose pipeline tool runs
//! a graph that leads back to the node's own graph, whatever mix of includes and
//! pipeline tools the way back takes (E051).

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::diagnostic::{Diagnostic, Report};
use super::graphs::node_ptr;
use crate::config::spec::{GraphSpec, NodeKind, NodeSpec};
use crate::config::{Doc, Project};

/// One graph a node runs: where the node names it (a JSON Pointer into the graph's
/// file), the graph, and the pipeline tool it goes through, if any.
struct Runs<'a> {
    ptr: String,
    graph: &'a str,
    tool: Option<&'a str>,
}

/// The graphs node `name` runs: the one it includes (subgraph, map over a graph) and
/// the graphs of the pipeline tools it calls (tool node, map over a tool, agent).
fn runs<'a>(project: &'a Project, name: &str, node: &'a NodeSpec) -> Vec<Runs<'a>> {
    let p = node_ptr(name);
    let pipeline = |ptr: String, tool: &'a str| {
        let graph = project.tool(tool)?.spec.graph.as_deref()?;
        Some(Runs {
            ptr,
            graph,
            tool: Some(tool),
        })
    };
    match &node.kind {
        NodeKind::Subgraph { graph, .. }
        | NodeKind::Map {
            graph: Some(graph), ..
        } => vec![Runs {
            ptr: format!("{p}/graph"),
            graph,
            tool: None,
        }],
        NodeKind::Tool { tool, .. }
        | NodeKind::Map {
            tool: Some(tool), ..
        } => pipeline(format!("{p}/tool"), tool).into_iter().collect(),
        NodeKind::Agent { tools, .. } => tools
            .iter()
            .enumerate()
            .filter_map(|(i, t)| pipeline(format!("{p}/tools/{i}"), t))
            .collect(),
        _ => Vec::new(),
    }
}

/// Which graph runs which, through includes only or through pipeline tools too.
struct Calls<'a> {
    pg: DiGraph<&'a str, ()>,
    idx: HashMap<&'a str, NodeIndex>,
}

impl<'a> Calls<'a> {
    fn new(project: &'a Project, with_pipelines: bool) -> Self {
        let mut pg = DiGraph::new();
        let idx: HashMap<&str, NodeIndex> = project
            .graphs
            .iter()
            .map(|d| (d.spec.name.as_str(), pg.add_node(d.spec.name.as_str())))
            .collect();
        for doc in &project.graphs {
            for (name, node) in &doc.spec.nodes {
                for r in runs(project, name, node) {
                    if let Some(c) = idx.get(r.graph)
                        && (with_pipelines || r.tool.is_none())
                    {
                        pg.update_edge(idx[doc.spec.name.as_str()], *c, ());
                    }
                }
            }
        }
        Calls { pg, idx }
    }

    /// The graphs from `from` back to `doc`'s graph, `doc`'s graph first and last.
    fn way_back(&self, doc: &'a Doc<GraphSpec>, from: &str) -> Option<Vec<&'a str>> {
        let me = self.idx[doc.spec.name.as_str()];
        let from = *self.idx.get(from)?;
        let (_, path) = petgraph::algo::astar(&self.pg, from, |n| n == me, |_| 1, |_| 0)?;
        let mut names = vec![doc.spec.name.as_str()];
        names.extend(path.iter().map(|n| self.pg[*n]));
        Some(names)
    }
}

/// A node's call of another graph that leads back to the node's own graph.
struct Cycle<'a> {
    doc: &'a Doc<GraphSpec>,
    node: &'a str,
    call: Runs<'a>,
    /// The node's graph, the graphs on the way back, the node's graph again.
    graphs: Vec<&'a str>,
}

/// The calls that lead back: the includes among includes, or (`via_pipelines`) the
/// pipeline-tool calls among every call.
fn cycles(project: &Project, via_pipelines: bool) -> Vec<Cycle<'_>> {
    let calls = Calls::new(project, via_pipelines);
    let mut out = Vec::new();
    for doc in &project.graphs {
        for (node, spec) in &doc.spec.nodes {
            for call in runs(project, node, spec) {
                if call.tool.is_some() != via_pipelines {
                    continue;
                }
                if let Some(graphs) = calls.way_back(doc, call.graph) {
                    out.push(Cycle {
                        doc,
                        node,
                        call,
                        graphs,
                    });
                }
            }
        }
    }
    out
}

/// Subgraph and map nodes do not include their own graph, directly or through others (E050).
pub fn check_include_cycles(project: &Project, report: &mut Report) {
    for c in cycles(project, false) {
        report.push(Diagnostic::error(
            "E050",
            c.doc.file(),
            c.doc.at(&c.call.ptr),
            format!(
                "subgraph include cycle: {}; a graph cannot include itself, directly or through others, so point node \"{}\" at another graph",
                c.graphs.join(" → "),
                c.node
            ),
        ));
    }
}

/// No node calls a pipeline tool whose graph leads back to the node's own graph (E051),
/// reported at each such call.
pub fn check_pipeline_cycles(project: &Project, report: &mut Report) {
    for c in cycles(project, true) {
        let tool = c.call.tool.unwrap_or_default();
        let defined = project
            .tool(tool)
            .map(|t| {
                let at = t.doc.at(&t.ptr("/graph"));
                format!(" ({}:{})", t.doc.file(), at.line)
            })
            .unwrap_or_default();
        report.push(Diagnostic::error(
            "E051",
            c.doc.file(),
            c.doc.at(&c.call.ptr),
            format!(
                "graph \"{}\" reaches itself through pipeline tool \"{tool}\", which runs graph \"{}\"{defined}: {}; a run would nest graphs without end, so have node \"{}\" call another tool or point the tool at another graph",
                c.doc.spec.name,
                c.call.graph,
                c.graphs.join(" → "),
                c.node
            ),
        ));
    }
}
