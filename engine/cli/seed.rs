//! `eng-intel seed`: generate the demo organisation and load it into every store — the
//! SQLite file under the data dir, and each configured server (PostgreSQL, ClickHouse,
//! Neo4j) — in batches, with a progress bar per store. Idempotent: a store already holding
//! the same seed and size is left as it is (unless `--force`), and every load replaces the
//! store's rows, so nothing is ever duplicated. With an embeddings provider configured, the
//! documents are embedded too and their vectors kept.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::dataset::{self, DEFAULT_EMPLOYEES};
use crate::settings::Settings;

pub async fn run(data_dir: Option<&Path>, seed: u64, scale: usize, force: bool) -> u8 {
    match seed_stores(data_dir, seed, scale, force).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

async fn seed_stores(
    data_dir: Option<&Path>,
    seed: u64,
    scale: usize,
    force: bool,
) -> anyhow::Result<()> {
    let mut settings = Settings::from_env();
    if let Some(d) = data_dir {
        settings.data_dir = d.to_path_buf();
    }
    let employees = scale.max(DEFAULT_EMPLOYEES);
    if employees != scale {
        eprintln!(
            "note: the base roster has {} people; seeding {employees}",
            DEFAULT_EMPLOYEES
        );
    }
    let wanted = format!("seed {seed}, {employees} employees");
    let mut pending = Vec::new();
    let mut held = Vec::new();
    for target in dataset::load_targets(&settings).await? {
        if !force && target.holds(seed, employees).await? {
            held.push(target);
        } else {
            pending.push(target);
        }
    }
    if pending.is_empty() {
        println!(
            "every store already holds the demo organisation ({wanted}): nothing to do (--force reloads it)"
        );
        for t in &held {
            println!("  {}", t.name());
        }
        return embed_documents(&settings).await;
    }

    let spinner =
        ProgressBar::new_spinner().with_message(format!("generating the organisation ({wanted})"));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let t0 = Instant::now();
    let org = tokio::task::spawn_blocking(move || dataset::generate(seed, employees)).await?;
    let generated = t0.elapsed();
    spinner.finish_and_clear();

    let mut loaded = Vec::new();
    for target in &pending {
        let bar = progress_bar(target.load_size(&org), target.name());
        let t0 = Instant::now();
        let result = target.load(&org, &|n| bar.set_position(n)).await;
        bar.finish_and_clear();
        result?;
        loaded.push((target.name(), t0.elapsed()));
    }

    println!(
        "seeded the demo organisation: {} employees, {} teams, {} services, {} commits, {} pull requests, {} deployments, {} incidents, {} tickets, {} documents ({wanted}; generated in {:.1} s)",
        org.employees.len(),
        org.teams.len(),
        org.services.len(),
        org.commits.len(),
        org.pull_requests.len(),
        org.deployments.len(),
        org.incidents.len(),
        org.tickets.len(),
        org.documents.len(),
        generated.as_secs_f64()
    );
    for (name, took) in loaded {
        println!("  {name}: loaded in {:.1} s", took.as_secs_f64());
    }
    for t in held {
        println!("  {}: already held it, left as it is", t.name());
    }
    embed_documents(&settings).await
}

/// With an embeddings provider configured, embeds the documents that have no vector yet and
/// keeps the vectors (`DATA_DIR/embeddings.sqlite`, or pgvector), so that neither the
/// server's start nor the first question waits for it.
async fn embed_documents(settings: &Settings) -> anyhow::Result<()> {
    if !crate::embed::configured(settings) {
        return Ok(());
    }
    let spinner = ProgressBar::new_spinner().with_message("embedding the documents");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let said = std::sync::Mutex::new(Vec::new());
    let embedded = dataset::embed_documents(settings, &|msg| {
        said.lock().expect("lock").push(msg.to_string())
    })
    .await;
    spinner.finish_and_clear();
    for msg in said.into_inner().expect("lock") {
        println!("  {msg}");
    }
    embedded
}

/// A bar of items written (drawn only on a terminal).
fn progress_bar(total: u64, target: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("loading {target}"));
    bar
}
