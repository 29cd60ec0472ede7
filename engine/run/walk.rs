//! The run loop: walks a compiled graph from its start to END over the run's state, one
//! node at a time, and runs child graphs (subgraph and map nodes, pipeline tools) the
//! same way, at most `MAX_NESTING` deep.
//!
//! Every node runs under the same policy: a cancellation check, the node's timeout, and
//! retries with exponential backoff and jitter for retryable failures. A graph that
//! keeps looping stops at its `max_steps`, naming the nodes of the loop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use petgraph::graph::NodeIndex;
use serde_json::Value;

use super::error::{ErrorKind, NodeSite, RunError};
use super::event::Event;
use super::exec::Exec;
use super::nodes::{Here, Step};
use super::state::{State, typed};
use crate::compile::CompiledGraph;
use crate::resilience::jitter;

/// How deep graphs may nest, the run's entry graph included. Validation refuses graphs
/// that run themselves (E050, E051); this stops whatever it cannot see.
pub const MAX_NESTING: usize = 8;

impl Exec {
    /// Runs `g` from its start to END, writing each node's output to `state`.
    pub(super) fn run_graph<'a>(
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
                let here = Here {
                    g: &g,
                    node,
                    state: &*state,
                };
                let step = self.step_with_policy(here).await;
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

    /// Runs `g` as a child of the run in `parent` — a subgraph, an item of a map, a
    /// pipeline tool. The question and conversation carry over, `inputs` set state keys
    /// of the child, and the child's `answer` comes back.
    pub(super) async fn run_child(
        &self,
        g: &Arc<CompiledGraph>,
        parent: &State,
        inputs: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<Option<Value>, RunError> {
        if parent.graphs.len() >= MAX_NESTING {
            let mut path = parent.graphs.clone();
            path.push(g.name.clone());
            return Err(RunError::NestingLimit {
                limit: MAX_NESTING,
                path: path.join(" → "),
            });
        }
        let mut child = parent.child(&g.name);
        child.vars.extend(inputs);
        self.run_graph(g.clone(), &mut child).await?;
        Ok(child.vars.remove("answer"))
    }

    /// The first outgoing edge whose condition holds.
    fn follow(
        &self,
        g: &CompiledGraph,
        cur: NodeIndex,
        state: &State,
    ) -> Result<NodeIndex, RunError> {
        let at = || NodeSite::of(g, &g.graph[cur]);
        // Built on the first condition only: most edges have none.
        let mut ctx = None;
        for (when, to) in &g.outgoing[cur.index()] {
            let taken = match when {
                None => true,
                Some(t) => {
                    self.render(t, ctx.get_or_insert_with(|| state.ctx()))
                        .map_err(|e| RunError::node(at(), ErrorKind::Condition, e))?
                        == "1"
                }
            };
            if taken {
                return Ok(*to);
            }
        }
        Err(RunError::NoEdge { at: at() })
    }

    /// The node under the policy: cancellation, timeout, retries with backoff.
    async fn step_with_policy(&self, here: Here<'_>) -> Result<Step, RunError> {
        let node = here.node;
        let attempts = node.retry.map(|r| r.attempts.max(1)).unwrap_or(1);
        let mut attempt = 1;
        loop {
            self.live()?;
            let fut = self.step(here);
            let result = match node.timeout {
                Some(t) => {
                    self.guarded(async {
                        tokio::time::timeout(t, fut)
                            .await
                            .unwrap_or(Err(RunError::Timeout {
                                at: here.site(),
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
                        base * 2f64.powi(attempt as i32 - 1) * jitter(0.5) / 1000.0,
                    ))
                    .await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
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

/// Milliseconds since `t0`.
pub(super) fn ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1000.0
}
