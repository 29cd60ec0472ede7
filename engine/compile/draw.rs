//! Drawing a compiled graph as mermaid or DOT, one shape per node kind, conditional
//! edges labelled with their condition and router edges with their route.

use std::fmt::Write;

use super::{CompiledGraph, Kind};

pub fn mermaid(g: &CompiledGraph) -> String {
    let mut s = String::from("flowchart TD\n");
    for idx in g.graph.node_indices() {
        let n = &g.graph[idx];
        let label = format!("{}<br/><i>{}</i>", n.name, n.kind.name());
        let shape = match n.kind {
            Kind::End => format!("(({}))", n.name),
            Kind::Router { .. } | Kind::Classify { .. } => format!("{{\"{label}\"}}"),
            Kind::Tool { .. } | Kind::Map { .. } => format!("[[\"{label}\"]]"),
            Kind::Subgraph { .. } => format!("[/\"{label}\"/]"),
            _ => format!("[\"{label}\"]"),
        };
        let _ = writeln!(s, "    n{}{shape}", idx.index());
    }
    let _ = writeln!(s, "    start((start)) --> n{}", g.start.index());
    for e in g.graph.edge_indices() {
        let (a, b) = g.graph.edge_endpoints(e).expect("edge exists");
        match &g.graph[e].label {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "    n{} -->|\"{}\"| n{}",
                    a.index(),
                    l.replace('"', "#quot;"),
                    b.index()
                );
            }
            None => {
                let _ = writeln!(s, "    n{} --> n{}", a.index(), b.index());
            }
        }
    }
    s
}

pub fn dot(g: &CompiledGraph) -> String {
    let mut s = format!("digraph \"{}\" {{\n    rankdir=TB;\n", g.name);
    for idx in g.graph.node_indices() {
        let n = &g.graph[idx];
        let shape = match n.kind {
            Kind::End => "doublecircle",
            Kind::Router { .. } | Kind::Classify { .. } => "diamond",
            Kind::Tool { .. } | Kind::Map { .. } => "box3d",
            Kind::Subgraph { .. } => "component",
            _ => "box",
        };
        let _ = writeln!(
            s,
            "    n{} [label=\"{}\\n({})\", shape={shape}];",
            idx.index(),
            n.name,
            n.kind.name()
        );
    }
    let _ = writeln!(
        s,
        "    start [shape=point];\n    start -> n{};",
        g.start.index()
    );
    for e in g.graph.edge_indices() {
        let (a, b) = g.graph.edge_endpoints(e).expect("edge exists");
        match &g.graph[e].label {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "    n{} -> n{} [label=\"{}\"];",
                    a.index(),
                    b.index(),
                    l.replace('"', "\\\"")
                );
            }
            None => {
                let _ = writeln!(s, "    n{} -> n{};", a.index(), b.index());
            }
        }
    }
    s.push_str("}\n");
    s
}
