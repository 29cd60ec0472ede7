//! One chat turn from request to stored messages, shared by the SSE and sync routes.
//!
//! `prepare` checks the request, takes the thread (chats on one thread run one at a
//! time: an in-process lock, plus an advisory lock on PostgreSQL) and loads the earlier
//! turns within budget. `drive` runs the graph, forwards each event to its consumer,
//! cancels the run when the consumer goes away or the server shuts down, and stores
//! the turn before the stream closes, so a follow-up always sees it.

use std::net::IpAddr;
use std::time::Instant;

use serde_json::json;
use tokio::sync::OwnedMutexGuard;
use tokio::sync::mpsc::UnboundedSender;

use super::AppState;
use super::error::ApiError;
use super::limits::ChatSlot;
use crate::model::{Message, Role as ModelRole};
use crate::run::{Envelope, ErrorKind, Event, RunRequest};
use crate::threads::{self, HeldLock, NewMessage, Role, StoredMessage};

/// A checked chat holding its thread.
pub struct Chat {
    pub req: RunRequest,
    pub thread_id: String,
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
}

pub async fn prepare(state: &AppState, ask: Ask) -> Result<Chat, ApiError> {
    let accepted = Instant::now();
    if state.shutdown.is_cancelled() {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry on another instance",
        ));
    }
    let question = ask.message.trim();
    if question.is_empty() {
        return Err(ApiError::bad_request(
            "empty_message",
            "`message` must contain a question",
        ));
    }
    let chars = question.chars().count();
    if chars > state.tuning.max_message_chars {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
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

    let local = state.locks.lock(&thread_id).await;
    // A new id is unknown to anyone else until stream_start, so only a continued thread
    // needs the cross-instance lock and its history.
    let (remote, history) = if continuing {
        let remote = state.threads.lock_across_instances(&thread_id).await?;
        match state
            .threads
            .messages(&thread_id, Some(state.tuning.history_messages))
            .await
        {
            Ok(stored) => (remote, history_within(stored, state.tuning.history_chars)),
            Err(e) => {
                if let Some(r) = remote {
                    r.release().await;
                }
                return Err(e.into());
            }
        }
    } else {
        (None, Vec::new())
    };
    Ok(Chat {
        req: RunRequest {
            graph,
            question: question.to_string(),
            thread_id: Some(thread_id.clone()),
            history,
        },
        thread_id,
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
            (Some(_), None) => "ok",
            (_, Some((kind, _))) if kind == ErrorKind::Cancelled.as_str() => "cancelled",
            _ => "error",
        }
    }
}

/// Runs the chat to its end, forwarding events to `tx`; see the module doc.
pub async fn drive(state: AppState, chat: Chat, tx: UnboundedSender<Envelope>) {
    let Chat {
        req,
        thread_id,
        accepted,
        _local,
        remote,
        _slot,
    } = chat;
    let question = req.question.clone();
    state.metrics.run_started();
    let mut run = state.engine.start(req);
    let mut summary = Summary::default();
    let mut cancelled = false;
    loop {
        tokio::select! {
            ev = run.events.recv() => {
                let Some(mut ev) = ev else { break };
                super::redact::event(&state.redactor, &mut ev.event);
                if summary.run_id.is_empty() {
                    state.metrics.first_event(accepted);
                }
                summary.observe(&ev);
                observe_metrics(&state, &ev);
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
    state
        .metrics
        .run_finished(summary.outcome(), accepted.elapsed().as_secs_f64());
    store_turn(&state, &thread_id, &question, &summary).await;
    if let Some(r) = remote {
        r.release().await;
    }
    // `tx` drops here: the stream closes only after the turn is stored.
}

fn observe_metrics(state: &AppState, env: &Envelope) {
    match &env.event {
        Event::ToolEnd { tool, ok, .. } => state.metrics.tool_call(tool, *ok),
        Event::Error { kind, .. } => state.metrics.error("run", kind),
        _ => {}
    }
}

/// Stores the question, and the answer when there is one; a failure is logged (the
/// client already has its answer).
async fn store_turn(state: &AppState, thread_id: &str, question: &str, s: &Summary) {
    let mut messages = vec![NewMessage {
        role: Role::User,
        content: question.to_string(),
        meta: json!({}),
    }];
    if let Some(answer) = &s.response {
        messages.push(NewMessage {
            role: Role::Assistant,
            content: answer.clone(),
            meta: json!({
                "run_id": s.run_id,
                "model_used": s.model_used,
                "task_type": s.task_type,
                "elapsed_s": s.elapsed_s,
            }),
        });
    }
    if let Err(e) = state
        .threads
        .append(thread_id, &title_of(question), &messages)
        .await
    {
        state.metrics.error("store", "append_failed");
        tracing::error!(thread_id, error = %state.redact(&e.to_string()), "storing the turn failed");
    }
}

/// A new thread's title: the question's first line, at most 80 characters.
fn title_of(question: &str) -> String {
    let line = question.lines().next().unwrap_or("").trim();
    if line.chars().count() <= 80 {
        line.to_string()
    } else {
        let cut: String = line.chars().take(79).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn titles() {
        assert_eq!(title_of("Who is Alex?\nmore"), "Who is Alex?");
        let long = "x".repeat(100);
        assert_eq!(title_of(&long).chars().count(), 80);
    }
}
