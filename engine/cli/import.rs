//! `eng-intel import`: bring your own organisation. `init` writes an import.yaml for
//! some clones, `check` validates it (and the roster) with `file:line` findings, `run`
//! reads the history (only what is new since the last run), builds the organisation and
//! loads it into every configured store, with a progress line per phase and a summary of
//! what was read, merged and skipped.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::import::{self, Options, Progress};
use crate::settings::Settings;

/// `import run`.
pub async fn run(file: &Path, data_dir: Option<&Path>, options: Options) -> u8 {
    let config = match load(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut settings = Settings::from_env();
    if let Some(d) = data_dir {
        settings.data_dir = d.to_path_buf();
    }
    let progress = Bars::default();
    match import::import(&config, &settings, &options, &progress).await {
        Ok(summary) => {
            eprint!("{}", summary.warnings);
            for line in summary.lines() {
                println!("{line}");
            }
            0
        }
        Err(e) => {
            progress.finish();
            eprintln!("error: {e:#}");
            2
        }
    }
}

/// `import check`: the findings of import.yaml and the roster; exit 1 on errors.
pub fn check(file: &Path) -> u8 {
    let config = match load(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(path) = &config.roster {
        let mut report = crate::core::Report::default();
        let people = import::roster_people(path, &mut report);
        eprint!("{report}");
        if report.has_errors() {
            return 1;
        }
        println!("roster: {} people", people);
    }
    for r in &config.repositories {
        println!("repository {}: {} ({})", r.name, r.path.display(), r.branch);
    }
    println!("{}: ok", file.display());
    0
}

/// `import init`: an import.yaml listing these clones, the defaults spelt out as comments.
pub fn init(file: &Path, repos: &[PathBuf], force: bool) -> u8 {
    if file.exists() && !force {
        eprintln!(
            "error: {} exists; edit it, or pass --force to write a new one",
            file.display()
        );
        return 2;
    }
    let mut text = String::from(
        "# What `eng-intel import run` reads (docs/DATA.md, \"Importing your own organisation\").\nrepositories:\n",
    );
    for r in repos {
        text.push_str(&format!("  - path: {}\n", r.display()));
        if let Some(gh) = github_of(r) {
            text.push_str(&format!(
                "    # github: {gh}      # also read its pull requests, reviews, deployments, incidents (GITHUB_TOKEN)\n"
            ));
        }
        text.push_str(
            "    # branch: main          # default: HEAD\n    # services:              # default: one per top-level directory with a package manifest\n    #   - name: payments-api\n    #     paths: [services/payments/**]\n",
        );
    }
    text.push_str(
        "# roster: people.csv         # name,email,team,manager,title,location,oncall,time_off\n# github:\n#   incident_label: incident  # issues with it are incidents\n#   production: \"prod*\"       # environments of production deployments\n# identities:\n#   people:\n#     - name: Ann Lee\n#       emails: [ann@old-company.example]\n#   bots: [\"release-robot*\"]\n# exclude:\n#   paths: [\"**/*.lock\", \"vendor/**\"]\n",
    );
    match std::fs::write(file, text) {
        Ok(()) => {
            println!(
                "wrote {}; check it with `eng-intel import check`, then run `eng-intel import run`",
                file.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", file.display());
            2
        }
    }
}

fn load(file: &Path) -> Result<import::ImportConfig, u8> {
    match import::load_config(file) {
        Ok((config, warnings)) => {
            eprint!("{warnings}");
            Ok(config)
        }
        Err(report) => {
            eprint!("{report}");
            eprintln!(
                "error: {} has {} error(s)",
                file.display(),
                report.errors().max(1)
            );
            Err(1)
        }
    }
}

/// A bar (or a spinner, without a total) per phase; a line on stderr when it ends.
#[derive(Default)]
struct Bars {
    current: Mutex<Option<(ProgressBar, String, Instant)>>,
}

impl Progress for Bars {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.finish();
        let bar = match total {
            Some(n) => {
                let b = ProgressBar::new(n);
                b.set_style(
                    ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b
            }
            None => {
                let b = ProgressBar::new_spinner();
                b.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {pos}").expect("valid template"),
                );
                b.enable_steady_tick(std::time::Duration::from_millis(100));
                b
            }
        };
        bar.set_message(name.to_string());
        *self.current.lock().expect("lock") = Some((bar, name.to_string(), Instant::now()));
    }

    fn set(&self, done: u64) {
        if let Some((bar, _, _)) = &*self.current.lock().expect("lock") {
            bar.set_position(done);
        }
    }

    fn finish(&self) {
        if let Some((bar, name, t)) = self.current.lock().expect("lock").take() {
            bar.finish_and_clear();
            eprintln!("{name}: done in {:.1} s", t.elapsed().as_secs_f64());
        }
    }
}

/// `owner/name` when the clone's `origin` is on github.com.
fn github_of(repo: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["remote", "get-url", "origin"])
        .output()
        .ok()?;
    let url = String::from_utf8(out.stdout).ok()?;
    let rest = url.trim().split("github.com").nth(1)?;
    let path = rest.trim_start_matches([':', '/']).trim_end_matches(".git");
    let mut parts = path.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !name.is_empty() && parts.next().is_none())
        .then(|| format!("{owner}/{name}"))
}
