//! `eng-intel migrate`: the owner's step of a least-privilege deployment. It migrates the
//! thread store and the organisation stores and loads the demo organisation into an empty
//! one, exactly as `serve` would at start; `serve` then needs no DDL rights, so it can run
//! as the app role of scripts/postgres-app-role.sql.

use crate::settings::Settings;

pub async fn run() -> u8 {
    let settings = Settings::from_env();
    let announce = |msg: &str| eprintln!("{msg}");
    if let Err(e) = crate::threads::open(&settings).await {
        eprintln!("error: {e}");
        return 2;
    }
    if let Err(e) = crate::dataset::open(&settings, &announce).await {
        eprintln!("error: cannot prepare the stores: {e:#}");
        return 2;
    }
    eprintln!("migrated: the thread store and the organisation stores are up to date");
    0
}
