//! The executor: walks a compiled graph over the run's state and emits events.
//!
//! Every node runs under the same policy — cancellation check, per-node timeout,
//! retries with exponential backoff and jitter for retryable failures — and every
//! event goes through `emit`, which numbers it, so `seq` is strictly increasing even
//! when a map node runs items concurrently.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use petgraph::graph::NodeIndex;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::RunRequest;
use super::event::{Envelope, Event, RouteMethod};
use crate::compile::{CompiledGraph, CompiledSet, Kind, MapTarget, Node, ToolDef};
use crate::config::spec::StateType;
use crate::model::{ChatRequest, Message, Model, Purpose, Reply, Role, Usage};
use crate::tools::{ToolError, ToolRunner};
use crate::understand::{Turn, Understanding, Vocabulary};

/// Why a run (or a node) stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("the run was cancelled")]
    Cancelled,
    #[error("unknown graph \"{0}\"")]
    UnknownGraph(String),
    #[error(
        "step limit of {limit} reached in graph \"{graph}\": the run kept looping through {nodes}; add a condition that leaves the loop or raise max_steps"
    )]
    StepLimit {
        graph: String,
        limit: usize,
        nodes: String,
    },
    #[error("node \"{node}\" timed out after {ms} ms")]
    Timeout { node: String, ms: u128 },
    #[error(
        "no edge out of node \"{node}\" matched the state; add an unconditional edge as the last one"
    )]
    NoEdge { node: String },
    #[error("node \"{node}\" failed: {message}")]
    Node {
        node: String,
        message: String,
        retryable: bool,
        kind: &'static str,
    },
}

impl RunError {
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Cancelled => "cancelled",
            RunError::UnknownGraph(_) => "unknown_graph",
            RunError::StepLimit { .. } => "step_limit",
            RunError::Timeout { .. } => "timeout",
            RunError::NoEdge { .. } => "no_edge",
            RunError::Node { kind, .. } => kind,
        }
    }
    fn retryable(&self) -> bool {
        matches!(
            self,
            RunError::Timeout { .. }
                | RunError::Node {
                    retryable: true,
                    ..
                }
        )
    }
}

/// The thread's earlier exchanges, oldest first, from the state's history.
fn turns(state: &State) -> Vec<Turn> {
    let history: Vec<Message> = state
        .vars
        .get("history")
        .and_then(|h| serde_json::from_value(h.clone()).ok())
        .unwrap_or_default();
    let mut out: Vec<Turn> = Vec::new();
    for m in history {
        match m.role {
            Role::User => out.push(Turn {
                question: m.content,
                answer: String::new(),
            }),
            Role::Assistant if !m.content.is_empty() => {
                if let Some(t) = out.last_mut() {
                    t.answer = m.content;
                }
            }
            _ => {}
        }
    }
    out
}

/// Named state keys of one graph run (question, history and thread_id included).
#[derive(Debug, Clone, Default)]
struct State {
    vars: Map<String, Value>,
}

impl State {
    fn question(&self) -> &str {
        self.vars
            .get("question")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    fn str(&self, key: &str) -> Option<&str> {
        self.vars.get(key).and_then(Value::as_str)
    }
    fn ctx(&self) -> minijinja::Value {
        jv(&self.vars)
    }
    /// A child run's state: the question and conversation carry over.
    fn child(&self) -> State {
        let mut vars = Map::new();
        for k in [
            "question",
            "history",
            "thread_id",
            "task_type",
            "model_tier",
        ] {
            if let Some(v) = self.vars.get(k) {
                vars.insert(k.into(), v.clone());
            }
        }
        State { vars }
    }
}

/// What a node produced: its output value, other keys it sets, and a chosen next node.
#[derive(Default)]
struct Step {
    output: Option<Value>,
    sets: Vec<(&'static str, Value)>,
    next: Option<NodeIndex>,
}

struct Out {
    seq: u64,
    tx: UnboundedSender<Envelope>,
}

pub(super) struct Exec {
    set: Arc<CompiledSet>,
    model: Arc<dyn Model>,
    tools: Arc<dyn ToolRunner>,
    out: Mutex<Out>,
    watch: UnboundedSender<Envelope>,
    run_id: Arc<str>,
    cancel: CancellationToken,
    started: Instant,
    usage: Mutex<Usage>,
    steps: AtomicUsize,
    vocabulary: Arc<Vocabulary>,
    /// The last question read, so the router and the agent read it once.
    understood: Mutex<Option<Arc<Understanding>>>,
}

impl Exec {
    pub(super) fn new(
        set: Arc<CompiledSet>,
        model: Arc<dyn Model>,
        tools: Arc<dyn ToolRunner>,
        tx: UnboundedSender<Envelope>,
        run_id: Arc<str>,
        cancel: CancellationToken,
    ) -> Self {
        Exec {
            set,
            model,
            watch: tx.clone(),
            out: Mutex::new(Out { seq: 0, tx }),
            run_id,
            cancel,
            started: Instant::now(),
            usage: Mutex::new(Usage::default()),
            steps: AtomicUsize::new(0),
            vocabulary: tools.vocabulary(),
            understood: Mutex::new(None),
            tools,
        }
    }

    /// The state's question read against the organisation's names and the thread.
    fn understanding(&self, state: &State) -> Arc<Understanding> {
        let q = state.question();
        let mut slot = self.understood.lock().expect("understanding lock");
        if let Some(u) = slot.as_ref().filter(|u| u.question == q) {
            return u.clone();
        }
        let u = Arc::new(Understanding::read(
            q,
            &turns(state),
            self.set.lexicon(),
            &self.vocabulary,
        ));
        *slot = Some(u.clone());
        u
    }

    fn emit(&self, event: Event) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let mut out = self.out.lock().expect("event lock");
        let env = Envelope {
            event,
            run_id: self.run_id.clone(),
            seq: out.seq,
            ts,
        };
        out.seq += 1;
        if out.tx.send(env).is_err() {
            self.cancel.cancel();
        }
    }

    /// Err(Cancelled) once the consumer is gone or the run was cancelled.
    fn live(&self) -> Result<(), RunError> {
        if self.watch.is_closed() {
            self.cancel.cancel();
        }
        if self.cancel.is_cancelled() {
            Err(RunError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Awaits `fut` unless the run is cancelled or the consumer goes away first.
    async fn guarded<T>(
        &self,
        fut: impl Future<Output = Result<T, RunError>>,
    ) -> Result<T, RunError> {
        tokio::select! {
            r = fut => r,
            _ = self.cancel.cancelled() => Err(RunError::Cancelled),
            _ = self.watch.closed() => { self.cancel.cancel(); Err(RunError::Cancelled) }
        }
    }

    pub(super) async fn run(self, req: RunRequest) {
        let graph = if req.graph.is_empty() {
            "supervisor".to_string()
        } else {
            req.graph.clone()
        };
        self.emit(Event::StreamStart {
            query: req.question.clone(),
            thread_id: req.thread_id.clone().unwrap_or_default(),
            graph: graph.clone(),
        });
        let mut state = State::default();
        state
            .vars
            .insert("question".into(), req.question.clone().into());
        state.vars.insert(
            "thread_id".into(),
            req.thread_id.clone().unwrap_or_default().into(),
        );
        state.vars.insert(
            "history".into(),
            serde_json::to_value(&req.history).unwrap_or_default(),
        );
        let result = match self.set.graph(&graph).cloned() {
            Some(g) => self.run_graph(g, &mut state).await,
            None => Err(RunError::UnknownGraph(graph)),
        };
        let ok = match result {
            Ok(()) => {
                self.emit(Event::Response {
                    content: text_of(state.vars.get("answer")),
                });
                true
            }
            Err(e) => {
                self.emit(Event::Error {
                    kind: e.kind().into(),
                    message: e.to_string(),
                });
                false
            }
        };
        let usage = *self.usage.lock().expect("usage lock");
        self.emit(Event::StreamEnd {
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            steps: self.steps.load(Ordering::Relaxed),
            ok,
        });
    }

    fn run_graph<'a>(
        &'a self,
        g: Arc<CompiledGraph>,
        state: &'a mut State,
    ) -> BoxFuture<'a, Result<(), RunError>> {
        async move {
            let mut cur = g.start;
            let mut trail: Vec<NodeIndex> = Vec::new();
            while cur != g.end {
                if trail.len() >= g.max_steps {
                    return Err(step_limit(&g, &trail));
                }
                trail.push(cur);
                self.steps.fetch_add(1, Ordering::Relaxed);
                self.live()?;
                let node = &g.graph[cur];
                self.emit(Event::NodeStart {
                    graph: g.name.clone(),
                    node: node.name.clone(),
                    kind: node.kind.name(),
                });
                let t0 = Instant::now();
                let step = self.step_with_policy(&g, node, state).await;
                self.emit(Event::NodeEnd {
                    graph: g.name.clone(),
                    node: node.name.clone(),
                    ok: step.is_ok(),
                    elapsed_ms: ms(t0),
                });
                let step = step?;
                for (k, v) in step.sets {
                    state.vars.insert(k.into(), v);
                }
                if let Some(v) = step.output {
                    let v = match g.state.get(&node.output) {
                        Some(ty) => typed(*ty, v),
                        None => v,
                    };
                    state.vars.insert(node.output.clone(), v);
                }
                cur = match step.next {
                    Some(n) => n,
                    None => self.follow(&g, cur, state)?,
                };
            }
            Ok(())
        }
        .boxed()
    }

    /// The first outgoing edge whose condition holds.
    fn follow(
        &self,
        g: &CompiledGraph,
        cur: NodeIndex,
        state: &State,
    ) -> Result<NodeIndex, RunError> {
        // Built on the first condition only: most edges have none.
        let mut ctx = None;
        for (when, to) in &g.outgoing[cur.index()] {
            let taken = match when {
                None => true,
                Some(t) => {
                    self.render(t, ctx.get_or_insert_with(|| state.ctx()))
                        .map_err(|e| node_err(&g.graph[cur].name, e, "condition_error"))?
                        == "1"
                }
            };
            if taken {
                return Ok(*to);
            }
        }
        Err(RunError::NoEdge {
            node: g.graph[cur].name.clone(),
        })
    }

    async fn step_with_policy(
        &self,
        g: &CompiledGraph,
        node: &Node,
        state: &State,
    ) -> Result<Step, RunError> {
        let attempts = node.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let mut attempt = 1;
        loop {
            self.live()?;
            let fut = self.step(g, node, state);
            let result = match node.timeout {
                Some(t) => {
                    self.guarded(async {
                        tokio::time::timeout(t, fut)
                            .await
                            .unwrap_or(Err(RunError::Timeout {
                                node: node.name.clone(),
                                ms: t.as_millis(),
                            }))
                    })
                    .await
                }
                None => self.guarded(fut).await,
            };
            match result {
                Err(e) if e.retryable() && attempt < attempts => {
                    let base = node.retry.map(|r| r.backoff_ms).unwrap_or(100) as f64;
                    tokio::time::sleep(Duration::from_secs_f64(
                        base * 2f64.powi(attempt as i32 - 1) * jitter() / 1000.0,
                    ))
                    .await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn step(&self, g: &CompiledGraph, node: &Node, state: &State) -> Result<Step, RunError> {
        match &node.kind {
            Kind::End => Ok(Step::default()),
            Kind::Classify { rules, default } => {
                let class = rules
                    .iter()
                    .find(|(re, _)| re.is_match(state.question()))
                    .map(|(_, c)| c)
                    .unwrap_or(default);
                self.emit(Event::ModelSelection {
                    model: self.model.model_name(&class.tier),
                    emoji: class.emoji.clone(),
                    task_type: class.task_type.clone(),
                    tier: class.tier.clone(),
                });
                Ok(Step {
                    output: Some(class.task_type.clone().into()),
                    sets: vec![("model_tier", class.tier.clone().into())],
                    next: None,
                })
            }
            Kind::Router {
                routes,
                default,
                prompt,
                tier,
            } => {
                let q = state.question();
                // The route whose agents have the tool that reads the question best, then
                // the routes' intents, then the model.
                let u = self.understanding(state);
                let by_rule = u
                    .best(|_| true)
                    .and_then(|c| routes.iter().position(|r| r.tools.contains(&c.tool)))
                    .or_else(|| {
                        routes
                            .iter()
                            .position(|r| r.intents.iter().any(|re| re.is_match(q)))
                    });
                let (chosen, method) = match by_rule {
                    Some(i) => (i, RouteMethod::Rules),
                    None => {
                        let system = match prompt {
                            Some(p) => self.render(p, &minijinja::context! { routes => jv(route_list(routes)), ..state.ctx() }).map_err(|e| node_err(&node.name, e, "template_error"))?,
                            None => String::new(),
                        };
                        let messages = [
                            Message::new(Role::System, system),
                            Message::new(Role::User, q),
                        ];
                        let tier = tier
                            .as_deref()
                            .or(state.str("model_tier"))
                            .unwrap_or("fast");
                        let req = ChatRequest {
                            tier,
                            question: q,
                            messages: &messages,
                            tools: &[],
                            json: false,
                            purpose: Purpose::Route { routes },
                            understanding: Some(&u),
                        };
                        let turn = self.chat(&node.name, req).await?;
                        let picked = match turn.reply {
                            Reply::Text(t) => routes.iter().position(|r| {
                                !t.trim().is_empty()
                                    && t.to_lowercase().contains(&r.name.to_lowercase())
                            }),
                            Reply::ToolCalls(_) => None,
                        };
                        match picked {
                            Some(i) => (i, RouteMethod::Model),
                            None => (*default, RouteMethod::Default),
                        }
                    }
                };
                let route = &routes[chosen];
                self.emit(Event::Routing {
                    agent: route.name.clone(),
                    method,
                    graph: g.name.clone(),
                });
                Ok(Step {
                    output: Some(route.name.clone().into()),
                    sets: vec![],
                    next: Some(route.to),
                })
            }
            Kind::Agent {
                prompt,
                tools,
                answer,
                tier,
                max_turns,
            } => {
                self.agent(
                    node,
                    state,
                    prompt,
                    tools,
                    answer,
                    tier.as_deref(),
                    *max_turns,
                )
                .await
            }
            Kind::Llm { prompt, json, tier } => {
                let system = self
                    .render(prompt, &state.ctx())
                    .map_err(|e| node_err(&node.name, e, "template_error"))?;
                let messages = [
                    Message::new(Role::System, system),
                    Message::new(Role::User, state.question()),
                ];
                let tier = tier
                    .as_deref()
                    .or(state.str("model_tier"))
                    .unwrap_or("primary");
                let req = ChatRequest {
                    tier,
                    question: state.question(),
                    messages: &messages,
                    tools: &[],
                    json: *json,
                    purpose: Purpose::Complete,
                    understanding: None,
                };
                let text = match self.chat(&node.name, req).await?.reply {
                    Reply::Text(t) => t,
                    Reply::ToolCalls(_) => String::new(),
                };
                let value = if *json {
                    serde_json::from_str(&text).unwrap_or(Value::Null)
                } else {
                    Value::String(text)
                };
                Ok(Step {
                    output: Some(value),
                    ..Default::default()
                })
            }
            Kind::Tool { tool, args } => {
                let args = self.render_args(node, tool, args, &state.ctx())?;
                let v = self
                    .call_tool(tool, args, state)
                    .await
                    .map_err(|e| RunError::Node {
                        node: node.name.clone(),
                        message: e.message,
                        retryable: e.retryable,
                        kind: "tool_error",
                    })?;
                Ok(Step {
                    output: Some(v),
                    ..Default::default()
                })
            }
            Kind::Subgraph { graph, inputs } => {
                let child_g = self
                    .set
                    .graph(graph)
                    .cloned()
                    .ok_or_else(|| RunError::UnknownGraph(graph.clone()))?;
                let mut child = state.child();
                let ctx = state.ctx();
                for (k, t) in inputs {
                    child.vars.insert(
                        k.clone(),
                        Value::String(
                            self.render(t, &ctx)
                                .map_err(|e| node_err(&node.name, e, "template_error"))?,
                        ),
                    );
                }
                self.run_graph(child_g, &mut child).await?;
                Ok(Step {
                    output: child.vars.remove("answer"),
                    ..Default::default()
                })
            }
            Kind::Map {
                over,
                item,
                target,
                args,
                concurrency,
            } => {
                let env = self.set.templates();
                let items = env
                    .compile_expression(over)
                    .and_then(|x| x.eval(state.ctx()))
                    .map_err(|e| node_err(&node.name, e, "template_error"))?;
                let items: Vec<Value> = match serde_json::to_value(&items) {
                    Ok(Value::Array(a)) => a,
                    Ok(Value::Null) => vec![],
                    _ => {
                        return Err(node_err(
                            &node.name,
                            format!("`over` gave {items}, not a list"),
                            "template_error",
                        ));
                    }
                };
                let results: Vec<Result<Value, RunError>> = futures::stream::iter(items)
                    .map(|it| self.map_item(node, state, item, it, target, args))
                    .buffered((*concurrency).max(1))
                    .collect()
                    .await;
                let values = results.into_iter().collect::<Result<Vec<_>, _>>()?;
                Ok(Step {
                    output: Some(Value::Array(values)),
                    ..Default::default()
                })
            }
            Kind::Template { template } => {
                let text = self
                    .render(template, &state.ctx())
                    .map_err(|e| node_err(&node.name, e, "template_error"))?;
                Ok(Step {
                    output: Some(text.into()),
                    ..Default::default()
                })
            }
        }
    }

    async fn map_item(
        &self,
        node: &Node,
        state: &State,
        name: &str,
        item: Value,
        target: &MapTarget,
        args: &[(String, String)],
    ) -> Result<Value, RunError> {
        self.live()?;
        match target {
            MapTarget::Graph(graph) => {
                let g = self
                    .set
                    .graph(graph)
                    .cloned()
                    .ok_or_else(|| RunError::UnknownGraph(graph.clone()))?;
                let mut child = state.child();
                child.vars.insert(name.to_string(), item);
                self.run_graph(g, &mut child).await?;
                Ok(child.vars.remove("answer").unwrap_or(Value::Null))
            }
            MapTarget::Tool(tool) => {
                let mut vars = state.vars.clone();
                vars.insert(name.to_string(), item);
                let ctx = jv(&vars);
                let args = self.render_args(node, tool, args, &ctx)?;
                self.call_tool(tool, args, state)
                    .await
                    .map_err(|e| RunError::Node {
                        node: node.name.clone(),
                        message: e.message,
                        retryable: e.retryable,
                        kind: "tool_error",
                    })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn agent(
        &self,
        node: &Node,
        state: &State,
        prompt: &str,
        tools: &[Arc<ToolDef>],
        answer: &str,
        tier: Option<&str>,
        max_turns: usize,
    ) -> Result<Step, RunError> {
        let tier = tier.or(state.str("model_tier")).unwrap_or("primary");
        let u = self.understanding(state);
        let mut system = self
            .render(prompt, &state.ctx())
            .map_err(|e| node_err(&node.name, e, "template_error"))?;
        if let Some(note) = u.note() {
            system.push_str("\n\n");
            system.push_str(&note);
        }
        let mut messages = vec![Message::new(Role::System, system)];
        if let Some(h) = state
            .vars
            .get("history")
            .and_then(|h| serde_json::from_value::<Vec<Message>>(h.clone()).ok())
        {
            messages.extend(h);
        }
        messages.push(Message::new(Role::User, state.question()));
        let results: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let render_answer = || {
            let results = results.lock().expect("results lock").clone();
            let render = |template: &str, r: Option<&Value>, row: Option<&Value>| {
                let get = |k: &str| r.and_then(|r| r.get(k)).map(jv);
                let ctx = minijinja::context! {
                    results => jv(&results), result => get("result"), tool => get("tool"), args => get("args"), row => row.map(jv), ..state.ctx()
                };
                self.render(template, &ctx).map_err(|e| e.to_string())
            };
            super::answer::compose(&results, tools, answer, &u, &render)
        };
        for _ in 0..max_turns {
            self.live()?;
            let req = ChatRequest {
                tier,
                question: state.question(),
                messages: &messages,
                tools,
                json: false,
                purpose: Purpose::Agent {
                    answer: &render_answer,
                },
                understanding: Some(&u),
            };
            match self.chat(&node.name, req).await?.reply {
                Reply::Text(text) => {
                    return Ok(Step {
                        output: Some(text.into()),
                        ..Default::default()
                    });
                }
                Reply::ToolCalls(calls) => {
                    messages.push(Message {
                        role: Role::Assistant,
                        content: String::new(),
                        tool_calls: calls.clone(),
                        tool_call_id: None,
                    });
                    for call in calls {
                        self.live()?;
                        let (content, entry) = match tools.iter().find(|t| t.name == call.name) {
                            None => {
                                let msg = format!(
                                    "unknown tool \"{}\"; available: {}",
                                    call.name,
                                    tools
                                        .iter()
                                        .map(|t| t.name.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                );
                                self.emit(Event::ToolStart {
                                    tool: call.name.clone(),
                                    args: call.args.clone(),
                                });
                                self.emit(Event::ToolEnd {
                                    tool: call.name.clone(),
                                    ok: false,
                                    result_preview: msg.clone(),
                                    elapsed_ms: 0.0,
                                    error: Some(msg.clone()),
                                });
                                (
                                    msg.clone(),
                                    json!({"tool": call.name, "args": call.args, "ok": false, "error": msg}),
                                )
                            }
                            Some(tool) => {
                                match self.call_tool(tool, call.args.clone(), state).await {
                                    Ok(v) => {
                                        let v = u.keep_among(v);
                                        (
                                            v.to_string(),
                                            json!({"tool": call.name, "args": call.args, "ok": true, "result": v}),
                                        )
                                    }
                                    Err(e) => (
                                        format!("error: {}", e.message),
                                        json!({"tool": call.name, "args": call.args, "ok": false, "error": e.message}),
                                    ),
                                }
                            }
                        };
                        results.lock().expect("results lock").push(entry);
                        messages.push(Message {
                            role: Role::Tool,
                            content,
                            tool_calls: vec![],
                            tool_call_id: Some(call.id),
                        });
                    }
                }
            }
        }
        // Out of turns: answer from what the tools returned.
        Ok(Step {
            output: Some(render_answer().into()),
            ..Default::default()
        })
    }

    async fn chat(&self, node: &str, req: ChatRequest<'_>) -> Result<crate::model::Turn, RunError> {
        let sink = |t: &str| {
            self.emit(Event::Token {
                content: t.to_string(),
            })
        };
        let fallback = |n: &crate::model::fallback::FallbackNotice| {
            self.emit(Event::ModelFallback {
                from: n.from.clone(),
                to: n.to.clone(),
                reason: n.reason.clone(),
            })
        };
        let turn = self
            .model
            .chat_with_fallbacks(req, &sink, &fallback)
            .await
            .map_err(|e| RunError::Node {
                node: node.into(),
                message: e.message,
                retryable: e.retryable,
                kind: "model_error",
            })?;
        *self.usage.lock().expect("usage lock") += turn.usage;
        Ok(turn)
    }

    /// One tool call with its tool_start/tool_end events; args are checked against the
    /// schema first. A pipeline tool runs its graph, whose events come in between.
    async fn call_tool(
        &self,
        tool: &ToolDef,
        args: Value,
        state: &State,
    ) -> Result<Value, ToolError> {
        self.emit(Event::ToolStart {
            tool: tool.name.clone(),
            args: args.clone(),
        });
        let t0 = Instant::now();
        let result = match (tool.check_args(&args), &tool.pipeline) {
            (Err(msg), _) => Err(ToolError::fatal(msg)),
            (Ok(()), Some(graph)) => self.pipeline(graph, &args, state).await,
            (Ok(()), None) => self.tools.call(tool, &args).await,
        };
        let (ok, preview, error) = match &result {
            Ok(v) => (true, self.preview(tool, v, &args), None),
            Err(e) => (false, e.message.clone(), Some(e.message.clone())),
        };
        self.emit(Event::ToolEnd {
            tool: tool.name.clone(),
            ok,
            result_preview: preview,
            elapsed_ms: ms(t0),
            error,
        });
        result
    }

    /// Runs `graph` as a tool: the conversation carries over, each arg sets the state key
    /// of its name (`question` replaces the question), and the graph's answer is the result.
    async fn pipeline(&self, graph: &str, args: &Value, state: &State) -> Result<Value, ToolError> {
        let g = self
            .set
            .graph(graph)
            .cloned()
            .ok_or_else(|| ToolError::fatal(format!("unknown graph \"{graph}\"")))?;
        let mut child = state.child();
        if let Some(args) = args.as_object() {
            for (k, v) in args {
                child.vars.insert(k.clone(), v.clone());
            }
        }
        self.run_graph(g, &mut child).await.map_err(|e| ToolError {
            retryable: e.retryable(),
            message: e.to_string(),
        })?;
        Ok(child.vars.remove("answer").unwrap_or(Value::Null))
    }

    fn preview(&self, tool: &ToolDef, result: &Value, args: &Value) -> String {
        if tool.has_preview
            && let Ok(s) = self.render(
                &tool.preview_template(),
                &minijinja::context! { result => jv(result), args => jv(args) },
            )
        {
            return s;
        }
        match result {
            Value::Array(a) => format!("{} rows", a.len()),
            Value::Null => "no result".into(),
            other => {
                let s = other.to_string();
                if s.len() > 120 {
                    format!("{}…", &s[..s.floor_char_boundary(120)])
                } else {
                    s
                }
            }
        }
    }

    fn render_args(
        &self,
        node: &Node,
        tool: &ToolDef,
        args: &[(String, String)],
        ctx: &minijinja::Value,
    ) -> Result<Value, RunError> {
        let mut out = Map::new();
        for (k, t) in args {
            let text = self
                .render(t, ctx)
                .map_err(|e| node_err(&node.name, e, "template_error"))?;
            out.insert(k.clone(), tool.coerce(k, &text));
        }
        Ok(Value::Object(out))
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> Result<String, minijinja::Error> {
        self.set.templates().get_template(name)?.render(ctx)
    }
}

fn node_err(node: &str, e: impl std::fmt::Display, kind: &'static str) -> RunError {
    RunError::Node {
        node: node.into(),
        message: e.to_string(),
        retryable: false,
        kind,
    }
}

fn route_list(routes: &[crate::compile::Route]) -> Vec<Value> {
    routes
        .iter()
        .map(|r| json!({"name": r.name, "description": r.description}))
        .collect()
}

/// The nodes a run kept revisiting, in the order it first met them.
fn step_limit(g: &CompiledGraph, trail: &[NodeIndex]) -> RunError {
    let mut seen = Vec::new();
    let window = &trail[trail.len().saturating_sub(g.max_steps.min(64))..];
    for n in window {
        if window.iter().filter(|m| *m == n).count() > 1 && !seen.contains(n) {
            seen.push(*n);
        }
    }
    let mut names: Vec<&str> = seen.iter().map(|n| g.graph[*n].name.as_str()).collect();
    if let Some(first) = names.first().copied() {
        names.push(first);
    }
    RunError::StepLimit {
        graph: g.name.clone(),
        limit: g.max_steps,
        nodes: names.join(" → "),
    }
}

/// Rendered text becomes the declared type of the state key it is written to.
fn typed(ty: StateType, v: Value) -> Value {
    let Value::String(s) = &v else { return v };
    let t = s.trim();
    let parsed = match ty {
        StateType::Integer => t.parse::<i64>().ok().map(Value::from),
        StateType::Number => t.parse::<f64>().ok().map(Value::from),
        StateType::Boolean => t.parse::<bool>().ok().map(Value::from),
        StateType::List | StateType::Object => serde_json::from_str(t).ok(),
        StateType::String | StateType::Any => None,
    };
    parsed.unwrap_or(v)
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}

/// A factor in [0.5, 1.5) so that retries of many runs do not line up.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    0.5 + (nanos % 1000) as f64 / 1000.0
}

/// Any serializable value as a template value.
fn jv<T: serde::Serialize>(v: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}
