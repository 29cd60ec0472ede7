//! What every handler shares: the engine, the thread store, store health, settings,
//! metrics and the shutdown signal, behind one cheap-to-clone `AppState`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::limits::ChatsPerIp;
use super::metrics::Metrics;
use crate::compile::CompiledSet;
use crate::model::Model;
use crate::run::Engine;
use crate::settings::{Redactor, Settings};
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
    /// How long the thread store's ping may take before health reports it down (the
    /// other stores bound their own: `store::PING_TIMEOUT`).
    pub health_timeout: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            keep_alive: Duration::from_secs(15),
            max_message_chars: 16_000,
            history_messages: 20,
            history_chars: 12_000,
            health_timeout: Duration::from_secs(1),
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
    /// Masks secrets in everything sent out (built once from `settings`).
    pub redactor: Redactor,
    /// Chats running per client address (`MAX_CHATS_PER_IP`).
    pub chats_per_ip: ChatsPerIp,
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
            settings: p.settings.clone(),
            threads: p.threads,
            health: p.health,
            config_dir: p.config_dir,
            tuning: p.tuning,
            metrics: Metrics::default(),
            redactor: p.settings.redactor(),
            chats_per_ip: ChatsPerIp::default(),
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

    /// Replaces every configured secret and URL credential in `s` with `***`
    /// (`Settings::redactor`: store and model servers may echo them).
    pub fn redact(&self, s: &str) -> String {
        self.redactor.redact(s)
    }
}
