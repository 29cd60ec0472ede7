//! `eng-intel seed`: generate the demo organisation and load it into the stores (the
//! SQLite file under the data dir, and PostgreSQL when configured), with a progress bar.
//! Idempotent: a store already holding the same seed and size is left as it is, and a
//! load replaces all rows in one transaction, so nothing is ever duplicated.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::org;
use crate::settings::Settings;
use crate::store::{self, Postgres, Sqlite};

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
    let employees = scale.max(org::DEFAULT_EMPLOYEES);
    if employees != scale {
        eprintln!(
            "note: the base roster has {} people; seeding {employees}",
            org::DEFAULT_EMPLOYEES
        );
    }
    let path = store::sqlite_path(&settings.data_dir);
    let sqlite = Sqlite::open(&path).await?;
    let sqlite_done = !force && same(&sqlite.meta().await?, seed, employees);
    let pg = match &settings.postgres {
        Some(p) => Some(Postgres::connect(p).await?),
        None => None,
    };
    let pg_done = match &pg {
        Some(p) => !force && same(&pg_meta(p).await?, seed, employees),
        None => true,
    };
    if sqlite_done && pg_done {
        println!(
            "{} already holds the demo organisation (seed {seed}, {employees} employees); nothing to do (--force reloads it)",
            path.display()
        );
        return Ok(());
    }
    let t0 = Instant::now();
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "generating the organisation (seed {seed}, {employees} employees)"
    ));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let org = tokio::task::spawn_blocking(move || org::generate(seed, employees)).await?;
    spinner.finish_and_clear();
    let total: u64 = store::tables(&org).iter().map(|t| t.len as u64).sum();
    if !sqlite_done {
        let bar = progress_bar(total, &path.display().to_string());
        sqlite.load(&org, &|n| bar.set_position(n)).await?;
        bar.finish_and_clear();
    }
    if let (Some(p), false) = (&pg, pg_done) {
        let bar = progress_bar(total, "PostgreSQL");
        p.load(&org, &|n| bar.set_position(n)).await?;
        bar.finish_and_clear();
    }
    println!(
        "seeded {}: {} employees, {} teams, {} services, {} commits, {} pull requests, {} deployments, {} incidents, {} tickets, {} documents (seed {seed}) in {:.1} s",
        path.display(),
        org.employees.len(),
        org.teams.len(),
        org.services.len(),
        org.commits.len(),
        org.pull_requests.len(),
        org.deployments.len(),
        org.incidents.len(),
        org.tickets.len(),
        org.documents.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A bar of rows written (drawn only on a terminal).
fn progress_bar(total: u64, target: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("loading {target}"));
    bar
}

fn same(meta: &HashMap<String, String>, seed: u64, employees: usize) -> bool {
    meta.get("seed") == Some(&seed.to_string())
        && meta.get("employees") == Some(&employees.to_string())
}

async fn pg_meta(p: &Postgres) -> anyhow::Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM meta")
        .fetch_all(p.pool())
        .await?;
    Ok(rows.into_iter().collect())
}
