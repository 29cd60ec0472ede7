//! The shape of each graph: `start` and every edge name real nodes, every node has a way
//! out, no loop is closed to END, and every node can be reached from `start`.
//!
//! When an edge names an unknown node the shape is not known, so the checks that depend on
//! it (dead ends, loops, reachability) are skipped rather than reporting their echoes.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Bfs;

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use super::graphs::node_ptr;
use crate::config::spans::{Pos, escape};
use crate::config::spec::{END, EdgeSpec, GraphSpec, NodeKind};
use crate::config::{Doc, Project};

pub fn check_edges(project: &Project, report: &mut Report) {
    for doc in &project.graphs {
        let start_ok = check_start(doc, report);
        if check_endpoints(doc, report) {
            check_flow(doc, start_ok, report);
        }
    }
}

fn check_start(doc: &Doc<GraphSpec>, report: &mut Report) -> bool {
    let g = &doc.spec;
    if g.nodes.contains_key(&g.start) {
        return true;
    }
    let hint = did_you_mean(&g.start, g.nodes.keys().map(String::as_str));
    report.push(Diagnostic::error(
        "E011",
        doc.file(),
        doc.at("/start"),
        format!(
            "start node \"{}\" is not defined{hint}; name one of the nodes",
            g.start
        ),
    ));
    false
}

/// One node name written in an edge: where, and whether it is a source, a target or both.
struct Endpoint<'a> {
    name: &'a str,
    pos: Pos,
    from: bool,
    to: bool,
}

/// Every node name the edges and routes mention; false when one is unknown (E011).
fn check_endpoints(doc: &Doc<GraphSpec>, report: &mut Report) -> bool {
    let g = &doc.spec;
    let mut ends = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        let ptr = format!("/edges/{i}");
        match e {
            EdgeSpec::Chain(s) => {
                let names = chain_names(s);
                for (k, (offset, name)) in names.iter().enumerate() {
                    ends.push(Endpoint {
                        name,
                        pos: doc.at_offset(&ptr, *offset),
                        from: k + 1 < names.len(),
                        to: k > 0,
                    });
                }
            }
            EdgeSpec::Edge { from, to, .. } => {
                ends.push(Endpoint {
                    name: from,
                    pos: doc.at(&format!("{ptr}/from")),
                    from: true,
                    to: false,
                });
                ends.push(Endpoint {
                    name: to,
                    pos: doc.at(&format!("{ptr}/to")),
                    from: false,
                    to: true,
                });
            }
        }
    }
    for (node, spec) in &g.nodes {
        if let NodeKind::Router { routes, .. } = &spec.kind {
            for (route, r) in routes {
                let ptr = format!("{}/routes/{}/to", node_ptr(node), escape(route));
                ends.push(Endpoint {
                    name: &r.to,
                    pos: doc.at(&ptr),
                    from: false,
                    to: true,
                });
            }
        }
    }
    let mut ok = true;
    for e in ends {
        if e.name == END {
            if e.from {
                ok = false;
                report.push(Diagnostic::error(
                    "E011",
                    doc.file(),
                    e.pos,
                    "an edge leaves END, where every run stops; end the chain at END or name another node",
                ));
            }
            continue;
        }
        if g.nodes.contains_key(e.name) {
            continue;
        }
        ok = false;
        if e.name.is_empty() {
            report.push(Diagnostic::error(
                "E011",
                doc.file(),
                e.pos,
                "a node name is missing here; write the chain as `a -> b -> c`",
            ));
            continue;
        }
        let candidates = g
            .nodes
            .keys()
            .map(String::as_str)
            .chain(e.to.then_some(END));
        let hint = did_you_mean(e.name, candidates);
        let what = match (e.from, e.to) {
            (true, true) => "edge through",
            (true, false) => "edge from",
            _ => "edge to",
        };
        report.push(Diagnostic::error(
            "E011",
            doc.file(),
            e.pos,
            format!(
                "{what} unknown node \"{}\"{hint}; define the node under `nodes:` or fix the name",
                e.name
            ),
        ));
    }
    ok
}

fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    q.join(", ")
}

/// The names of `a -> b -> c` with their byte offsets.
pub fn chain_names(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for part in s.split("->") {
        let lead = part.len() - part.trim_start().len();
        out.push((at + lead, part.trim()));
        at += part.len() + 2;
    }
    out
}

/// Dead ends, loops with no way to END, and nodes `start` never reaches.
fn check_flow(doc: &Doc<GraphSpec>, start_ok: bool, report: &mut Report) {
    let g = &doc.spec;
    let mut pg: DiGraph<&str, ()> = DiGraph::new();
    let idx: BTreeMap<&str, NodeIndex> = g
        .nodes
        .keys()
        .map(String::as_str)
        .chain([END])
        .map(|n| (n, pg.add_node(n)))
        .collect();
    for e in g.flat_edges() {
        pg.update_edge(idx[e.from.as_str()], idx[e.to.as_str()], ());
    }
    let end = idx[END];
    let key_pos = |n: &str| doc.key_at(&node_ptr(n));

    for (name, &n) in &idx {
        if n != end && pg.neighbors(n).next().is_none() {
            report.push(Diagnostic::error(
                "E021",
                doc.file(),
                key_pos(name),
                format!("node \"{name}\" has no outgoing edge, so a run that gets here fails; add `{name} -> END` or an edge to another node"),
            ));
        }
    }

    // A strongly connected group that no edge leaves never reaches END: a closed loop.
    for scc in petgraph::algo::tarjan_scc(&pg) {
        if scc.contains(&end) {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let closed = scc
            .iter()
            .all(|n| pg.neighbors(*n).all(|m| members.contains(&m)));
        let is_loop = scc.len() > 1 || pg.contains_edge(scc[0], scc[0]);
        if closed && is_loop {
            let mut names: Vec<&str> = scc.iter().map(|n| pg[*n]).collect();
            names.sort_by_key(|n| key_pos(n));
            let what = match names.as_slice() {
                [one] => format!("node \"{one}\" loops to itself"),
                many => format!("nodes {} form a loop", quoted(many)),
            };
            report.push(Diagnostic::error(
                "E021",
                doc.file(),
                key_pos(names[0]),
                format!("{what} with no path to END, so a run that gets here never ends; add an edge that leaves the loop, e.g. a conditional edge to END"),
            ));
        }
    }

    if start_ok {
        report_unreachable(doc, &pg, idx[g.start.as_str()], report);
    }
}

/// W020 once per unreachable region: at each node no other unreachable node leads to (or
/// the first node of such a loop), naming the nodes that are reached only through it.
fn report_unreachable(
    doc: &Doc<GraphSpec>,
    pg: &DiGraph<&str, ()>,
    start: NodeIndex,
    report: &mut Report,
) {
    let mut reach = BTreeSet::new();
    let mut bfs = Bfs::new(pg, start);
    while let Some(n) = bfs.next(pg) {
        reach.insert(n);
    }
    let lost: BTreeSet<NodeIndex> = pg
        .node_indices()
        .filter(|n| !reach.contains(n) && pg[*n] != END)
        .collect();
    let key_pos = |n: NodeIndex| doc.key_at(&node_ptr(pg[n]));
    for scc in petgraph::algo::tarjan_scc(pg) {
        if !lost.contains(&scc[0]) {
            continue;
        }
        let entered_from_lost = scc.iter().any(|n| {
            pg.neighbors_directed(*n, petgraph::Direction::Incoming)
                .any(|m| lost.contains(&m) && !scc.contains(&m))
        });
        if entered_from_lost {
            continue;
        }
        let first = *scc
            .iter()
            .min_by_key(|n| key_pos(**n))
            .expect("scc is not empty");
        let mut behind: Vec<NodeIndex> = Vec::new();
        let mut bfs = Bfs::new(pg, first);
        while let Some(n) = bfs.next(pg) {
            if n != first && lost.contains(&n) {
                behind.push(n);
            }
        }
        behind.sort_by_key(|n| key_pos(*n));
        let tail = if behind.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = behind.iter().map(|n| pg[*n]).collect();
            format!(" (so are {}, reached only through it)", quoted(&names))
        };
        let name = pg[first];
        report.push(Diagnostic::warning(
            "W020",
            doc.file(),
            key_pos(first),
            format!("node \"{name}\" is unreachable from start \"{}\"{tail}; add an edge to it or remove it", doc.spec.start),
        ));
    }
}
#[cfg(test)]
mod tests {
    use super::chain_names;

    #[test]
    fn chain_offsets_point_at_names() {
        let s = "a ->  bb->c";
        let names = chain_names(s);
        assert_eq!(names, [(0, "a"), (6, "bb"), (10, "c")]);
        for (offset, name) in names {
            assert_eq!(&s[offset..offset + name.len()], name);
        }
    }
}
