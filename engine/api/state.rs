//! What every handler shares: the engine, the thread store, store health, settings,
//! metrics and the shutdown signal, behind one cheap-to-clone `AppState`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use crate::compile::CompiledSet;
use crate::model::Model;
use crate::run::Engine;
use crate::settings::Settings;
use crate::threads::{ThreadLocks, ThreadStore};
use crate::tools::ToolRunner;

/// One store's health: its name (`postgres`, `clickhouse`, `neo4j`, …) and Ok or why not.
pub type StoreHealth = (String, Result<(), String>);

/// Pings each configured store; `/api/health` reports the results.
pub trait HealthSource: Send + Sync {
    fn check(&self) -> BoxFuture<'_, Vec<StoreHealth>>;
}

/// Any `Fn() -> impl Future<Output = Vec<StoreHealth>>` is a health source.
impl<F, Fut> HealthSource for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Vec<StoreHealth>> + Send + 'static,
{
    fn check(&self) -> BoxFuture<'_, Vec<StoreHealth>> {
        Box::pin(self())
    }
}

/// No stores beyond the thread store (the embedded default until the stores are wired).
pub fn no_stores() -> Arc<dyn HealthSource> {
    Arc::new(|| async { Vec::new() })
}

/// Knobs that are not environment variables; tests shorten them.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// SSE keep-alive comment interval.
    pub keep_alive: Duration,
    /// Longest accepted chat message, in characters.
    pub max_message_chars: usize,
    /// Earlier turns given to the model: at most this many messages…
    pub history_messages: i64,
    /// …and at most this many characters, newest kept.
    pub history_chars: usize,
    /// How long a store ping may take before health reports it down.
    pub health_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            keep_alive: Duration::from_secs(15),
            max_message_chars: 16_000,
            history_messages: 20,
            history_chars: 12_000,
            health_timeout: Duration::from_secs(3),
        }
    }
}

/// Everything `AppState::new` needs.
pub struct AppParts {
    pub settings: Settings,
    /// Project directory with graphs/, prompts/, tools.yaml (re-read on reload).
    pub config_dir: PathBuf,
    pub config: CompiledSet,
    pub model: Arc<dyn Model>,
    pub tools: Arc<dyn ToolRunner>,
    pub threads: Arc<dyn ThreadStore>,
    pub health: Arc<dyn HealthSource>,
    pub tuning: Tuning,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub engine: Arc<Engine>,
    pub threads: Arc<dyn ThreadStore>,
    pub health: Arc<dyn HealthSource>,
    pub settings: Settings,
    pub config_dir: PathBuf,
    pub tuning: Tuning,
    pub metrics: Metrics,
    pub locks: ThreadLocks,
    pub started: Instant,
    /// Cancelled on SIGTERM: open streams cancel their runs and end.
    pub shutdown: CancellationToken,
    /// One reload at a time.
    pub reloading: tokio::sync::Mutex<()>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(p: AppParts) -> Self {
        AppState(Arc::new(Inner {
            engine: Arc::new(Engine::new(p.config, p.model, p.tools)),
            threads: p.threads,
            health: p.health,
            settings: p.settings,
            config_dir: p.config_dir,
            tuning: p.tuning,
            metrics: Metrics::default(),
            locks: ThreadLocks::default(),
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            reloading: tokio::sync::Mutex::new(()),
        }))
    }

    /// Ends open streams (their runs are cancelled) and refuses new chats.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Replaces every configured secret in `s` with `***` (store errors may echo them).
    pub fn redact(&self, s: &str) -> String {
        let st = &self.settings;
        let secrets = [
            st.postgres.as_ref().map(|p| p.password.expose()),
            st.clickhouse.as_ref().map(|c| c.password.expose()),
            st.neo4j.as_ref().map(|n| n.password.expose()),
            st.llm.as_ref().map(|l| l.api_key.expose()),
            st.api_key.as_ref().map(|k| k.expose()),
            st.pinecone_api_key.as_ref().map(|k| k.expose()),
        ];
        secrets
            .into_iter()
            .flatten()
            .filter(|x| x.len() >= 3)
            .fold(s.to_string(), |acc, x| acc.replace(x, "***"))
    }
}
