//! A chain of models: when one fails, the next answers, and whoever listens is told.
//!
//! The usual chain is the tier's model, then another tier's model, then the offline
//! model, which cannot fail. Without LLM settings the chain is the offline model alone,
//! so the embedded default needs nothing. Tokens a failed model already streamed stay
//! sent; the notice tells the client that another model starts over.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::offline::OfflineModel;
use super::openai::{OpenAiModel, Options};
use super::{ChatRequest, FallbackSink, Model, ModelError, Tier, TokenSink, Turn};
use crate::settings::Llm;

/// The chain moved on: from one model to the next, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallbackNotice {
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Called on every fallback of every request (logs, metrics).
pub type FallbackHook = Arc<dyn Fn(&FallbackNotice) + Send + Sync>;

/// The tier a link of the chain asks its model for.
enum Pick {
    /// The request's own tier.
    Same,
    /// The first of these whose model has not been tried for this request.
    Other(Vec<Tier>),
}

struct Link {
    model: Arc<dyn Model>,
    tier: Pick,
}

pub struct FallbackModel {
    links: Vec<Link>,
    hook: Option<FallbackHook>,
}

impl FallbackModel {
    /// A chain of one: `model` at the request's tier.
    pub fn new(model: Arc<dyn Model>) -> Self {
        FallbackModel {
            links: vec![Link {
                model,
                tier: Pick::Same,
            }],
            hook: None,
        }
    }

    /// Then `model` at the request's tier.
    pub fn then(mut self, model: Arc<dyn Model>) -> Self {
        self.links.push(Link {
            model,
            tier: Pick::Same,
        });
        self
    }

    /// Then `model` at the first of `tiers` that names a model not yet tried.
    pub fn then_other_tier(mut self, model: Arc<dyn Model>, tiers: &[Tier]) -> Self {
        self.links.push(Link {
            model,
            tier: Pick::Other(tiers.to_vec()),
        });
        self
    }

    pub fn on_fallback(mut self, hook: impl Fn(&FallbackNotice) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The offline model alone without LLM settings; otherwise the tier's model, another
    /// tier's (`LLM_FALLBACK_TIER`, then primary, then fast), then the offline model.
    pub fn from_settings(llm: Option<&Llm>, opts: Options) -> Result<Self, ModelError> {
        let Some(llm) = llm else {
            return Ok(FallbackModel::new(Arc::new(OfflineModel)));
        };
        let mut tiers: Vec<Tier> = opts.fallback_tier.into_iter().collect();
        tiers.extend([Tier::Primary, Tier::Fast]);
        let remote: Arc<dyn Model> = Arc::new(OpenAiModel::new(llm, opts.clone())?);
        Ok(FallbackModel::new(remote.clone())
            .then_other_tier(remote, &tiers)
            .then(Arc::new(OfflineModel)))
    }

    /// The (model, tier) pairs a request on `tier` tries, in order, none twice.
    fn plan(&self, tier: Tier) -> Vec<(&Arc<dyn Model>, Tier)> {
        let mut plan: Vec<(&Arc<dyn Model>, Tier)> = Vec::new();
        let tried = |plan: &[(&Arc<dyn Model>, Tier)], m: &Arc<dyn Model>, t: Tier| {
            plan.iter()
                .any(|(pm, pt)| Arc::ptr_eq(pm, m) && pm.model_name(*pt) == m.model_name(t))
        };
        for link in &self.links {
            let pick = match &link.tier {
                Pick::Same => Some(tier),
                Pick::Other(tiers) => tiers
                    .iter()
                    .copied()
                    .find(|t| !tried(&plan, &link.model, *t)),
            };
            if let Some(t) = pick
                && !tried(&plan, &link.model, t)
            {
                plan.push((&link.model, t));
            }
        }
        plan
    }
}

#[async_trait]
impl Model for FallbackModel {
    fn model_name(&self, tier: Tier) -> String {
        self.links[0].model.model_name(tier)
    }

    async fn chat(&self, req: ChatRequest<'_>, tokens: TokenSink<'_>) -> Result<Turn, ModelError> {
        self.chat_with_fallbacks(req, tokens, &|_| {}).await
    }

    async fn chat_with_fallbacks(
        &self,
        req: ChatRequest<'_>,
        tokens: TokenSink<'_>,
        fallbacks: FallbackSink<'_>,
    ) -> Result<Turn, ModelError> {
        let plan = self.plan(req.tier);
        let mut last = None;
        for (i, (model, tier)) in plan.iter().enumerate() {
            let attempt = ChatRequest { tier: *tier, ..req };
            let err = match model.chat_with_fallbacks(attempt, tokens, fallbacks).await {
                Ok(turn) => return Ok(turn),
                Err(e) => e,
            };
            if let Some((next, next_tier)) = plan.get(i + 1) {
                let notice = FallbackNotice {
                    from: model.model_name(*tier),
                    to: next.model_name(*next_tier),
                    reason: err.message.clone(),
                };
                tracing::warn!(from = %notice.from, to = %notice.to, reason = %notice.reason, "model fallback");
                if let Some(hook) = &self.hook {
                    hook(&notice);
                }
                fallbacks(&notice);
            }
            last = Some(err);
        }
        Err(last.unwrap_or_else(|| ModelError::fatal("no model is configured")))
    }
}
