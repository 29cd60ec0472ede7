//! `serve --watch`: polls graphs/, prompts/, tools/ and tools.yaml, and once changes have
//! settled (debounced) reloads through `reload::reload`, logging what changed or, when
//! the new config has errors, its diagnostics while the running config stays.
//!
//! Polling file metadata (size, modification time) a few times a second costs a handful
//! of `stat` calls, needs no extra crate, and also works on the mounted volumes and
//! network file systems where inotify events do not arrive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::reload::{ConfigDiff, reload};
use crate::run::Engine;
use crate::validate::diagnostic::Report;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How often the files are looked at.
    pub interval: Duration,
    /// How long the files must stay unchanged before a reload (editors write in steps).
    pub debounce: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            interval: Duration::from_millis(100),
            debounce: Duration::from_millis(300),
        }
    }
}

/// What one reload attempt gave.
pub type Outcome = Result<ConfigDiff, Report>;

/// Watches `root` and reloads `engine` on changes, until the task is aborted.
pub fn spawn(engine: Arc<Engine>, root: PathBuf) -> JoinHandle<()> {
    spawn_with(engine, root, Options::default(), None)
}

/// [`spawn`] with its timing, and every outcome also sent to `outcomes`.
pub fn spawn_with(
    engine: Arc<Engine>,
    root: PathBuf,
    opts: Options,
    outcomes: Option<UnboundedSender<Outcome>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = snapshot(&root);
        let mut changed_at: Option<Instant> = None;
        loop {
            tokio::time::sleep(opts.interval).await;
            let now = snapshot(&root);
            if now != seen {
                seen = now;
                changed_at = Some(Instant::now());
                continue;
            }
            if changed_at.is_some_and(|t| t.elapsed() >= opts.debounce) {
                changed_at = None;
                let (engine, root) = (engine.clone(), root.clone());
                let outcome = tokio::task::spawn_blocking(move || reload(&engine, &root))
                    .await
                    .expect("reload does not panic");
                log(&outcome);
                if let Some(tx) = &outcomes {
                    let _ = tx.send(outcome);
                }
            }
        }
    })
}

fn log(outcome: &Outcome) {
    match outcome {
        Ok(diff) if diff.is_empty() => tracing::debug!("files changed, configuration did not"),
        Ok(diff) => tracing::info!(changes = %diff, "configuration reloaded"),
        Err(report) => {
            for d in &report.diagnostics {
                tracing::warn!("{d}");
            }
            tracing::warn!(
                errors = report.errors(),
                "configuration has errors; keeping the running one"
            );
        }
    }
}

/// Size and modification time of every watched file (graphs/tests/recordings left out:
/// the test runner writes there). tools/ is where tools.yaml's includes live; an include
/// from elsewhere is read on reload but does not trigger one.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let skip = root.join("graphs/tests/recordings");
    let mut stack = vec![
        root.join("graphs"),
        root.join("prompts"),
        root.join("tools"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                if p != skip {
                    stack.push(p);
                }
            } else {
                out.insert(p, (meta.len(), meta.modified().ok()));
            }
        }
    }
    let tools = root.join("tools.yaml");
    if let Ok(meta) = std::fs::metadata(&tools) {
        out.insert(tools, (meta.len(), meta.modified().ok()));
    }
    out
}
