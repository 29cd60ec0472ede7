//! The executor of one run: what every node shares (the compiled set, the model, the
//! tool runner, the event channel, cancellation, token usage) and the run from
//! `stream_start` to `stream_end`. The walk through a graph is in `walk`, the node kinds
//! in `nodes`, `route` and `agent`, tool calls in `calls`.
//!
//! Every event goes through `emit`, which numbers it under the same lock as the send, so
//! `seq` is strictly increasing even when a map node runs items concurrently.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::RunRequest;
use super::error::{ErrorKind, RunError};
use super::event::{Envelope, Event};
use super::nodes::Here;
use super::state::{State, text_of};
use crate::compile::CompiledSet;
use crate::config::spec::SUPERVISOR;
use crate::model::{ChatRequest, Model, Usage};
use crate::tools::ToolRunner;
use crate::understand::{Understanding, Vocabulary};

struct Out {
    seq: u64,
    tx: UnboundedSender<Envelope>,
}

pub(super) struct Exec {
    pub(super) set: Arc<CompiledSet>,
    pub(super) model: Arc<dyn Model>,
    pub(super) tools: Arc<dyn ToolRunner>,
    out: Mutex<Out>,
    watch: UnboundedSender<Envelope>,
    run_id: Arc<str>,
    cancel: CancellationToken,
    started: Instant,
    usage: Mutex<Usage>,
    pub(super) steps: AtomicUsize,
    pub(super) vocabulary: Arc<Vocabulary>,
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

    /// Runs the requested graph (the supervisor by default) and reports how it ended.
    pub(super) async fn run(self, req: RunRequest) {
        let graph = if req.graph.is_empty() {
            SUPERVISOR.to_string()
        } else {
            req.graph.clone()
        };
        let thread_id = req.thread_id.clone().unwrap_or_default();
        self.emit(Event::StreamStart {
            query: req.question.clone(),
            thread_id: thread_id.clone(),
            graph: graph.clone(),
        });
        let mut state = State::entry(&graph, &req.question, &thread_id, &req.history);
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
                    kind: e.kind().as_str().into(),
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

    /// The state's question read against the organisation's names and the thread.
    pub(super) fn understanding(&self, state: &State) -> Arc<Understanding> {
        let q = state.question();
        let mut slot = self.understood.lock().expect("understanding lock");
        if let Some(u) = slot.as_ref().filter(|u| u.question == q) {
            return u.clone();
        }
        let u = Arc::new(Understanding::read(
            q,
            &state.turns(),
            self.set.lexicon(),
            &self.vocabulary,
        ));
        *slot = Some(u.clone());
        u
    }

    pub(super) fn emit(&self, event: Event) {
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
    pub(super) fn live(&self) -> Result<(), RunError> {
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
    pub(super) async fn guarded<T>(
        &self,
        fut: impl Future<Output = Result<T, RunError>>,
    ) -> Result<T, RunError> {
        tokio::select! {
            r = fut => r,
            _ = self.cancel.cancelled() => Err(RunError::Cancelled),
            _ = self.watch.closed() => { self.cancel.cancel(); Err(RunError::Cancelled) }
        }
    }

    /// One model call of the node `here`, its tokens and fallbacks streamed as events
    /// and its usage counted.
    pub(super) async fn chat(
        &self,
        here: Here<'_>,
        req: ChatRequest<'_>,
    ) -> Result<crate::model::Turn, RunError> {
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
            .map_err(|e| here.failed(ErrorKind::Model, e))?;
        *self.usage.lock().expect("usage lock") += turn.usage;
        Ok(turn)
    }

    /// Renders the compiled template `name`.
    pub(super) fn render(
        &self,
        name: &str,
        ctx: &minijinja::Value,
    ) -> Result<String, minijinja::Error> {
        self.set.templates().get_template(name)?.render(ctx)
    }
}
