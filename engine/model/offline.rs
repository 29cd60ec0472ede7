//! The offline model: the embedded default, deterministic and network-free.
//!
//! Routing scores the question against each route's description; an agent calls the
//! first tool whose intent matches (named captures become args) and then answers from
//! the node's answer template. A question that matches nothing gets a list of what can
//! be asked instead of an error.

use async_trait::async_trait;

use super::{
    ChatRequest, Model, ModelError, Purpose, Reply, Role, TokenSink, ToolCall, Turn, Usage,
};

#[derive(Debug, Default, Clone)]
pub struct OfflineModel;

#[async_trait]
impl Model for OfflineModel {
    fn model_name(&self, _tier: &str) -> String {
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

fn agent_step(req: &ChatRequest<'_>, answer: &(dyn Fn() -> String + Send + Sync)) -> Reply {
    let last_user = req
        .messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(0);
    let has_results = req.messages[last_user..]
        .iter()
        .any(|m| m.role == Role::Tool);
    if has_results {
        return Reply::Text(answer());
    }
    for tool in req.tools {
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

/// What this node can answer, from its tools' descriptions.
fn help(req: &ChatRequest<'_>) -> String {
    let mut s = String::from(
        "I could not match that question to the data I can look up. I can answer questions such as:\n",
    );
    for t in req.tools {
        s.push_str(&format!("- {}\n", t.description));
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
