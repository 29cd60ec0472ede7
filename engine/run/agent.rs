//! The agent node: a conversation with the model in turns — the rendered prompt, the
//! thread, the question — in which the model calls the node's tools (each call in
//! `calls`) until it answers, or the turns run out and the tools' results answer.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::error::RunError;
use super::exec::Exec;
use super::nodes::{Here, Step};
use super::state::jv;
use crate::compile::ToolDef;
use crate::model::{ChatRequest, Message, Purpose, Reply, Role, Tier};

impl Exec {
    pub(super) async fn agent(
        &self,
        here: Here<'_>,
        prompt: &str,
        tools: &[Arc<ToolDef>],
        answer: &str,
        tier: Option<Tier>,
        max_turns: usize,
    ) -> Result<Step, RunError> {
        let state = here.state;
        let tier = state.tier(tier, Tier::Primary);
        // Who a role turned out to be, and how a model's names were read: after the answer.
        let (u, mut notes) = self
            .resolve_references(self.understanding(state), state)
            .await;
        let mut system = self.render_at(here, prompt, &state.ctx())?;
        if let Some(note) = u.note() {
            system.push_str("\n\n");
            system.push_str(&note);
        }
        let mut messages = vec![Message::new(Role::System, system)];
        messages.extend(state.history());
        messages.push(Message::new(Role::User, state.question()));
        let results: Mutex<Vec<Value>> = Mutex::new(Vec::new());
        let render_answer = || {
            // Borrowed, and converted once: a ranking renders two templates per row of a
            // result, and converting the whole result for each made it quadratic in its
            // rows. Each result's parts are read from `all`, not converted again (a result
            // of 10,000 rows takes ~11 ms to convert, as long to copy).
            let results = results.lock().expect("results lock");
            let results = results.as_slice();
            let (all, vars) = (jv(results), state.ctx());
            let parts = |r: &Value| {
                let get = |k: &str| r.get(k).map(jv);
                (get("result"), get("tool"), get("args"))
            };
            let converted: Vec<_> = (0..results.len())
                .map(|i| {
                    let r = all.get_item_by_index(i).unwrap_or_default();
                    let get = |k: &str| r.get_attr(k).ok().filter(|v| !v.is_undefined());
                    (get("result"), get("tool"), get("args"))
                })
                .collect();
            let render = |template: &str, r: Option<&Value>, row: Option<&Value>| {
                let (result, tool, args) = match r {
                    Some(r) => results
                        .iter()
                        .position(|x| std::ptr::eq(x, r))
                        .map_or_else(|| parts(r), |i| converted[i].clone()),
                    None => (None, None, None),
                };
                let ctx = minijinja::context! {
                    results => all.clone(), result => result, tool => tool, args => args, row => row.map(jv),
                    about => u.about(), ..vars.clone()
                };
                self.render(template, &ctx).map_err(|e| e.to_string())
            };
            super::answer::compose(results, tools, answer, &u, &render)
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
            let calls = match self.chat(here, req).await?.reply {
                Reply::Text(text) => return Ok(Step::output(with_notes(text, &notes))),
                Reply::ToolCalls(calls) => calls,
            };
            messages.push(Message {
                role: Role::Assistant,
                content: String::new(),
                tool_calls: calls.clone(),
                tool_call_id: None,
            });
            for mut call in calls {
                self.live()?;
                notes.extend(crate::understand::args::normalise(
                    &mut call.args,
                    &call.name,
                    self.set.lexicon(),
                    &self.vocabulary,
                ));
                let (content, entry) = self.agent_call(tools, &call, state, &u).await;
                results.lock().expect("results lock").push(entry);
                messages.push(Message {
                    role: Role::Tool,
                    content,
                    tool_calls: vec![],
                    tool_call_id: Some(call.id),
                });
            }
        }
        // Out of turns: answer from what the tools returned.
        Ok(Step::output(with_notes(render_answer(), &notes)))
    }
}

/// The answer, then the notes in italics.
fn with_notes(text: String, notes: &[String]) -> String {
    match notes.is_empty() {
        true => text,
        false => format!("{}\n\n_{}_", text.trim_end(), notes.join(" ")),
    }
}
