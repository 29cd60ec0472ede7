//! One chat turn from request to stored messages, shared by the SSE and sync routes.
//!
//! `prepare` checks the request, takes the thread (chats on one thread run one at a
//! time: an in-process lock, plus an advisory lock on PostgreSQL; at most
//! `THREAD_QUEUE_MAX` wait) and loads the earlier turns within budget. `drive` runs the
//! graph, forwards each event to its consumer, cancels the run when the consumer goes
//! away or the server shuts down, and stores an answered turn before it sends
//! `stream_end` (`turn`), so a client that reads the thread on `stream_end` sees it; a
//! turn that cannot be stored ends with an `error` event and `stream_end` `ok: false`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedMutexGuard;
use tokio::sync::mpsc::UnboundedSender;

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::limits::ChatSlot;
use super::turn;
use crate::model::{Message, Role as ModelRole};
use crate::run::{Envelope, ErrorKind, Event, RunRequest};
use crate::threads::{self, AppendTo, HeldLock, MessagePage, Role, StoredMessage};

/// A checked chat holding its thread.
pub struct Chat {
    pub req: RunRequest,
    pub thread_id: String,
    /// `Existing` when the thread was there at the start: then a delete wins.
    append_to: AppendTo,
    /// Who owns the thread if this chat creates it.
    owner: String,
    accepted: Instant,
    _local: OwnedMutexGuard<()>,
    remote: Option<Box<dyn HeldLock>>,
    /// Counts toward the client's `MAX_CHATS_PER_IP` until the chat ends.
    _slot: Option<ChatSlot>,
}

/// What the request asked for, before any check.
pub struct Ask {
    pub message: String,
    pub thread_id: Option<String>,
    pub graph: Option<String>,
    /// The client's address (absent when served without a socket).
    pub peer: Option<IpAddr>,
    /// The key the request came with: owns a new thread, may continue only its own.
    pub caller: Caller,
}

/// A chat that passed every check and holds its place, not yet its thread.
pub struct Admitted {
    graph: String,
    question: String,
    pub thread_id: String,
    /// A thread id was given: taking it may wait for another chat.
    pub continuing: bool,
    caller: Caller,
    accepted: Instant,
    slot: Option<ChatSlot>,
}

impl Admitted {
    /// The `stream_start` a waiting SSE client gets at once, under `run_id`.
    pub fn stream_start(&self, run_id: Arc<str>) -> Envelope {
        Envelope {
            event: Event::StreamStart {
                query: self.question.clone(),
                thread_id: self.thread_id.clone(),
                graph: self.graph.clone(),
            },
            run_id,
            seq: 0,
            ts: turn::now_s(),
        }
    }
}

/// Checks the request and takes the thread: `admit` then `take`.
pub async fn prepare(state: &AppState, ask: Ask) -> Result<Chat, ApiError> {
    let admitted = admit(state, ask)?;
    take(state, admitted).await
}

/// Every check that needs no waiting: shutdown, message, graph, the address's chats,
/// the thread id and the thread's queue.
pub fn admit(state: &AppState, ask: Ask) -> Result<Admitted, ApiError> {
    let accepted = Instant::now();
    if state.shutdown.is_cancelled() {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry on another instance",
        ));
    }
    // The limit counts what was sent, as the documented `maxLength` does.
    let chars = ask.message.chars().count();
    let question = ask.message.trim();
    if question.is_empty() {
        return Err(ApiError::bad_request(
            "empty_message",
            "`message` must contain a question",
        ));
    }
    if chars > state.tuning.max_message_chars {
        return Err(ApiError::bad_request(
            "message_too_long",
            format!(
                "`message` has {chars} characters; the limit is {}",
                state.tuning.max_message_chars
            ),
        ));
    }
    let graph = match ask.graph.filter(|g| !g.is_empty()) {
        None => crate::config::spec::SUPERVISOR.to_string(),
        Some(g) => {
            let config = state.engine.config();
            if config.graph(&g).is_none() {
                let names: Vec<&str> = config.graphs().map(|g| g.name.as_str()).collect();
                let hint = crate::validate::diagnostic::did_you_mean(&g, names.iter().copied());
                return Err(ApiError::bad_request(
                    "unknown_graph",
                    format!("no graph named \"{g}\"{hint}; graphs: {}", names.join(", ")),
                ));
            }
            if config.step_graphs().contains(&g) {
                return Err(ApiError::bad_request(
                    "graph_needs_inputs",
                    format!(
                        "graph \"{g}\" runs only as a step of another graph, with inputs a chat cannot give; run the graph that uses it (see GET /api/graphs)"
                    ),
                ));
            }
            g
        }
    };
    let slot = match ask.peer {
        Some(ip) => Some(
            state
                .chats_per_ip
                .enter(ip, state.settings.limits.max_chats_per_ip)
                .ok_or_else(|| {
                    ApiError::too_many(
                        "too_many_chats",
                        format!(
                            "this address already has {} chats running (MAX_CHATS_PER_IP); wait for one to end",
                            state.settings.limits.max_chats_per_ip
                        ),
                        2,
                    )
                })?,
        ),
        None => None,
    };
    let given = ask.thread_id.filter(|t| !t.is_empty());
    if let Some(id) = &given
        && !threads::is_valid_id(id)
    {
        return Err(invalid_thread_id(id));
    }
    let continuing = given.is_some();
    let thread_id = given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    // Bounded queue per thread: the running chat plus THREAD_QUEUE_MAX waiting.
    let queued = state.locks.chats_on(&thread_id);
    if queued > state.settings.limits.thread_queue_max {
        return Err(ApiError::too_many(
            "thread_busy",
            format!(
                "{queued} chats are already running or waiting on this thread (THREAD_QUEUE_MAX); retry when they are done"
            ),
            5,
        ));
    }
    Ok(Admitted {
        graph,
        question: question.to_string(),
        thread_id,
        continuing,
        caller: ask.caller,
        accepted,
        slot,
    })
}

/// Waits for the thread (in-process, then across instances) and loads its history.
pub async fn take(state: &AppState, a: Admitted) -> Result<Chat, ApiError> {
    let Admitted {
        graph,
        question,
        thread_id,
        continuing,
        caller,
        accepted,
        slot,
    } = a;
    let local = state.locks.lock(&thread_id).await;
    // A new id is unknown to anyone else until stream_start, so only a continued thread
    // needs the cross-instance lock and its history.
    let (remote, history, append_to) = if continuing {
        let remote = state.threads.lock_across_instances(&thread_id).await?;
        let page = MessagePage {
            limit: Some(state.tuning.history_messages),
            before: None,
        };
        match state.threads.read(&thread_id, page).await {
            // Another user's thread is not found (its lock is released on the way out).
            Ok(Some(read)) if !caller.sees(&read.thread.owner) => {
                if let Some(r) = remote {
                    r.release().await;
                }
                return Err(ApiError::not_found(format!("no thread \"{thread_id}\"")));
            }
            Ok(Some(read)) => (
                remote,
                history_within(read.messages, state.tuning.history_chars),
                AppendTo::Existing,
            ),
            Ok(None) => match state.threads.was_deleted(&thread_id).await {
                Ok(false) => (remote, Vec::new(), AppendTo::New),
                gone_or_failed => {
                    if let Some(r) = remote {
                        r.release().await;
                    }
                    gone_or_failed?;
                    return Err(ApiError::not_found(format!(
                        "thread \"{thread_id}\" was deleted; start a new one"
                    )));
                }
            },
            Err(e) => {
                if let Some(r) = remote {
                    r.release().await;
                }
                return Err(e.into());
            }
        }
    } else {
        (None, Vec::new(), AppendTo::New)
    };
    Ok(Chat {
        req: RunRequest {
            graph,
            question,
            thread_id: Some(thread_id.clone()),
            history,
        },
        thread_id,
        append_to,
        owner: caller.name,
        accepted,
        _local: local,
        remote,
        _slot: slot,
    })
}

pub fn invalid_thread_id(id: &str) -> ApiError {
    let shown: String = id.chars().take(80).collect();
    ApiError::bad_request(
        "invalid_thread_id",
        format!(
            "thread id {shown:?} is malformed: use 1–{} characters of A-Z, a-z, 0-9, '-' and '_'",
            threads::MAX_ID_LEN
        ),
    )
}

/// The newest stored turns whose text fits in `max_chars`, oldest first.
fn history_within(stored: Vec<StoredMessage>, max_chars: usize) -> Vec<Message> {
    let mut used = 0;
    let mut kept: Vec<Message> = stored
        .into_iter()
        .rev()
        .take_while(|m| {
            used += m.content.chars().count();
            used <= max_chars
        })
        .map(|m| {
            let role = match m.role {
                Role::User => ModelRole::User,
                Role::Assistant => ModelRole::Assistant,
            };
            Message::new(role, m.content)
        })
        .collect();
    kept.reverse();
    kept
}

/// What a run's events add up to.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub run_id: String,
    pub model_used: Option<String>,
    pub task_type: Option<String>,
    pub response: Option<String>,
    /// (kind, message) of the run's error event.
    pub error: Option<(String, String)>,
    pub elapsed_s: f64,
    pub ended: bool,
    /// Tools were called and none of them worked: the answer says so.
    pub unanswered: bool,
}

impl Summary {
    pub fn observe(&mut self, env: &Envelope) {
        if self.run_id.is_empty() {
            self.run_id = env.run_id.to_string();
        }
        match &env.event {
            Event::ModelSelection {
                model, task_type, ..
            } => {
                self.model_used = Some(model.clone());
                self.task_type = Some(task_type.clone());
            }
            Event::Response { content } => self.response = Some(content.clone()),
            Event::Error { kind, message } => self.error = Some((kind.clone(), message.clone())),
            Event::StreamEnd { elapsed_s, .. } => {
                self.elapsed_s = *elapsed_s;
                self.ended = true;
            }
            _ => {}
        }
    }

    fn outcome(&self) -> &'static str {
        match (&self.response, &self.error) {
            (Some(_), None) if self.unanswered => "unanswered",
            (Some(_), None) => "ok",
            (_, Some((kind, _))) if kind == ErrorKind::Cancelled.as_str() => "cancelled",
            _ => "error",
        }
    }
}

/// Runs the chat to its end, forwarding events to `tx`; see the module doc.
/// `early`: the run id of a `stream_start` already sent while the chat waited for its
/// thread; the run's own `stream_start` is then left out and its events carry that id.
pub async fn drive(
    state: AppState,
    chat: Chat,
    tx: UnboundedSender<Envelope>,
    early: Option<Arc<str>>,
) {
    let Chat {
        req,
        thread_id,
        append_to,
        owner,
        accepted,
        _local,
        remote,
        _slot,
    } = chat;
    let question = req.question.clone();
    state.metrics.run_started();
    let mut run = state.engine.start(req);
    let mut summary = Summary::default();
    let mut tools = turn::ToolTally::default();
    // Held back until the turn is stored.
    let mut end: Option<Envelope> = None;
    let mut cancelled = false;
    loop {
        tokio::select! {
            ev = run.events.recv() => {
                let Some(mut ev) = ev else { break };
                if let Some(id) = &early {
                    if matches!(ev.event, Event::StreamStart { .. }) {
                        continue;
                    }
                    ev.run_id = id.clone();
                }
                super::redact::event(&state.redactor, &mut ev.event);
                if summary.run_id.is_empty() {
                    state.metrics.first_event(accepted);
                }
                tools.observe(&mut ev.event);
                summary.observe(&ev);
                observe_metrics(&state, &ev);
                if matches!(ev.event, Event::StreamEnd { .. }) {
                    end = Some(ev);
                    continue;
                }
                if tx.send(ev).is_err() && !cancelled {
                    run.cancel.cancel();
                    cancelled = true;
                }
            }
            _ = tx.closed(), if !cancelled => {
                tracing::info!(run_id = %run.run_id, "client went away; cancelling the run");
                run.cancel.cancel();
                cancelled = true;
            }
            _ = state.shutdown.cancelled(), if !cancelled => {
                run.cancel.cancel();
                cancelled = true;
            }
        }
    }
    summary.unanswered = tools.unanswered();
    // Only an answered turn is stored: a failed or cancelled run leaves no orphan question.
    let stored = match &summary.response {
        Some(_) if summary.error.is_none() => {
            turn::store(&state, &thread_id, &owner, append_to, &question, &summary).await
        }
        _ => Ok(()),
    };
    if let Some(r) = remote {
        r.release().await;
    }
    if let Err((kind, message)) = stored {
        let failed = Envelope {
            event: Event::Error {
                kind: kind.to_string(),
                message: message.to_string(),
            },
            run_id: early.clone().unwrap_or_else(|| run.run_id.clone()),
            seq: end.as_ref().map_or(0, |e| e.seq),
            ts: turn::now_s(),
        };
        state.metrics.error("run", kind);
        summary.observe(&failed);
        let _ = tx.send(failed);
        if let Some(e) = end.as_mut() {
            e.seq += 1;
        }
    }
    if let Some(e) = end.as_mut()
        && let Event::StreamEnd { ok, .. } = &mut e.event
    {
        *ok = *ok && summary.error.is_none() && !summary.unanswered;
    }
    state
        .metrics
        .run_finished(summary.outcome(), accepted.elapsed().as_secs_f64());
    if let Some(e) = end {
        let _ = tx.send(e);
    }
    // `tx` drops here: the stream closes.
}

fn observe_metrics(state: &AppState, env: &Envelope) {
    match &env.event {
        Event::ToolEnd { tool, ok, .. } => state.metrics.tool_call(tool, *ok),
        Event::Error { kind, .. } => state.metrics.error("run", kind),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(id: i64, role: Role, content: &str) -> StoredMessage {
        StoredMessage {
            id,
            role,
            content: content.into(),
            created_at: Default::default(),
            meta: json!({}),
        }
    }

    #[test]
    fn history_keeps_the_newest_turns_within_budget() {
        let msgs = vec![
            stored(1, Role::User, "aaaa"),
            stored(2, Role::Assistant, "bbbb"),
            stored(3, Role::User, "cc"),
            stored(4, Role::Assistant, "dd"),
        ];
        let h = history_within(msgs, 9);
        let got: Vec<(ModelRole, &str)> = h.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            got,
            [
                (ModelRole::Assistant, "bbbb"),
                (ModelRole::User, "cc"),
                (ModelRole::Assistant, "dd")
            ]
        );
    }
}
