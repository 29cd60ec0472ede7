//! Compiling a validated project into an immutable, shareable `CompiledSet`.
//!
//! Each graph becomes a petgraph `DiGraph` of typed nodes; regexes and templates are
//! compiled once here, and the graphs that nodes and pipeline tools run are resolved to
//! the compiled graphs themselves (`build`). The set is never mutated: reload builds a new one and swaps the
//! `Arc`, so runs in flight keep the set they started with.

mod build;
pub mod draw;
pub mod tool_def;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};

pub use crate::config::regexes::Pattern;
pub use tool_def::ToolDef;

use crate::config::Project;
use crate::config::spec::{RetrySpec, StateType};
use crate::core::Tier;
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
    /// Line of the node's key in its graph's file (0 for END), for messages.
    pub line: usize,
}

impl Node {
    /// A node whose kind is filled in once every node has its index.
    fn placeholder(name: &str, line: usize) -> Node {
        Node {
            name: name.to_string(),
            kind: Kind::End,
            output: String::new(),
            timeout: None,
            retry: None,
            line,
        }
    }
}

pub struct Route {
    pub name: String,
    pub description: String,
    pub intents: Vec<Pattern>,
    pub to: NodeIndex,
    /// The tools the agents behind this route may call, so a question the
    /// understanding stage gives to a tool goes to the route that has it.
    pub tools: Vec<String>,
}

/// What `classify` decides: the task type, the model tier it needs, and its badge.
#[derive(Debug, Clone)]
pub struct Class {
    pub task_type: String,
    pub tier: Tier,
    pub emoji: String,
}

pub enum Kind {
    End,
    Classify {
        rules: Vec<(Pattern, Class)>,
        default: Class,
    },
    Router {
        routes: Vec<Route>,
        default: usize,
        prompt: Option<String>,
        tier: Option<Tier>,
    },
    Agent {
        prompt: String,
        tools: Vec<Arc<ToolDef>>,
        /// Template of the answer when the tool that answered has none of its own.
        answer: String,
        tier: Option<Tier>,
        max_turns: usize,
    },
    Llm {
        prompt: String,
        json: bool,
        tier: Option<Tier>,
    },
    Tool {
        tool: Arc<ToolDef>,
        args: Vec<(String, String)>,
    },
    Subgraph {
        graph: Arc<CompiledGraph>,
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
    Graph(Arc<CompiledGraph>),
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

    /// Graphs that run only as a step of another with inputs a request cannot give: the
    /// target of a `map` (it reads the item) or of a `subgraph` with `inputs`, unless a
    /// pipeline tool runs it too (then it takes its arguments, the question among them).
    pub fn step_graphs(&self) -> std::collections::BTreeSet<String> {
        let mut steps = std::collections::BTreeSet::new();
        for g in self.graphs() {
            for i in g.graph.node_indices() {
                match &g.graph[i].kind {
                    Kind::Map {
                        target: MapTarget::Graph(t),
                        ..
                    } => {
                        steps.insert(t.name.clone());
                    }
                    Kind::Subgraph { graph, inputs } if !inputs.is_empty() => {
                        steps.insert(graph.name.clone());
                    }
                    _ => {}
                }
            }
        }
        for t in self.tools() {
            if let Some(p) = &t.pipeline {
                steps.remove(&p.name);
            }
        }
        steps.remove(crate::config::spec::SUPERVISOR);
        steps
    }
}

/// Validates and compiles; any error finding refuses the whole set.
pub fn compile(project: Project) -> Result<CompiledSet, Report> {
    compile_checked(project).map(|(set, _warnings)| set)
}

/// Why [`load`] produced no compiled set.
#[derive(Debug)]
pub enum Rejected {
    /// The project directory could not be read at all.
    Unreadable(crate::config::LoadError),
    /// The project was read but has errors (the report holds warnings too, sorted).
    Invalid(Report),
}

impl From<Rejected> for Report {
    /// One report either way: an unreadable directory is `E001` at its path.
    fn from(r: Rejected) -> Report {
        match r {
            Rejected::Invalid(report) => report,
            Rejected::Unreadable(e) => {
                let mut report = Report::default();
                report.push(crate::core::Diagnostic::error(
                    "E001",
                    &e.path,
                    Default::default(),
                    e.reason,
                ));
                report
            }
        }
    }
}

/// The one door from a project directory to a running configuration: loads `root`,
/// validates it and compiles it, returning the compiled set with the warnings found.
pub fn load(root: &std::path::Path) -> Result<(CompiledSet, Report), Rejected> {
    let project = crate::config::load(root).map_err(Rejected::Unreadable)?;
    compile_checked(project).map_err(Rejected::Invalid)
}

/// Validates `project` and compiles it; Ok carries the warnings.
fn compile_checked(project: Project) -> Result<(CompiledSet, Report), Report> {
    let mut report = Report::default();
    validate::check(&project, &mut report);
    report.sort();
    if report.has_errors() {
        return Err(report);
    }
    let mut sources = Sources::new();
    for (name, src) in &project.prompts {
        add(&mut sources, prompt_template(name), &src.text);
    }
    let mut build = build::Builder::new(&project, sources);
    for t in project.tools() {
        build.tool(t.name);
    }
    for doc in &project.graphs {
        build.graph(&doc.spec.name);
    }
    let build::Builder {
        env: sources,
        tools,
        graphs,
        ..
    } = build;
    // Each template is compiled the first time a run renders it (and kept): validation
    // has parsed every one already, and most are never rendered by a given question.
    let mut templates = templates_env();
    templates.set_loader(move |name| Ok(sources.get(name).cloned()));
    // The vocabulary sections of every tools file, together.
    let mut vocabulary = crate::config::spec::VocabularySpec::default();
    for doc in &project.tool_files {
        let v = &doc.spec.vocabulary;
        vocabulary.synonyms.extend(v.synonyms.clone());
        vocabulary.words.extend(v.words.clone());
        vocabulary.refuse.extend(v.refuse.iter().cloned());
        vocabulary.commands.extend(v.commands.iter().cloned());
        vocabulary.references.extend(v.references.iter().cloned());
        vocabulary.tables.extend(v.tables.iter().cloned());
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
                ranks: !t.spec.measures.is_empty(),
            }),
        &vocabulary,
    );
    let set = CompiledSet {
        graphs,
        tools,
        templates,
        lexicon,
        project,
    };
    Ok((set, report))
}

pub use crate::core::templates_env;

/// The name a prompt is compiled under; templates include prompts by it too.
pub fn prompt_template(prompt: &str) -> String {
    format!("prompts/{prompt}")
}

/// Template sources by name, compiled on first use by the set's environment.
type Sources = std::collections::HashMap<String, String>;

fn add(sources: &mut Sources, name: String, text: &str) {
    sources.insert(name, text.to_string());
}
