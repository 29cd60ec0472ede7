//! Building the compiled graphs and tools, each once and in the order they need each
//! other: a graph after the tools and graphs its nodes run, a pipeline tool after the
//! graph it runs. So a subgraph or map node and a pipeline tool hold their graph by
//! `Arc`, and no graph is looked up by name at run time. Validation guarantees there is
//! no cycle to follow (E050, E051).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};

use super::{
    Class, CompiledGraph, Edge, Kind, MapTarget, Node, Route, Sources, ToolDef, add,
    prompt_template,
};
use crate::config::regexes::Pattern;
use crate::config::spans::escape;
use crate::config::spec::{DEFAULT_ANSWER, END, GraphSpec, LlmFormat, NodeKind, TaskClass};
use crate::config::{Doc, Project};
use crate::core::Tier;

/// Compiles what it is asked for and what that needs, each once.
pub(super) struct Builder<'p> {
    project: &'p Project,
    /// Every template's source by name: the environment compiles each on first use.
    pub(super) env: Sources,
    /// Per graph, the tools its agents may call (for routes).
    reach: HashMap<String, Vec<String>>,
    pub(super) tools: BTreeMap<String, Arc<ToolDef>>,
    pub(super) graphs: BTreeMap<String, Arc<CompiledGraph>>,
    /// The graphs being built, innermost last: a graph met again here is a cycle.
    building: Vec<String>,
}

impl<'p> Builder<'p> {
    pub(super) fn new(project: &'p Project, env: Sources) -> Self {
        Builder {
            project,
            env,
            reach: agent_tools(project),
            tools: BTreeMap::new(),
            graphs: BTreeMap::new(),
            building: Vec::new(),
        }
    }

    /// The compiled tool `name` (validated to exist), with its templates registered; a
    /// pipeline tool gets its graph compiled first.
    pub(super) fn tool(&mut self, name: &str) -> Arc<ToolDef> {
        if let Some(t) = self.tools.get(name) {
            return t.clone();
        }
        let t = self.project.tool(name).expect("validated: the tool exists");
        let mut def = ToolDef::compile(t.name, t.spec, &self.project.regexes)
            .expect("validated tool compiles");
        if let Some(p) = &t.spec.preview {
            add(&mut self.env, def.preview_template(), p);
        }
        for (m, spec) in &t.spec.measures {
            add(
                &mut self.env,
                def.measure_template(m, "value"),
                &format!("{{{{ {} }}}}", spec.value),
            );
            if let Some(rows) = &spec.rows {
                add(
                    &mut self.env,
                    def.measure_template(m, "rows"),
                    &format!("{{{{ ({rows}) | tojson }}}}"),
                );
            }
            if let Some(label) = &spec.label {
                add(
                    &mut self.env,
                    def.measure_template(m, "label"),
                    &format!("{{{{ {label} }}}}"),
                );
            }
        }
        if let Some(graph) = &t.spec.graph {
            def.pipeline = Some(self.graph(graph));
        }
        let def = Arc::new(def);
        self.tools.insert(t.name.to_string(), def.clone());
        def
    }

    /// The compiled graph `name` (validated to exist), after what its nodes run.
    pub(super) fn graph(&mut self, name: &str) -> Arc<CompiledGraph> {
        if let Some(g) = self.graphs.get(name) {
            return g.clone();
        }
        assert!(
            !self.building.iter().any(|b| b == name),
            "validated: graph \"{name}\" does not reach itself ({} → {name})",
            self.building.join(" → ")
        );
        self.building.push(name.to_string());
        let project = self.project;
        let doc = project
            .graphs
            .iter()
            .find(|d| d.spec.name == name)
            .expect("validated: the graph exists");
        for node in doc.spec.nodes.values() {
            match &node.kind {
                NodeKind::Agent { tools, .. } => {
                    for t in tools {
                        self.tool(t);
                    }
                }
                NodeKind::Tool { tool, .. }
                | NodeKind::Map {
                    tool: Some(tool), ..
                } => {
                    self.tool(tool);
                }
                _ => {}
            }
            if let NodeKind::Subgraph { graph, .. }
            | NodeKind::Map {
                graph: Some(graph), ..
            } = &node.kind
            {
                self.graph(graph);
            }
        }
        let g = Arc::new(self.compile_graph(doc));
        self.building.pop();
        self.graphs.insert(name.to_string(), g.clone());
        g
    }

    fn compile_graph(&mut self, doc: &Doc<GraphSpec>) -> CompiledGraph {
        let spec = &doc.spec;
        let gname = &spec.name;
        let mut graph = DiGraph::new();
        let mut index: HashMap<&str, NodeIndex> = HashMap::new();
        // Nodes first (kinds filled after, once every index exists for route targets).
        for name in spec.nodes.keys() {
            let line = doc.key_at(&format!("/nodes/{}", escape(name))).line;
            index.insert(name, graph.add_node(Node::placeholder(name, line)));
        }
        let end = graph.add_node(Node::placeholder(END, 0));
        index.insert(END, end);

        // Validated patterns (parsed when they were validated, compiled on first match).
        let regexes = &self.project.regexes;
        let regex = |pattern: &str| -> Pattern { regexes.get(pattern).expect("validated regex") };
        let env = &mut self.env;
        let mut tpl = |field: String, text: &str| -> String {
            let name = format!("{gname}:{field}");
            add(env, name.clone(), text);
            name
        };
        let pairs = |m: &BTreeMap<String, String>,
                     node: &str,
                     field: &str,
                     tpl: &mut dyn FnMut(String, &str) -> String| {
            m.iter()
                .map(|(k, v)| (k.clone(), tpl(format!("{node}:{field}.{k}"), v)))
                .collect::<Vec<_>>()
        };
        let tools = &self.tools;
        let graphs = &self.graphs;
        let tier = |t: &Option<String>| t.as_deref().map(|t| Tier::parse(t).expect("validated"));
        for (name, node) in &spec.nodes {
            let kind = match &node.kind {
                NodeKind::Classify { rules, default } => Kind::Classify {
                    rules: rules
                        .iter()
                        .map(|r| (regex(&r.pattern), class(&r.class)))
                        .collect(),
                    default: class(default),
                },
                NodeKind::Router {
                    routes,
                    default,
                    prompt,
                    tier: t,
                } => {
                    let routes: Vec<Route> = routes
                        .iter()
                        .map(|(rname, r)| Route {
                            name: rname.clone(),
                            description: r.description.clone(),
                            intents: r.intents.iter().map(|i| regex(i)).collect(),
                            to: index[r.to.as_str()],
                            tools: match spec.nodes.get(&r.to).map(|n| &n.kind) {
                                Some(NodeKind::Subgraph { graph, .. }) => {
                                    self.reach.get(graph).cloned().unwrap_or_default()
                                }
                                Some(NodeKind::Agent { tools, .. }) => tools.clone(),
                                _ => Vec::new(),
                            },
                        })
                        .collect();
                    let default = routes
                        .iter()
                        .position(|r| &r.name == default)
                        .expect("validated");
                    Kind::Router {
                        routes,
                        default,
                        prompt: prompt.as_deref().map(prompt_template),
                        tier: tier(t),
                    }
                }
                NodeKind::Agent {
                    prompt,
                    tools: ts,
                    answer,
                    tier: t,
                    max_turns,
                } => Kind::Agent {
                    prompt: prompt_template(prompt),
                    tools: ts.iter().map(|t| tools[t].clone()).collect(),
                    answer: match answer {
                        Some(a) => tpl(format!("{name}:answer"), a),
                        None => prompt_template(DEFAULT_ANSWER),
                    },
                    tier: tier(t),
                    max_turns: *max_turns,
                },
                NodeKind::Llm {
                    prompt,
                    format,
                    tier: t,
                } => Kind::Llm {
                    prompt: prompt_template(prompt),
                    json: *format == LlmFormat::Json,
                    tier: tier(t),
                },
                NodeKind::Tool { tool, args } => Kind::Tool {
                    tool: tools[tool].clone(),
                    args: pairs(args, name, "args", &mut tpl),
                },
                NodeKind::Subgraph { graph, inputs } => Kind::Subgraph {
                    graph: graphs[graph].clone(),
                    inputs: pairs(inputs, name, "inputs", &mut tpl),
                },
                NodeKind::Map {
                    over,
                    item,
                    graph,
                    tool,
                    args,
                    concurrency,
                } => Kind::Map {
                    over: over.clone(),
                    item: item.clone(),
                    target: match (graph, tool) {
                        (Some(g), _) => MapTarget::Graph(graphs[g].clone()),
                        (None, Some(t)) => MapTarget::Tool(tools[t].clone()),
                        (None, None) => unreachable!("validated: map has graph or tool"),
                    },
                    args: pairs(args, name, "args", &mut tpl),
                    concurrency: *concurrency,
                },
                NodeKind::Template { template } => Kind::Template {
                    template: tpl(format!("{name}:template"), template),
                },
            };
            let n = &mut graph[index[name.as_str()]];
            n.kind = kind;
            n.output = node
                .output
                .clone()
                .unwrap_or_else(|| default_output(&node.kind).into());
            n.timeout = node.timeout_ms.map(Duration::from_millis);
            n.retry = node.retry;
        }
        for e in spec.flat_edges() {
            if e.route.is_some() {
                // Router edges are followed by route choice, drawn with the route's name.
                graph.add_edge(
                    index[e.from.as_str()],
                    index[e.to.as_str()],
                    Edge {
                        when: None,
                        label: e.route.clone(),
                    },
                );
                continue;
            }
            let when = e.when.as_ref().map(|c| {
                tpl(
                    format!("{}->{}:when:{}", e.from, e.to, e.pointer),
                    &format!("{{% if {c} %}}1{{% endif %}}"),
                )
            });
            graph.add_edge(
                index[e.from.as_str()],
                index[e.to.as_str()],
                Edge {
                    when,
                    label: e.when.clone(),
                },
            );
        }
        let mut outgoing = vec![Vec::new(); graph.node_count()];
        let mut edges: Vec<_> = graph.edge_indices().collect();
        edges.sort();
        for e in edges {
            let (a, b) = graph.edge_endpoints(e).expect("edge exists");
            outgoing[a.index()].push((graph[e].when.clone(), b));
        }
        CompiledGraph {
            outgoing,
            name: gname.clone(),
            description: spec.description.clone(),
            file: doc.file().to_string(),
            start: index[spec.start.as_str()],
            end,
            graph,
            max_steps: spec.max_steps,
            state: spec.state.clone(),
        }
    }
}

/// A classify rule's decision with its tier resolved.
fn class(c: &TaskClass) -> Class {
    Class {
        task_type: c.task_type.clone(),
        tier: Tier::parse(&c.tier).expect("validated"),
        emoji: c.emoji.clone(),
    }
}

/// Per graph, the tools its agents (and the agents of the graphs it runs) may call.
fn agent_tools(project: &Project) -> HashMap<String, Vec<String>> {
    fn visit(
        name: &str,
        specs: &HashMap<&str, &GraphSpec>,
        seen: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        seen.push(name.to_string());
        let Some(spec) = specs.get(name) else { return };
        for node in spec.nodes.values() {
            match &node.kind {
                NodeKind::Agent { tools, .. } => out.extend(tools.iter().cloned()),
                NodeKind::Subgraph { graph, .. } => visit(graph, specs, seen, out),
                _ => {}
            }
        }
    }
    let specs: HashMap<&str, &GraphSpec> = project
        .graphs
        .iter()
        .map(|d| (d.spec.name.as_str(), &d.spec))
        .collect();
    specs
        .keys()
        .map(|name| {
            let mut out = Vec::new();
            visit(name, &specs, &mut Vec::new(), &mut out);
            (name.to_string(), out)
        })
        .collect()
}

fn default_output(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Classify { .. } => "task_type",
        NodeKind::Router { .. } => "route",
        _ => "answer",
    }
}
