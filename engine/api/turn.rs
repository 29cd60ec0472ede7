//! A chat's turn once its run has ended: whether its tools left the question unanswered,
//! and storing the question with its answer.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::AppState;
use super::conversation::Summary;
use crate::run::Event;
use crate::threads::{AppendTo, NewMessage, Role};

/// Tool calls of a run: when every one failed the answer rests on nothing, and says so.
#[derive(Debug, Default)]
pub struct ToolTally {
    ok: usize,
    failed: Vec<String>,
}

impl ToolTally {
    /// Counts tool results; leads the answer with a warning when no tool worked.
    pub fn observe(&mut self, ev: &mut Event) {
        match ev {
            Event::ToolEnd { ok: true, .. } => self.ok += 1,
            Event::ToolEnd {
                tool, ok: false, ..
            } if !self.failed.contains(tool) => self.failed.push(tool.clone()),
            Event::Response { content } if self.unanswered() => {
                *content = format!(
                    "**I could not read the data for this question** ({} failed), so what follows is not an answer to it; try again shortly.\n\n{content}",
                    self.failed.join(", ")
                );
            }
            _ => {}
        }
    }

    pub fn unanswered(&self) -> bool {
        self.ok == 0 && !self.failed.is_empty()
    }
}

/// Stores the question and its answer in one transaction. Err is the (kind, message) of
/// the `error` event the client gets instead of a silent loss.
pub async fn store(
    state: &AppState,
    thread_id: &str,
    owner: &str,
    to: AppendTo,
    question: &str,
    s: &Summary,
) -> Result<(), (&'static str, &'static str)> {
    let Some(answer) = &s.response else {
        return Ok(());
    };
    let messages = [
        NewMessage {
            role: Role::User,
            content: question.to_string(),
            meta: json!({}),
        },
        NewMessage {
            role: Role::Assistant,
            content: answer.clone(),
            meta: json!({
                "run_id": s.run_id,
                "model_used": s.model_used,
                "task_type": s.task_type,
                "elapsed_s": s.elapsed_s,
            }),
        },
    ];
    match state
        .threads
        .append(thread_id, &title_of(question), owner, &messages, to)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err((
            "thread_deleted",
            "the thread was deleted (before or during this chat); the answer was not stored",
        )),
        Err(e) => {
            state.metrics.error("store", "append_failed");
            tracing::error!(thread_id, error = %state.redact(&e.to_string()), "storing the turn failed");
            Err((
                "store_failed",
                "the answer could not be stored (the thread store is unavailable); it is not in the thread, retry shortly",
            ))
        }
    }
}

/// Seconds since the Unix epoch, as envelopes carry them.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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

    #[test]
    fn titles() {
        assert_eq!(title_of("Who is Alex?\nmore"), "Who is Alex?");
        let long = "x".repeat(100);
        assert_eq!(title_of(&long).chars().count(), 80);
    }

    #[test]
    fn an_answer_without_any_working_tool_says_so() {
        let end = |tool: &str, ok| Event::ToolEnd {
            tool: tool.into(),
            ok,
            result_preview: String::new(),
            elapsed_ms: 0.0,
            error: None,
        };
        let mut t = ToolTally::default();
        t.observe(&mut end("dora_metrics", false));
        let mut answer = Event::Response {
            content: "No deployments.".into(),
        };
        t.observe(&mut answer);
        assert!(t.unanswered());
        let Event::Response { content } = answer else {
            unreachable!()
        };
        assert!(
            content.starts_with("**I could not read the data"),
            "{content}"
        );
        assert!(content.contains("dora_metrics failed"));

        let mut t = ToolTally::default();
        t.observe(&mut end("a", false));
        t.observe(&mut end("b", true));
        assert!(!t.unanswered(), "one working tool answers");
    }
}
