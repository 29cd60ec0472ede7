//! Compiling a validated project into an immutable, shareable `CompiledSet`.
//!
//! Each graph becomes a petgraph `DiGraph` of typed nodes; regexes and templates are
//! compiled once here. The set is never mutated: reload builds a new one and swaps the
//! `Arc`, so runs in flight keep the set they started with.

pub mod draw;
pub mod tool_def;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};
use regex::Regex;

pub use tool_def::ToolDef;

use crate::config::spec::{
    DEFAULT_ANSWER, END, GraphSpec, LlmFormat, NodeKind, RetrySpec, StateType, TaskClass,
};
use crate::config::{Doc, Project};
use crate::validate::{self, diagnostic::Report};

/// Everything a run needs, compiled once.
pub struct CompiledSet {
    graphs: BTreeMap<String, Arc<CompiledGraph>>,
    tools: BTreeMap<String, Arc<ToolDef>>,
    templates: minijinja::Environment<'static>,
    lexicon: crate::understand::Lexicon,
    /// The project it came from (for listing, diffs and drawing).
    pub project: Project,
}

pub struct CompiledGraph {
    pub name: String,
    pub description: String,
    pub file: String,
    pub graph: DiGraph<Node, Edge>,
    pub start: NodeIndex,
    pub end: NodeIndex,
    pub max_steps: usize,
    pub state: BTreeMap<String, StateType>,
    /// Per node, its outgoing edges in declaration order: (condition template, target).
    pub outgoing: Vec<Vec<(Option<String>, NodeIndex)>>,
}

pub struct Node {
    pub name: String,
    pub kind: Kind,
    /// State key the node writes to.
    pub output: String,
    pub timeout: Option<Duration>,
    pub retry: Option<RetrySpec>,
}

pub struct Route {
    pub name: String,
    pub description: String,
    pub intents: Vec<Regex>,
    pub to: NodeIndex,
    /// The tools the agents behind this route may call, so a question the
    /// understanding stage gives to a tool goes to the route that has it.
    pub tools: Vec<String>,
}

pub enum Kind {
    End,
    Classify {
        rules: Vec<(Regex, TaskClass)>,
        default: TaskClass,
    },
    Router {
        routes: Vec<Route>,
        default: usize,
        prompt: Option<String>,
        tier: Option<String>,
    },
    Agent {
        prompt: String,
        tools: Vec<Arc<ToolDef>>,
        /// Template of the answer when the tool that answered has none of its own.
        answer: String,
        tier: Option<String>,
        max_turns: usize,
    },
    Llm {
        prompt: String,
        json: bool,
        tier: Option<String>,
    },
    Tool {
        tool: Arc<ToolDef>,
        args: Vec<(String, String)>,
    },
    Subgraph {
        graph: String,
        inputs: Vec<(String, String)>,
    },
    Map {
        over: String,
        item: String,
        target: MapTarget,
        args: Vec<(String, String)>,
        concurrency: usize,
    },
    Template {
        template: String,
    },
}

pub enum MapTarget {
    Graph(String),
    Tool(Arc<ToolDef>),
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::End => "end",
            Kind::Classify { .. } => "classify",
            Kind::Router { .. } => "router",
            Kind::Agent { .. } => "agent",
            Kind::Llm { .. } => "llm",
            Kind::Tool { .. } => "tool",
            Kind::Subgraph { .. } => "subgraph",
            Kind::Map { .. } => "map",
            Kind::Template { .. } => "template",
        }
    }
}

pub struct Edge {
    /// Name of a compiled condition template; None = always.
    pub when: Option<String>,
    /// The condition's source or the route's name, for drawings.
    pub label: Option<String>,
}

impl CompiledSet {
    pub fn graph(&self, name: &str) -> Option<&Arc<CompiledGraph>> {
        self.graphs.get(name)
    }
    pub fn graphs(&self) -> impl Iterator<Item = &Arc<CompiledGraph>> {
        self.graphs.values()
    }
    pub fn tool(&self, name: &str) -> Option<&Arc<ToolDef>> {
        self.tools.get(name)
    }
    pub fn tools(&self) -> impl Iterator<Item = &Arc<ToolDef>> {
        self.tools.values()
    }
    pub fn templates(&self) -> &minijinja::Environment<'static> {
        &self.templates
    }
    /// The tools' example phrasings and the vocabulary, for question understanding.
    pub fn lexicon(&self) -> &crate::understand::Lexicon {
        &self.lexicon
    }
}

/// Validates and compiles; any error finding refuses the whole set.
pub fn compile(project: Project) -> Result<CompiledSet, Report> {
    let mut report = Report::default();
    validate::check(&project, &mut report);
    if report.has_errors() {
        report.sort();
        return Err(report);
    }
    let mut env = templates_env();
    for (name, src) in &project.prompts {
        add(&mut env, prompt_template(name), &src.text);
    }
    let mut tools = BTreeMap::new();
    for t in project.tools() {
        let def = ToolDef::compile(t.name, t.spec).expect("validated tool compiles");
        if let Some(p) = &t.spec.preview {
            add(&mut env, def.preview_template(), p);
        }
        for (m, spec) in &t.spec.measures {
            add(
                &mut env,
                def.measure_template(m, "value"),
                &format!("{{{{ {} }}}}", spec.value),
            );
            if let Some(rows) = &spec.rows {
                add(
                    &mut env,
                    def.measure_template(m, "rows"),
                    &format!("{{{{ ({rows}) | tojson }}}}"),
                );
            }
            if let Some(label) = &spec.label {
                add(
                    &mut env,
                    def.measure_template(m, "label"),
                    &format!("{{{{ {label} }}}}"),
                );
            }
        }
        tools.insert(t.name.to_string(), Arc::new(def));
    }
    let reach = agent_tools(&project);
    let mut graphs = BTreeMap::new();
    for doc in &project.graphs {
        let g = compile_graph(doc, &tools, &reach, &mut env);
        graphs.insert(g.name.clone(), Arc::new(g));
    }
    // The vocabulary sections of every tools file, together.
    let mut vocabulary = crate::config::spec::VocabularySpec::default();
    for doc in &project.tool_files {
        let v = &doc.spec.vocabulary;
        vocabulary.synonyms.extend(v.synonyms.clone());
        vocabulary.words.extend(v.words.clone());
        vocabulary.refuse.extend(v.refuse.iter().cloned());
        vocabulary.commands.extend(v.commands.iter().cloned());
    }
    let lexicon = crate::understand::Lexicon::compile(
        project
            .tools()
            .map(|t| crate::understand::lexicon::ToolLanguage {
                name: t.name,
                description: &t.spec.description,
                args_schema: &t.spec.args,
                examples: &t.spec.examples,
                slots: &t.spec.slots,
                // Figures read once per result: a breakdown calls once per team to compare them.
                measures: t
                    .spec
                    .measures
                    .iter()
                    .filter(|(_, m)| m.rows.is_none())
                    .map(|(n, _)| n.clone())
                    .collect(),
            }),
        &vocabulary,
    );
    Ok(CompiledSet {
        graphs,
        tools,
        templates: env,
        lexicon,
        project,
    })
}

/// The template environment every run renders with; filters shared by all templates.
pub fn templates_env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build();
    env.set_syntax(syntax.expect("default delimiters are valid"));
    env
}

/// The name a prompt is compiled under; templates include prompts by it too.
pub fn prompt_template(prompt: &str) -> String {
    format!("prompts/{prompt}")
}

fn add(env: &mut minijinja::Environment<'static>, name: String, text: &str) {
    env.add_template_owned(name, text.to_string())
        .expect("validated template compiles");
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

fn compile_graph(
    doc: &Doc<GraphSpec>,
    tools: &BTreeMap<String, Arc<ToolDef>>,
    reach: &HashMap<String, Vec<String>>,
    env: &mut minijinja::Environment<'static>,
) -> CompiledGraph {
    let spec = &doc.spec;
    let gname = &spec.name;
    let mut graph = DiGraph::new();
    let mut index: HashMap<&str, NodeIndex> = HashMap::new();
    // Nodes first (kinds filled after, once every index exists for route targets).
    for name in spec.nodes.keys() {
        index.insert(
            name,
            graph.add_node(Node {
                name: name.clone(),
                kind: Kind::End,
                output: String::new(),
                timeout: None,
                retry: None,
            }),
        );
    }
    let end = graph.add_node(Node {
        name: END.into(),
        kind: Kind::End,
        output: String::new(),
        timeout: None,
        retry: None,
    });
    index.insert(END, end);

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
    for (name, node) in &spec.nodes {
        let kind = match &node.kind {
            NodeKind::Classify { rules, default } => Kind::Classify {
                rules: rules
                    .iter()
                    .map(|r| (Regex::new(&r.pattern).expect("validated"), r.class.clone()))
                    .collect(),
                default: default.clone(),
            },
            NodeKind::Router {
                routes,
                default,
                prompt,
                tier,
            } => {
                let routes: Vec<Route> = routes
                    .iter()
                    .map(|(rname, r)| Route {
                        name: rname.clone(),
                        description: r.description.clone(),
                        intents: r
                            .intents
                            .iter()
                            .map(|i| Regex::new(i).expect("validated"))
                            .collect(),
                        to: index[r.to.as_str()],
                        tools: match spec.nodes.get(&r.to).map(|n| &n.kind) {
                            Some(NodeKind::Subgraph { graph, .. }) => {
                                reach.get(graph).cloned().unwrap_or_default()
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
                    tier: tier.clone(),
                }
            }
            NodeKind::Agent {
                prompt,
                tools: ts,
                answer,
                tier,
                max_turns,
            } => Kind::Agent {
                prompt: prompt_template(prompt),
                tools: ts.iter().map(|t| tools[t].clone()).collect(),
                answer: match answer {
                    Some(a) => tpl(format!("{name}:answer"), a),
                    None => prompt_template(DEFAULT_ANSWER),
                },
                tier: tier.clone(),
                max_turns: *max_turns,
            },
            NodeKind::Llm {
                prompt,
                format,
                tier,
            } => Kind::Llm {
                prompt: prompt_template(prompt),
                json: *format == LlmFormat::Json,
                tier: tier.clone(),
            },
            NodeKind::Tool { tool, args } => Kind::Tool {
                tool: tools[tool].clone(),
                args: pairs(args, name, "args", &mut tpl),
            },
            NodeKind::Subgraph { graph, inputs } => Kind::Subgraph {
                graph: graph.clone(),
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
                    (Some(g), _) => MapTarget::Graph(g.clone()),
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

fn default_output(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Classify { .. } => "task_type",
        NodeKind::Router { .. } => "route",
        _ => "answer",
    }
}
