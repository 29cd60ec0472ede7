//! Checks of graph files: unique names and the things nodes refer to (tools, prompts,
//! graphs, model tiers, state keys, tool args).

use std::collections::{BTreeMap, HashMap};

use super::diagnostic::{Diagnostic, Report, did_you_mean};
use super::tools::arg_names;
use super::{BUILTIN_KEYS, regexes};
use crate::config::spans::escape;
use crate::config::spec::{DEFAULT_ANSWER, END, GraphSpec, NodeKind, NodeSpec};
use crate::config::{Doc, Project};
use crate::core::Tier;

/// The JSON Pointer of node `node` in its graph file.
pub fn node_ptr(node: &str) -> String {
    format!("/nodes/{}", escape(node))
}

/// Graph names are unique across files; no node is called END.
pub fn check_names(project: &Project, report: &mut Report) {
    let mut first: HashMap<&str, &Doc<GraphSpec>> = HashMap::new();
    for doc in &project.graphs {
        let name = doc.spec.name.as_str();
        if let Some(prev) = first.get(name) {
            let at = prev.at("/name");
            report.push(Diagnostic::error(
                "E010",
                doc.file(),
                doc.at("/name"),
                format!(
                    "duplicate graph name \"{name}\", already defined in {}:{}:{}; give each graph its own name",
                    prev.file(),
                    at.line,
                    at.col
                ),
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

/// What one graph file may refer to, gathered once.
struct Known<'a> {
    project: &'a Project,
    tools: Vec<&'a str>,
    graphs: Vec<&'a str>,
}

/// Reports references of one graph file.
struct Refs<'a, 'r> {
    known: &'a Known<'a>,
    doc: &'a Doc<GraphSpec>,
    report: &'r mut Report,
}

impl Refs<'_, '_> {
    fn unknown(
        &mut self,
        code: &'static str,
        ptr: &str,
        what: &str,
        name: &str,
        known: &[&str],
        fix: &str,
    ) {
        let hint = did_you_mean(name, known.iter().copied());
        self.report.push(Diagnostic::error(
            code,
            self.doc.file(),
            self.doc.at(ptr),
            format!("unknown {what} \"{name}\"{hint}; {fix}"),
        ));
    }

    fn tool(&mut self, ptr: &str, name: &str) {
        if !self.known.tools.contains(&name) && !self.known.project.unloaded.has_tool(name) {
            let tools = &self.known.tools;
            self.unknown(
                "E012",
                ptr,
                "tool",
                name,
                tools,
                "declare it in tools.yaml or fix the name",
            );
        }
    }

    fn graph(&mut self, ptr: &str, name: &str) {
        if !self.known.graphs.contains(&name) && !self.known.project.unloaded.has_graph(name) {
            let graphs = &self.known.graphs;
            self.unknown(
                "E014",
                ptr,
                "graph",
                name,
                graphs,
                "name a graph defined under graphs/ (its `name:`, not its file name)",
            );
        }
    }

    fn prompt(&mut self, ptr: &str, name: &str) {
        super::prompts::check_ref(self.known.project, self.report, self.doc, ptr, name);
    }

    fn tier(&mut self, ptr: &str, name: &str) {
        if Tier::parse(name).is_none() {
            let names = Tier::names();
            self.unknown(
                "E015",
                ptr,
                "model tier",
                name,
                &names,
                &format!("use one of {}", names.join(", ")),
            );
        }
    }

    /// Args a tool node passes: each one the tool declares, every required one present (E043).
    fn tool_args(
        &mut self,
        node: &str,
        field_ptr: &str,
        tool: &str,
        args: &BTreeMap<String, String>,
    ) {
        let Some(spec) = self.known.project.tool(tool).map(|t| t.spec) else {
            return;
        };
        let declared = arg_names(&spec.args);
        for arg in args.keys() {
            if !declared.contains(arg) {
                let hint = did_you_mean(arg, declared.iter().map(String::as_str));
                self.report.push(Diagnostic::error(
                    "E043",
                    self.doc.file(),
                    self.doc.key_at(&format!("{field_ptr}/{}", escape(arg))),
                    format!(
                        "tool \"{tool}\" has no arg \"{arg}\"{hint}; use one of its args ({})",
                        super::tools::list(&declared)
                    ),
                ));
            }
        }
        let required = spec
            .args
            .get("required")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        for req in required.iter().filter_map(|r| r.as_str()) {
            if !args.contains_key(req) {
                self.report.push(Diagnostic::error(
                    "E043",
                    self.doc.file(),
                    self.doc.key_at(&node_ptr(node)),
                    format!("node \"{node}\" does not pass \"{req}\", a required arg of tool \"{tool}\"; add `{req}:` under `args`"),
                ));
            }
        }
    }

    fn node(&mut self, name: &str, node: &NodeSpec, keys: &[&str]) {
        let p = node_ptr(name);
        if let Some(out) = &node.output
            && !keys.contains(&out.as_str())
        {
            self.unknown(
                "E016",
                &format!("{p}/output"),
                "state key",
                out,
                keys,
                "declare it under `state:` or write to a declared key",
            );
        }
        let doc = self.doc;
        match &node.kind {
            NodeKind::Classify { rules, default } => {
                for (i, r) in rules.iter().enumerate() {
                    self.tier(&format!("{p}/rules/{i}/tier"), &r.class.tier);
                    let what = format!("pattern of rule {i} of node \"{name}\"");
                    regexes::compile(self.known.project, self.report, doc, &format!("{p}/rules/{i}/pattern"), &r.pattern, &what);
                }
                self.tier(&format!("{p}/default/tier"), &default.tier);
            }
            NodeKind::Router { routes, default, prompt, tier } => {
                if !routes.contains_key(default) {
                    let names: Vec<&str> = routes.keys().map(String::as_str).collect();
                    self.unknown("E011", &format!("{p}/default"), "route", default, &names, &format!("name one of the routes of \"{name}\": {}", names.join(", ")));
                }
                for (rname, r) in routes {
                    for (i, intent) in r.intents.iter().enumerate() {
                        let what = format!("intent {i} of route \"{rname}\"");
                        let ptr = format!("{p}/routes/{}/intents/{i}", escape(rname));
                        regexes::compile(self.known.project, self.report, doc, &ptr, intent, &what);
                    }
                }
                if let Some(pr) = prompt {
                    self.prompt(&format!("{p}/prompt"), pr);
                }
                if let Some(t) = tier {
                    self.tier(&format!("{p}/tier"), t);
                }
            }
            NodeKind::Agent { prompt, tools, answer, tier, .. } => {
                self.prompt(&format!("{p}/prompt"), prompt);
                if answer.is_none() && !self.known.project.prompts.contains_key(DEFAULT_ANSWER) {
                    self.report.push(Diagnostic::error(
                        "E013",
                        doc.file(),
                        doc.key_at(&p),
                        format!("agent node \"{name}\" has no `answer:` and there is no prompt \"{DEFAULT_ANSWER}\" to answer with; add prompts/{DEFAULT_ANSWER}.j2 or give the node an `answer:`"),
                    ));
                }
                for (i, tool) in tools.iter().enumerate() {
                    self.tool(&format!("{p}/tools/{i}"), tool);
                }
                if let Some(t) = tier {
                    self.tier(&format!("{p}/tier"), t);
                }
            }
            NodeKind::Llm { prompt, tier, .. } => {
                self.prompt(&format!("{p}/prompt"), prompt);
                if let Some(t) = tier {
                    self.tier(&format!("{p}/tier"), t);
                }
            }
            NodeKind::Tool { tool, args } => {
                self.tool(&format!("{p}/tool"), tool);
                self.tool_args(name, &format!("{p}/args"), tool, args);
            }
            NodeKind::Subgraph { graph, inputs } => {
                self.graph(&format!("{p}/graph"), graph);
                self.inputs(&p, graph, inputs);
            }
            NodeKind::Map { graph, tool, args, .. } => match (graph, tool) {
                (Some(_), Some(_)) => self.report.push(Diagnostic::error(
                    "E005",
                    doc.file(),
                    doc.key_at(&format!("{p}/tool")),
                    format!("map node \"{name}\" has both `graph` and `tool`; keep one: a map runs either a graph or a tool per item"),
                )),
                (None, None) => self.report.push(Diagnostic::error(
                    "E005",
                    doc.file(),
                    doc.key_at(&p),
                    format!("map node \"{name}\" has neither `graph` nor `tool`; add one: what to run for each item"),
                )),
                (Some(g), None) => self.graph(&format!("{p}/graph"), g),
                (None, Some(t)) => {
                    self.tool(&format!("{p}/tool"), t);
                    self.tool_args(name, &format!("{p}/args"), t, args);
                }
            },
            NodeKind::Template { .. } => {}
        }
    }

    /// Subgraph inputs set state keys of the child graph: they must be ones it has (E016).
    fn inputs(&mut self, p: &str, graph: &str, inputs: &BTreeMap<String, String>) {
        let Some(child) = self
            .known
            .project
            .graphs
            .iter()
            .find(|g| g.spec.name == graph)
        else {
            return;
        };
        let keys: Vec<&str> = child
            .spec
            .state
            .keys()
            .map(String::as_str)
            .chain(BUILTIN_KEYS.iter().copied())
            .collect();
        for k in inputs.keys() {
            if !keys.contains(&k.as_str()) {
                let hint = did_you_mean(k, keys.iter().copied());
                self.report.push(Diagnostic::error(
                    "E016",
                    self.doc.file(),
                    self.doc.key_at(&format!("{p}/inputs/{}", escape(k))),
                    format!("input \"{k}\" is not a state key of graph \"{graph}\"{hint}; declare it under `state:` in {} or fix the name", child.file()),
                ));
            }
        }
    }
}

/// Tools, prompts, graphs, tiers, state keys and tool args that nodes name exist.
pub fn check_references(project: &Project, report: &mut Report) {
    let known = Known {
        project,
        tools: project.tools().map(|t| t.name).collect(),
        graphs: project
            .graphs
            .iter()
            .map(|g| g.spec.name.as_str())
            .collect(),
    };
    for doc in &project.graphs {
        let keys: Vec<&str> = doc
            .spec
            .state
            .keys()
            .map(String::as_str)
            .chain(BUILTIN_KEYS.iter().copied())
            .collect();
        let mut refs = Refs {
            known: &known,
            doc,
            report,
        };
        for (name, node) in &doc.spec.nodes {
            refs.node(name, node, &keys);
        }
    }
}
