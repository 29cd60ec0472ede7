//! The serde layer: types that mirror the YAML files one to one.
//!
//! Shape is enforced by the JSON Schemas in `docs/schema/` (unknown fields, types,
//! required keys) before these types are built; these types only carry the data to
//! `compile`, which resolves names into a `CompiledSet`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One graph file under `graphs/`.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Named state keys and their types; node outputs must land in one of them.
    #[serde(default)]
    pub state: BTreeMap<String, StateType>,
    pub start: String,
    #[serde(default = "default_max_steps")]
    pub max_steps: usize,
    pub nodes: BTreeMap<String, NodeSpec>,
    #[serde(default)]
    pub edges: Vec<EdgeSpec>,
    /// Test cases declared beside the graph (run by `eng-intel test`).
    #[serde(default)]
    pub tests: Vec<Value>,
}

fn default_max_steps() -> usize {
    50
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateType {
    String,
    Number,
    Integer,
    Boolean,
    List,
    Object,
    Any,
}

/// A node: its kind-specific fields plus the options every node has.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeSpec {
    #[serde(flatten)]
    pub kind: NodeKind,
    #[serde(default)]
    pub description: String,
    /// State key the node writes its result to.
    pub output: Option<String>,
    pub timeout_ms: Option<u64>,
    pub retry: Option<RetrySpec>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RetrySpec {
    pub attempts: u32,
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_backoff() -> u64 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKind {
    Classify {
        rules: Vec<ClassifyRule>,
        default: TaskClass,
    },
    Router {
        routes: BTreeMap<String, RouteSpec>,
        default: String,
        prompt: Option<String>,
        tier: Option<String>,
    },
    Agent {
        prompt: String,
        tools: Vec<String>,
        /// Inline answer template for tools that declare no `answer:` of their own.
        answer: Option<String>,
        tier: Option<String>,
        #[serde(default = "default_max_turns")]
        max_turns: usize,
    },
    Llm {
        prompt: String,
        #[serde(default)]
        format: LlmFormat,
        tier: Option<String>,
    },
    Tool {
        tool: String,
        #[serde(default)]
        args: BTreeMap<String, String>,
    },
    Subgraph {
        graph: String,
        #[serde(default)]
        inputs: BTreeMap<String, String>,
    },
    Map {
        over: String,
        #[serde(rename = "as", default = "default_item")]
        item: String,
        graph: Option<String>,
        tool: Option<String>,
        #[serde(default)]
        args: BTreeMap<String, String>,
        #[serde(default = "default_concurrency")]
        concurrency: usize,
    },
    Template {
        template: String,
    },
}

fn default_max_turns() -> usize {
    4
}
fn default_item() -> String {
    "item".into()
}
fn default_concurrency() -> usize {
    4
}

impl NodeKind {
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Classify { .. } => "classify",
            NodeKind::Router { .. } => "router",
            NodeKind::Agent { .. } => "agent",
            NodeKind::Llm { .. } => "llm",
            NodeKind::Tool { .. } => "tool",
            NodeKind::Subgraph { .. } => "subgraph",
            NodeKind::Map { .. } => "map",
            NodeKind::Template { .. } => "template",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LlmFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClassifyRule {
    pub pattern: String,
    #[serde(flatten)]
    pub class: TaskClass,
}

/// What `classify` decides: the task type, the model tier it needs, and its badge.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TaskClass {
    pub task_type: String,
    pub tier: String,
    #[serde(default = "default_emoji")]
    pub emoji: String,
}

fn default_emoji() -> String {
    "🤖".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct RouteSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub intents: Vec<String>,
    pub to: String,
}

/// `a -> b -> c`, or one edge with an optional condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EdgeSpec {
    Chain(String),
    Edge {
        from: String,
        to: String,
        when: Option<String>,
    },
}

/// `tools.yaml`, or a file it includes (which has no `include:` of its own).
#[derive(Debug, Clone, Deserialize)]
pub struct ToolsFile {
    /// Files to read as well, relative to tools.yaml.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub tools: BTreeMap<String, ToolSpec>,
    /// How the organisation's people say things (question understanding).
    #[serde(default)]
    pub vocabulary: VocabularySpec,
}

/// One figure of a tool's result (docs/CONFIG.md, "Question understanding").
#[derive(Debug, Clone, Deserialize)]
pub struct MeasureSpec {
    /// Expression giving the number: over `result` and `args`, or over `row` with `rows`.
    pub value: String,
    /// Expression giving the rows the figure is read from (e.g. `result` or `result.people`);
    /// then `label` names each row.
    pub rows: Option<String>,
    pub label: Option<String>,
    /// Shown after the number ("deployment days", "%").
    #[serde(default)]
    pub unit: String,
    /// Which way is better: `higher` (default) or `lower`; "best" and "worst" follow it.
    #[serde(default)]
    pub better: Better,
    /// Words that name the figure besides its name ("slowest" for a wait).
    #[serde(default)]
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    #[default]
    Higher,
    Lower,
}

/// The `vocabulary:` section of tools.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VocabularySpec {
    /// How people say a name → the stored name ("golang" → Go, "the ledger" → ledger-service).
    #[serde(default)]
    pub synonyms: BTreeMap<String, String>,
    /// How people say a thing → the words the examples use ("outage" → incident).
    #[serde(default)]
    pub words: BTreeMap<String, String>,
    /// Words or two-word phrases of requests that would change data; eng-intel only reads.
    #[serde(default)]
    pub refuse: Vec<String>,
    /// Verbs that change data when they open a request ("reassign …", "mark … as done").
    #[serde(default)]
    pub commands: Vec<String>,
    /// People named by a role ("the Payments manager", "the most overloaded engineer"),
    /// found by a tool first, as a step of its own.
    #[serde(default)]
    pub references: Vec<ReferenceSpec>,
    /// Tables a question may count, list or rank directly when no tool answers it ("who
    /// is based in London?", "how many PRs were merged in May?"): the query is drafted
    /// from the question and runs through the SQL guard like a model's.
    #[serde(default)]
    pub tables: Vec<TableSpec>,
}

/// A table questions may ask about directly, and the words that name its rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub table: String,
    /// Words that name its rows ("commit", "pull request", "people").
    pub words: Vec<String>,
    /// The column a row is called by in an answer.
    pub label: String,
    /// The column naming a row's person ("author"), for "who … the most".
    #[serde(default)]
    pub person: Option<String>,
    /// Its time columns, the default first; a question picks another by the column's
    /// words ("merged" → merged_at).
    #[serde(default)]
    pub time: Vec<String>,
}

/// One way of naming a person by a role: a role word next to a name of kind `of` (or,
/// without `of`, after "most": "the most overloaded engineer"), and the tool whose
/// result names the person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    pub words: Vec<String>,
    #[serde(default)]
    pub of: Option<String>,
    pub tool: String,
    /// Where the person's name is in the tool's result: keys and row numbers, dotted
    /// (`0.owner`, `people.0.name`).
    pub pick: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolSpec {
    pub description: String,
    /// JSON Schema of the arguments object.
    pub args: Value,
    /// The store role that answers it.
    pub store: StoreRole,
    /// Query text; a map gives one query per backend where dialects differ.
    pub query: Option<QuerySpec>,
    /// For `store: pipeline`: the graph to run, its args becoming the graph's state.
    pub graph: Option<String>,
    #[serde(default)]
    pub intents: Vec<String>,
    /// How managers ask for it; `{team}` and the like mark where a name goes.
    #[serde(default)]
    pub examples: Vec<String>,
    /// Argument → slot type, where the argument's name does not say it.
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
    /// Template rendered over the result for `tool_end.result_preview`.
    pub preview: Option<String>,
    /// Prompt (name under prompts/) that renders an agent's answer when this tool answered.
    pub answer: Option<String>,
    /// Named figures of a result, so that a comparison or a superlative can name a winner.
    #[serde(default)]
    pub measures: BTreeMap<String, MeasureSpec>,
}

/// What answers a tool: a store role, Rust (`builtin`), or a graph (`pipeline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreRole {
    /// People, teams, skills, projects, tickets.
    Relational,
    /// Commits, PRs, deployments, incidents over time.
    Metrics,
    /// Who works with whom, ownership, dependencies.
    Graph,
    /// Document search.
    Documents,
    /// Computed in the engine (`toolbox::Builtin`).
    Builtin,
    /// A graph run as a tool.
    Pipeline,
}

impl StoreRole {
    /// As tools.yaml writes it.
    pub fn name(self) -> &'static str {
        match self {
            StoreRole::Relational => "relational",
            StoreRole::Metrics => "metrics",
            StoreRole::Graph => "graph",
            StoreRole::Documents => "documents",
            StoreRole::Builtin => "builtin",
            StoreRole::Pipeline => "pipeline",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum QuerySpec {
    One(String),
    PerBackend(BTreeMap<String, String>),
}

impl QuerySpec {
    /// The query for `backend`, falling back to the single or `default` query.
    pub fn for_backend(&self, backend: &str) -> Option<&str> {
        match self {
            QuerySpec::One(q) => Some(q),
            QuerySpec::PerBackend(m) => m
                .get(backend)
                .or_else(|| m.get("default"))
                .map(String::as_str),
        }
    }
}

/// The entry graph: the one a question runs when it names none (it routes to the
/// specialists).
pub const SUPERVISOR: &str = "supervisor";

/// The node every graph ends at; edges may point to it without declaring it.
pub const END: &str = "END";

/// The prompt an agent answers with when neither the tool that answered nor the node
/// gives an answer template.
pub const DEFAULT_ANSWER: &str = "answers/default";

/// One edge after `a -> b -> c` chains are split and router routes added.
#[derive(Debug, Clone)]
pub struct FlatEdge {
    pub from: String,
    pub to: String,
    pub when: Option<String>,
    /// A route name when the edge comes from a router.
    pub route: Option<String>,
    /// JSON Pointer of the text that declared it, for diagnostics.
    pub pointer: String,
}

impl GraphSpec {
    /// Every edge of the graph, in declaration order.
    pub fn flat_edges(&self) -> Vec<FlatEdge> {
        let mut out = Vec::new();
        for (i, e) in self.edges.iter().enumerate() {
            let pointer = format!("/edges/{i}");
            match e {
                EdgeSpec::Chain(s) => {
                    let names: Vec<&str> = s.split("->").map(str::trim).collect();
                    for w in names.windows(2) {
                        out.push(FlatEdge {
                            from: w[0].into(),
                            to: w[1].into(),
                            when: None,
                            route: None,
                            pointer: pointer.clone(),
                        });
                    }
                }
                EdgeSpec::Edge { from, to, when } => out.push(FlatEdge {
                    from: from.clone(),
                    to: to.clone(),
                    when: when.clone(),
                    route: None,
                    pointer,
                }),
            }
        }
        for (node, spec) in &self.nodes {
            if let NodeKind::Router { routes, .. } = &spec.kind {
                for (route, r) in routes {
                    out.push(FlatEdge {
                        from: node.clone(),
                        to: r.to.clone(),
                        when: None,
                        route: Some(route.clone()),
                        pointer: format!(
                            "/nodes/{}/routes/{}/to",
                            super::spans::escape(node),
                            super::spans::escape(route)
                        ),
                    });
                }
            }
        }
        out
    }
}
