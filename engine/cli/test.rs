//! `eng-intel test [PATH]`: runs the test cases declared in YAML and reports like
//! `cargo test` or as JUnit XML. Exit 0 when every case passed, 1 when one failed or
//! the configuration has errors, 2 when the tests could not run.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::ValueEnum;

use crate::graph_tests::{self, RunOptions, report};
use crate::settings::Settings;
use crate::tools::ToolRunner;
use crate::validate::diagnostic::Report;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestFormat {
    Text,
    Junit,
}

pub async fn run(
    config: &Path,
    path: Option<&Path>,
    filter: Option<&str>,
    format: TestFormat,
    record: bool,
) -> u8 {
    let target = path.unwrap_or(config);
    let Some(root) = graph_tests::find_root(target) else {
        eprintln!(
            "error: {} is not inside a project (no graphs/ folder there or above it)",
            target.display()
        );
        return 2;
    };
    let project = match crate::compile::load(&root) {
        Ok((set, _warnings)) => set.project,
        Err(crate::compile::Rejected::Unreadable(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
        Err(crate::compile::Rejected::Invalid(report)) => {
            eprint!("{report}");
            eprintln!(
                "error: the configuration has {} error(s); tests run only on a configuration that validates",
                report.errors()
            );
            return 1;
        }
    };
    // Problems of test files were reported by validate above.
    let all = graph_tests::cases(&project, &mut Report::default());
    let scope = path.filter(|p| p.canonicalize().ok().as_deref() != Some(root.as_path()));
    let (cases, left_out) = graph_tests::select(all, &root, scope, filter);

    let settings = Settings::from_env();
    if record && settings.llm.is_none() {
        eprintln!(
            "error: --record needs an OpenAI-compatible model: set FEATHERLESS_BASE_URL or OPENAI_BASE_URL (and its API key)"
        );
        return 2;
    }
    let stores = if cases.iter().any(|c| c.spec.tools.is_none()) {
        open_stores(&settings).await
    } else {
        Err("no stores were opened".into())
    };
    let opts = RunOptions {
        record,
        llm: settings.llm.clone(),
        stores,
    };

    let t0 = Instant::now();
    let text = format == TestFormat::Text;
    if text {
        let filtered = if left_out > 0 {
            format!(" ({left_out} filtered out)")
        } else {
            String::new()
        };
        let s = if cases.len() == 1 { "" } else { "s" };
        println!("\nrunning {} test{s}{filtered}", cases.len());
    }
    let results = graph_tests::run(&project, &cases, &opts, |r| {
        if text {
            println!("{}", report::line(r));
        }
    })
    .await;
    match format {
        TestFormat::Text => print!("{}", report::summary(&results)),
        TestFormat::Junit => print!("{}", report::junit(&results, t0.elapsed())),
    }
    u8::from(results.iter().any(|r| !r.passed()))
}

/// The store-backed tool runner for cases without canned results (the embedded stores
/// under DATA_DIR, created with the demo organisation when empty; PostgreSQL when set).
async fn open_stores(settings: &Settings) -> Result<Arc<dyn ToolRunner>, String> {
    let announce = |msg: &str| eprintln!("{msg}");
    crate::toolbox::Toolbox::open(settings, &announce)
        .await
        .map(|t| t.tools())
        .map_err(|e| format!("the stores could not be opened: {e:#}"))
}
