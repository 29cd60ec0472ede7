//! Running graphs: the `Engine` owns the current compiled set, the model and the tool
//! runner, starts runs and hands back their event stream.
//!
//! The executor, in pieces: `exec` (one run: what its nodes share, from `stream_start`
//! to `stream_end`), `walk` (the run loop, the node policy, child graphs), `nodes`,
//! `route` and `agent` (the node kinds), `calls` (tool calls), `answer` (an agent's
//! answer from its tool results), `state`, `error` and `event`.

mod agent;
mod answer;
mod calls;
mod error;
pub mod event;
mod exec;
mod nodes;
mod route;
mod state;
mod walk;

use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::compile::CompiledSet;
use crate::model::{Message, Model};
use crate::tools::ToolRunner;
pub use error::{ErrorKind, NodeSite, RunError};
pub use event::{Envelope, Event, RouteMethod};
pub use walk::MAX_NESTING;

/// One question to run.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Graph to run; the supervisor by default.
    pub graph: String,
    pub question: String,
    pub thread_id: Option<String>,
    /// Earlier turns of the thread, oldest first, already trimmed to budget.
    pub history: Vec<Message>,
}

/// A started run: its events arrive on `events`; dropping the receiver cancels it.
pub struct Run {
    pub run_id: Arc<str>,
    pub events: mpsc::UnboundedReceiver<Envelope>,
    pub cancel: CancellationToken,
}

pub struct Engine {
    config: RwLock<Arc<CompiledSet>>,
    /// The set the last swap replaced, and when (what changed at the last reload).
    previous: RwLock<Option<(Arc<CompiledSet>, std::time::SystemTime)>>,
    model: Arc<dyn Model>,
    tools: Arc<dyn ToolRunner>,
}

impl Engine {
    pub fn new(config: CompiledSet, model: Arc<dyn Model>, tools: Arc<dyn ToolRunner>) -> Self {
        Engine {
            config: RwLock::new(Arc::new(config)),
            previous: RwLock::new(None),
            model,
            tools,
        }
    }

    /// The compiled set new runs start with.
    pub fn config(&self) -> Arc<CompiledSet> {
        self.config.read().expect("config lock").clone()
    }

    /// Replaces the compiled set for new runs; runs in flight keep theirs. Returns the old one.
    pub fn swap(&self, new: CompiledSet) -> Arc<CompiledSet> {
        let old = std::mem::replace(
            &mut *self.config.write().expect("config lock"),
            Arc::new(new),
        );
        *self.previous.write().expect("config lock") =
            Some((old.clone(), std::time::SystemTime::now()));
        old
    }

    /// The set the last swap replaced and when it was swapped; None before any reload.
    pub fn previous(&self) -> Option<(Arc<CompiledSet>, std::time::SystemTime)> {
        self.previous.read().expect("config lock").clone()
    }

    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// The runner tool calls go through (`POST /api/tools/{name}` calls it directly).
    pub fn tools(&self) -> &Arc<dyn ToolRunner> {
        &self.tools
    }

    /// Starts a run on the tokio runtime and returns its event stream at once.
    pub fn start(&self, req: RunRequest) -> Run {
        let (exec, run) = self.prepare();
        tokio::spawn(exec.run(req));
        run
    }

    /// Runs to the end and collects every event (CLI, tests). Nobody reads the events
    /// before the end, so the executor runs on the caller's task: no task to spawn and no
    /// wake-up per event. Dropping the future stops the run.
    pub async fn run_collect(&self, req: RunRequest) -> Vec<Envelope> {
        let (exec, mut run) = self.prepare();
        exec.run(req).await;
        let mut out = Vec::with_capacity(run.events.len());
        while let Ok(ev) = run.events.try_recv() {
            out.push(ev);
        }
        out
    }

    /// An executor for one run and the run's handle (its events and cancellation).
    fn prepare(&self) -> (exec::Exec, Run) {
        let run_id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let exec = exec::Exec::new(
            self.config(),
            self.model.clone(),
            self.tools.clone(),
            tx,
            run_id.clone(),
            cancel.clone(),
        );
        let run = Run {
            run_id,
            events: rx,
            cancel,
        };
        (exec, run)
    }
}

/// The final answer of a collected run, if it produced one.
pub fn answer_of(events: &[Envelope]) -> Option<&str> {
    events.iter().rev().find_map(|e| match &e.event {
        Event::Response { content } => Some(content.as_str()),
        _ => None,
    })
}
