//! Node kinds: what each kind of node does with the state, one function per kind. The
//! router is in `route`, the agent in `agent`; the rest are here.

use futures::StreamExt;
use petgraph::graph::NodeIndex;
use serde_json::Value;

use super::error::{ErrorKind, NodeSite, RunError};
use super::event::Event;
use super::exec::Exec;
use super::state::{State, jv};
use crate::compile::{Class, CompiledGraph, Kind, MapTarget, Node, ToolDef};
use crate::error::Failure;
use crate::model::{ChatRequest, Message, Purpose, Reply, Role, Tier};

/// The node being run: its graph, the node and the run's state.
#[derive(Clone, Copy)]
pub(super) struct Here<'a> {
    pub(super) g: &'a CompiledGraph,
    pub(super) node: &'a Node,
    pub(super) state: &'a State,
}

impl Here<'_> {
    pub(super) fn site(&self) -> NodeSite {
        NodeSite::of(self.g, self.node)
    }

    /// The node failed of `kind`; another try would not change it.
    pub(super) fn fail(&self, kind: ErrorKind, e: impl std::fmt::Display) -> RunError {
        RunError::node(self.site(), kind, e)
    }

    /// A call of the node (tool, model) failed.
    pub(super) fn failed(&self, kind: ErrorKind, f: Failure) -> RunError {
        RunError::call(self.site(), kind, f)
    }
}

/// What a node produced: its output value, other keys it sets, and a chosen next node.
#[derive(Default)]
pub(super) struct Step {
    pub(super) output: Option<Value>,
    pub(super) sets: Vec<(&'static str, Value)>,
    pub(super) next: Option<NodeIndex>,
}

impl Step {
    /// A step that writes `v` to the node's output and follows the edges.
    pub(super) fn output(v: impl Into<Value>) -> Step {
        Step {
            output: Some(v.into()),
            ..Default::default()
        }
    }
}

impl Exec {
    /// Runs the node `here` once.
    pub(super) async fn step(&self, here: Here<'_>) -> Result<Step, RunError> {
        match &here.node.kind {
            Kind::End => Ok(Step::default()),
            Kind::Classify { rules, default } => Ok(self.classify(here, rules, default)),
            Kind::Router {
                routes,
                default,
                prompt,
                tier,
            } => {
                self.router(here, routes, *default, prompt.as_deref(), *tier)
                    .await
            }
            Kind::Agent {
                prompt,
                tools,
                answer,
                tier,
                max_turns,
            } => {
                self.agent(here, prompt, tools, answer, *tier, *max_turns)
                    .await
            }
            Kind::Llm { prompt, json, tier } => self.llm(here, prompt, *json, *tier).await,
            Kind::Tool { tool, args } => {
                let args = self.render_args(here, tool, args, &here.state.ctx())?;
                let v = self
                    .call_tool(tool, args, here.state)
                    .await
                    .map_err(|e| here.failed(ErrorKind::Tool, e))?;
                Ok(Step::output(v))
            }
            Kind::Subgraph { graph, inputs } => {
                let ctx = here.state.ctx();
                let inputs = inputs
                    .iter()
                    .map(|(k, t)| Ok((k.clone(), Value::String(self.render_at(here, t, &ctx)?))))
                    .collect::<Result<Vec<_>, RunError>>()?;
                let answer = self.run_child(graph, here.state, inputs).await?;
                Ok(Step {
                    output: answer,
                    ..Default::default()
                })
            }
            Kind::Map {
                over,
                item,
                target,
                args,
                concurrency,
            } => self.map(here, over, item, target, args, *concurrency).await,
            Kind::Template { template } => {
                let text = self.render_at(here, template, &here.state.ctx())?;
                Ok(Step::output(text))
            }
        }
    }

    /// The first rule that matches the question decides the task type and model tier.
    fn classify(
        &self,
        here: Here<'_>,
        rules: &[(crate::compile::Pattern, Class)],
        default: &Class,
    ) -> Step {
        let class = rules
            .iter()
            .find(|(re, _)| re.is_match(here.state.question()))
            .map(|(_, c)| c)
            .unwrap_or(default);
        self.emit(Event::ModelSelection {
            model: self.model.model_name(class.tier),
            emoji: class.emoji.clone(),
            task_type: class.task_type.clone(),
            tier: class.tier.to_string(),
        });
        Step {
            output: Some(class.task_type.clone().into()),
            sets: vec![("model_tier", class.tier.as_str().into())],
            next: None,
        }
    }

    /// The model completes the rendered prompt (parsed as JSON with `json`).
    async fn llm(
        &self,
        here: Here<'_>,
        prompt: &str,
        json: bool,
        tier: Option<Tier>,
    ) -> Result<Step, RunError> {
        let state = here.state;
        let system = self.render_at(here, prompt, &state.ctx())?;
        let messages = [
            Message::new(Role::System, system),
            Message::new(Role::User, state.question()),
        ];
        let req = ChatRequest {
            tier: state.tier(tier, Tier::Primary),
            question: state.question(),
            messages: &messages,
            tools: &[],
            json,
            purpose: Purpose::Complete,
            understanding: None,
        };
        let text = match self.chat(here, req).await?.reply {
            Reply::Text(t) => t,
            Reply::ToolCalls(_) => String::new(),
        };
        let value = if json {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        } else {
            Value::String(text)
        };
        Ok(Step::output(value))
    }

    /// Runs the target once per item of `over`, `concurrency` at a time; the results in
    /// the items' order.
    async fn map(
        &self,
        here: Here<'_>,
        over: &str,
        item: &str,
        target: &MapTarget,
        args: &[(String, String)],
        concurrency: usize,
    ) -> Result<Step, RunError> {
        let items = self
            .set
            .templates()
            .compile_expression(over)
            .and_then(|x| x.eval(here.state.ctx()))
            .map_err(|e| here.fail(ErrorKind::Template, e))?;
        let items: Vec<Value> = match serde_json::to_value(&items) {
            Ok(Value::Array(a)) => a,
            Ok(Value::Null) => vec![],
            _ => {
                return Err(here.fail(
                    ErrorKind::Template,
                    format!("`over` gave {items}, not a list"),
                ));
            }
        };
        let results: Vec<Result<Value, RunError>> = futures::stream::iter(items)
            .map(|it| self.map_item(here, item, it, target, args))
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let values = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(Step::output(Value::Array(values)))
    }

    /// One item of a map: the graph's answer, or the tool's result.
    async fn map_item(
        &self,
        here: Here<'_>,
        name: &str,
        item: Value,
        target: &MapTarget,
        args: &[(String, String)],
    ) -> Result<Value, RunError> {
        self.live()?;
        match target {
            MapTarget::Graph(g) => {
                let answer = self
                    .run_child(g, here.state, [(name.to_string(), item)])
                    .await?;
                Ok(answer.unwrap_or(Value::Null))
            }
            MapTarget::Tool(tool) => {
                let mut vars = here.state.vars.clone();
                vars.insert(name.to_string(), item);
                let args = self.render_args(here, tool, args, &jv(&vars))?;
                self.call_tool(tool, args, here.state)
                    .await
                    .map_err(|e| here.failed(ErrorKind::Tool, e))
            }
        }
    }

    /// Renders the compiled template `name` for the node `here`; failing is the node's
    /// template error.
    pub(super) fn render_at(
        &self,
        here: Here<'_>,
        name: &str,
        ctx: &minijinja::Value,
    ) -> Result<String, RunError> {
        self.render(name, ctx)
            .map_err(|e| here.fail(ErrorKind::Template, e))
    }

    /// A node's args for `tool`, each template rendered and typed as the tool's schema says.
    pub(super) fn render_args(
        &self,
        here: Here<'_>,
        tool: &ToolDef,
        args: &[(String, String)],
        ctx: &minijinja::Value,
    ) -> Result<Value, RunError> {
        let mut out = serde_json::Map::new();
        for (k, t) in args {
            let text = self.render_at(here, t, ctx)?;
            out.insert(k.clone(), tool.coerce(k, &text));
        }
        Ok(Value::Object(out))
    }
}
