//! The router node: picks one route for the question — by the tool that reads the
//! question best, then by the routes' intents, then by asking the model — and goes to
//! its node.

use serde_json::{Value, json};

use super::error::RunError;
use super::event::{Event, RouteMethod};
use super::exec::Exec;
use super::nodes::{Here, Step};
use super::state::jv;
use crate::compile::Route;
use crate::model::{ChatRequest, Message, Purpose, Reply, Role, Tier};

impl Exec {
    pub(super) async fn router(
        &self,
        here: Here<'_>,
        routes: &[Route],
        default: usize,
        prompt: Option<&str>,
        tier: Option<Tier>,
    ) -> Result<Step, RunError> {
        let state = here.state;
        let q = state.question();
        // The route whose agents have the tool that reads the question best, then the
        // routes' intents, then the model.
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
                    Some(p) => {
                        let ctx =
                            minijinja::context! { routes => jv(route_list(routes)), ..state.ctx() };
                        self.render_at(here, p, &ctx)?
                    }
                    None => String::new(),
                };
                let messages = [
                    Message::new(Role::System, system),
                    Message::new(Role::User, q),
                ];
                let req = ChatRequest {
                    tier: state.tier(tier, Tier::Fast),
                    question: q,
                    messages: &messages,
                    tools: &[],
                    json: false,
                    purpose: Purpose::Route { routes },
                    understanding: Some(&u),
                };
                let picked = match self.chat(here, req).await?.reply {
                    Reply::Text(t) => routes.iter().position(|r| {
                        !t.trim().is_empty() && t.to_lowercase().contains(&r.name.to_lowercase())
                    }),
                    Reply::ToolCalls(_) => None,
                };
                match picked {
                    Some(i) => (i, RouteMethod::Model),
                    None => (default, RouteMethod::Default),
                }
            }
        };
        let route = &routes[chosen];
        self.emit(Event::Routing {
            agent: route.name.clone(),
            method,
            graph: here.g.name.clone(),
        });
        Ok(Step {
            output: Some(route.name.clone().into()),
            sets: vec![],
            next: Some(route.to),
        })
    }
}

/// The routes as a template sees them.
fn route_list(routes: &[Route]) -> Vec<Value> {
    routes
        .iter()
        .map(|r| json!({"name": r.name, "description": r.description}))
        .collect()
}
