//! The offline model: the embedded default, deterministic and network-free.
//!
//! It answers from the understanding stage's reading of the question: routing goes to
//! the route whose agents have the best-scoring tool (decided by the router before the
//! model is asked; here only when nothing scored), an agent calls its best tool with the
//! arguments the reading fills — once per entity for a comparison — and answers from
//! the tool's answer template. A missing name gets one clarifying question; a question
//! nothing answers gets the three nearest things it can answer; a request to change
//! data gets a one-line refusal.

use async_trait::async_trait;

use super::{
    ChatRequest, Model, ModelError, Purpose, Reply, Role, Tier, TokenSink, ToolCall, Turn, Usage,
};
use crate::understand::Understanding;

#[derive(Debug, Default, Clone)]
pub struct OfflineModel;

#[async_trait]
impl Model for OfflineModel {
    fn model_name(&self, _tier: Tier) -> String {
        "offline".into()
    }

    async fn chat(&self, req: ChatRequest<'_>, _tokens: TokenSink<'_>) -> Result<Turn, ModelError> {
        let reply = match req.purpose {
            Purpose::Route { routes } => {
                Reply::Text(best_route(req.question, routes).unwrap_or_default())
            }
            Purpose::Agent { answer } => agent_step(&req, answer),
            Purpose::Complete => Reply::Text(String::new()),
        };
        Ok(Turn {
            reply,
            usage: Usage::default(),
        })
    }
}

/// What eng-intel says to a request that would change data.
pub const REFUSAL: &str =
    "eng-intel only reads your organisation's data; it cannot delete, change or truncate anything.";

fn agent_step(req: &ChatRequest<'_>, answer: &(dyn Fn() -> String + Send + Sync)) -> Reply {
    let last_user = req
        .messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(0);
    let done = req.messages[last_user..]
        .iter()
        .filter(|m| m.role == Role::Tool)
        .count();
    if done > 0 {
        return Reply::Text(answer());
    }
    let Some(u) = req.understanding else {
        return by_intents(req);
    };
    if u.refuse {
        return Reply::Text(REFUSAL.into());
    }
    if u.unresolved {
        return Reply::Text(
            "Who do you mean? Name the person (a first name is enough) and I will look it up."
                .into(),
        );
    }
    if u.vague {
        return Reply::Text(
            "Which one do you mean? Name the team, service, project or person and I will look it up."
                .into(),
        );
    }
    let allowed = |t: &str| req.tools.iter().any(|d| d.name == t);
    let Some(best) = u.best(allowed) else {
        return by_intents(req);
    };
    let tool = req
        .tools
        .iter()
        .find(|d| d.name == best.tool)
        .expect("allowed");
    if !best.missing.is_empty() {
        return Reply::Text(clarify(u, req, &best.missing, &tool.args_schema));
    }
    let calls = u.calls(best, &tool.args_schema);
    Reply::ToolCalls(
        calls
            .into_iter()
            .enumerate()
            .map(|(i, args)| ToolCall {
                id: format!("call_{}_{i}", tool.name),
                name: tool.name.clone(),
                args: args.into(),
            })
            .collect(),
    )
}

/// The tools' own intents (regexes with named captures) for tools without examples (all of
/// them when the request comes without a reading); else the nearest things this node can
/// answer.
fn by_intents(req: &ChatRequest<'_>) -> Reply {
    // With a reading, intents speak only for tools that declare no examples.
    let read = req.understanding.is_some();
    for tool in req.tools.iter().filter(|t| !(read && t.has_examples)) {
        if let Some(args) = tool.match_intent(req.question) {
            return Reply::ToolCalls(vec![ToolCall {
                id: format!("call_{}", tool.name),
                name: tool.name.clone(),
                args: args.into(),
            }]);
        }
    }
    Reply::Text(help(req))
}

/// One short question for the name the best reading needs, offering the next readings.
fn clarify(
    u: &Understanding,
    req: &ChatRequest<'_>,
    missing: &[String],
    schema: &serde_json::Value,
) -> String {
    let arg = &missing[0];
    let what = schema
        .pointer(&format!("/properties/{arg}/description"))
        .and_then(serde_json::Value::as_str)
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let mut s = format!("Which {arg} do you mean{what}? Name one and I will look it up.");
    let others: Vec<String> = u
        .nearest(|t| req.tools.iter().any(|d| d.name == t), 4)
        .into_iter()
        .skip(1)
        .filter(|c| c.missing.is_empty())
        .take(2)
        .filter_map(|c| req.tools.iter().find(|d| d.name == c.tool))
        .map(|d| format!("- {}", d.description))
        .collect();
    if !others.is_empty() {
        s.push_str("\nOr did you mean:\n");
        s.push_str(&others.join("\n"));
    }
    s
}

/// The three things this node can answer that come nearest to the question.
fn help(req: &ChatRequest<'_>) -> String {
    let mut s = String::from(
        "I could not match that question to the data I can look up. The nearest things I can answer:\n",
    );
    let nearest: Vec<&str> = match req.understanding {
        Some(u) => u
            .nearest(|t| req.tools.iter().any(|d| d.name == t), 3)
            .into_iter()
            .filter_map(|c| req.tools.iter().find(|d| d.name == c.tool))
            .map(|d| d.description.as_str())
            .collect(),
        None => Vec::new(),
    };
    let shown: Vec<&str> = if nearest.is_empty() {
        req.tools
            .iter()
            .take(3)
            .map(|t| t.description.as_str())
            .collect()
    } else {
        nearest
    };
    for d in shown {
        s.push_str(&format!("- {d}\n"));
    }
    s
}

/// The route whose description shares the most words with the question.
fn best_route(question: &str, routes: &[crate::compile::Route]) -> Option<String> {
    let q = words(question);
    routes
        .iter()
        .map(|r| {
            (
                words(&r.description)
                    .iter()
                    .filter(|w| q.contains(w))
                    .count(),
                r,
            )
        })
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r.name.clone())
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
        .map(|w| w.to_lowercase())
        .collect()
}
