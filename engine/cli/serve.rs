//! `eng-intel serve`: the HTTP/SSE API on `PORT` (7860) until SIGTERM or Ctrl-C, which
//! end open streams cleanly; SIGHUP reloads the configuration like
//! `POST /api/admin/reload`, and `--watch` whenever its files change.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::api::{self, AppParts, AppState, HealthSource, Tuning};
use crate::dataset::WhenDown;
use crate::model::Model;
use crate::model::fallback::FallbackModel;
use crate::model::openai::Options;
use crate::settings::Settings;
use crate::tools::ToolRunner;

/// How long open connections may take to finish after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub async fn run(config_dir: &Path, host: &str, port: Option<u16>, watch: bool) -> u8 {
    let settings = Settings::from_env();
    init_tracing(&settings);
    // The configuration compiles on a blocking thread while the stores open: neither
    // needs the other until the vocabulary check below (bench/README.md, "Start").
    let dir = config_dir.to_path_buf();
    let compiling = tokio::task::spawn_blocking(move || super::load_compiled(&dir));
    let opening = async {
        let threads = crate::threads::open(&settings)
            .await
            .map_err(|e| format!("error: {e}"))?;
        let backends = backends(&settings)
            .await
            .map_err(|e| format!("error: cannot open the stores: {e:#}"))?;
        Ok::<_, String>((threads, backends))
    };
    let (compiled, opened) = tokio::join!(compiling, opening);
    let config = match compiled.expect("the configuration's compile does not panic") {
        Ok(set) => set,
        Err(code) => return code,
    };
    if let Some(missing) = crate::reload::missing_entry(&config) {
        eprintln!("error: {missing}");
        return 1;
    }
    let (threads, (tools, health)) = match opened {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    if !crate::embed::configured(&settings) {
        tracing::info!("{}", crate::embed::how_to_enable(&settings));
    }
    for (phrase, target) in config.lexicon().dangling(&tools.vocabulary()) {
        tracing::warn!(
            "vocabulary synonym \"{phrase}\" points at \"{target}\", which is no name in the organisation's data; fix it in the tools config"
        );
    }
    let model = match model(&settings) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot set up the model: {e}");
            return 2;
        }
    };
    let port = port.unwrap_or(settings.port);
    let state = AppState::new(AppParts {
        settings,
        config_dir: config_dir.to_path_buf(),
        config,
        model,
        tools,
        threads,
        health,
        tuning: Tuning::default(),
    });
    let listener = match listen(host, port).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {host}:{port}: {e}");
            return 2;
        }
    };
    if let Ok(addr) = listener.local_addr()
        && let Some(warning) = api::exposure_warning(&addr, !state.settings.api_keys.is_empty())
    {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        addr = %format!("{host}:{port}"),
        threads = state.threads.backend(),
        "eng-intel serving; API docs at /docs"
    );
    tokio::spawn(reload_on_sighup(state.clone()));
    if watch {
        crate::watch::spawn(state.engine.clone(), config_dir.to_path_buf());
    }

    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        stop_signal().await;
        let _ = fired_tx.send(());
    };
    let server = api::serve(listener, state, signal);
    let deadline = async {
        match fired_rx.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        r = server => match r {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                2
            }
        },
        _ = deadline => {
            tracing::warn!("connections still open {} s after the shutdown signal; exiting", SHUTDOWN_GRACE.as_secs());
            0
        }
    }
}

async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("the host resolves to no address"))?;
    api::bind(addr)
}

/// The tool runner and the store health checks, built in one place: the configured
/// stores (embedded by default; the demo organisation is created on an empty data dir).
async fn backends(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn ToolRunner>, Arc<dyn HealthSource>)> {
    let announce = |msg: &str| tracing::info!("{msg}");
    let toolbox = crate::toolbox::Toolbox::open_with(settings, WhenDown::Degrade, &announce);
    let toolbox = Arc::new(toolbox.await?);
    let tools = toolbox.tools();
    let health: Arc<dyn HealthSource> = Arc::new(move || {
        let toolbox = toolbox.clone();
        async move { toolbox.stores.health().await }
    });
    Ok((tools, health))
}

/// The model chain: the OpenAI-compatible provider when configured, the offline model after it
/// (and alone when no model server is configured).
pub(super) fn model(settings: &Settings) -> Result<Arc<dyn Model>, String> {
    FallbackModel::from_settings(settings.llm.as_ref(), Options::from_env())
        .map(|m| Arc::new(m) as Arc<dyn Model>)
        .map_err(|e| e.to_string())
}

/// `LOG_LEVEL` (the seed's INFO/DEBUG/WARNING/ERROR, any case) or `RUST_LOG`; JSON lines
/// with `LOG_JSON=true`; every line masked by the settings' redactor.
fn init_tracing(settings: &Settings) {
    let _ = tracing::subscriber::set_global_default(log_subscriber(settings, std::io::stdout));
}

/// The subscriber `serve` logs through, writing to what `out` makes: every line passes
/// `Settings::redactor`, so no secret reaches the log whatever a server echoed.
pub fn log_subscriber<W>(
    settings: &Settings,
    out: impl Fn() -> W + Send + Sync + 'static,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: std::io::Write + 'static,
{
    let level = match settings.log_level.as_str() {
        "warning" => "warn",
        "critical" | "fatal" => "error",
        other => other,
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{level},sqlx=warn")))
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let redactor = settings.redactor();
    let writer = move || redactor.writer(out());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if settings.log_json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}

/// SIGTERM (containers, orchestrators) or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Reloads on each SIGHUP; a refused configuration is logged and the running one stays.
async fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match api::reload(&state).await {
                Ok(r) => tracing::info!(graphs = r.graphs.len(), "SIGHUP: configuration reloaded"),
                Err(e) => tracing::error!(detail = %e.detail, "SIGHUP: reload refused"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}
