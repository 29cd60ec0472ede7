//! `eng-intel import` speed: commits per second on the axum bundle (a real history:
//! ~2,000 commits, four crates) and on synthetic histories of two sizes (default 20,000
//! and 100,000 commits, `BENCH_SIZES=a,b`), made with `git fast-import`, to show that the
//! import stays linear. Each history is imported into a fresh data dir (SQLite only), then
//! imported again with nothing new (the incremental path). Phases: reading (`git log`
//! streamed and parsed, the cache written), building the organisation, loading SQLite.
//! Run: `cargo bench --bench import` (see bench/README.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eng_intel::import::{self, Options, Quiet};
use eng_intel::settings::Settings;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "20000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    println!("| history | commits | read | build | load SQLite | total | commits/s | second run |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let bundle = std::env::var("AXUM_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/axum.bundle")
        });
    if bundle.is_file() {
        let repo = tmp.path().join("axum");
        run(Command::new("git")
            .args(["clone", "-q"])
            .arg(&bundle)
            .arg(&repo));
        rt.block_on(measure("axum (real)", &repo, &tmp.path().join("data-axum")));
    } else {
        eprintln!("note: no axum bundle at {} (AXUM_BUNDLE)", bundle.display());
    }
    for n in sizes {
        let repo = tmp.path().join(format!("synthetic-{n}"));
        let t = Instant::now();
        synthetic(&repo, n);
        eprintln!(
            "made a {n}-commit history in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        rt.block_on(measure(
            &format!("synthetic {n}"),
            &repo,
            &tmp.path().join(format!("data-{n}")),
        ));
    }
}

async fn measure(label: &str, repo: &Path, data: &Path) {
    let file = repo
        .parent()
        .unwrap()
        .join(format!("{label}.yaml").replace(' ', "-"));
    std::fs::write(
        &file,
        format!("repositories:\n  - path: {}\n", repo.display()),
    )
    .unwrap();
    let (config, _) = import::load_config(&file).unwrap();
    let settings = Settings::from_lookup(|k| (k == "DATA_DIR").then(|| data.display().to_string()));
    let first = import::import(&config, &settings, &Options::default(), &Quiet)
        .await
        .unwrap();
    let read: Duration = first.repos.iter().map(|r| r.took).sum();
    let load: Duration = first.loaded.iter().map(|l| l.1).sum();
    let commits = first.stats.commits_read;
    let t = Instant::now();
    let second = import::import(&config, &settings, &Options::default(), &Quiet)
        .await
        .unwrap();
    assert_eq!(second.repos[0].new, 0);
    let again = t.elapsed();
    println!(
        "| {label} | {commits} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.0} | {:.2} s |",
        read.as_secs_f64(),
        first.built_in.as_secs_f64(),
        load.as_secs_f64(),
        first.took.as_secs_f64(),
        commits as f64 / first.took.as_secs_f64(),
        again.as_secs_f64()
    );
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A history of `n` commits by 40 people over 4 crates and a docs directory, each commit
/// changing one or two files, every 5th a squash-merged PR subject, through `git fast-import`.
fn synthetic(repo: &Path, n: usize) {
    run(Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(repo));
    for dir in ["alpha", "beta", "gamma", "delta"] {
        std::fs::create_dir_all(repo.join(dir)).unwrap();
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
    let dirs = ["alpha", "beta", "gamma", "delta", "docs"];
    let t0: i64 = 1_600_000_000;
    // Manifests first, so the crates are services.
    let blob = |w: &mut dyn Write, path: &str, text: &str| {
        writeln!(w, "M 100644 inline {path}\ndata {}\n{text}", text.len()).unwrap();
    };
    for i in 0..n {
        let who = (i * 7 + i / 13) % 40;
        let t = t0 + i as i64 * 600;
        let subject = if i % 5 == 0 {
            format!("change {i} (#{})", i / 5 + 1)
        } else {
            format!("change {i}")
        };
        writeln!(w, "commit refs/heads/main").unwrap();
        writeln!(w, "author Person {who} <p{who}@example.org> {t} +0000").unwrap();
        writeln!(w, "committer Person {who} <p{who}@example.org> {t} +0000").unwrap();
        writeln!(w, "data {}\n{subject}", subject.len()).unwrap();
        if i == 0 {
            for d in &dirs[..4] {
                blob(
                    &mut w,
                    &format!("{d}/Cargo.toml"),
                    &format!("[package]\nname = \"{d}\"\n[dependencies]\ntokio = \"1\"\n"),
                );
            }
        }
        let d = dirs[(i / 3 + who) % dirs.len()];
        let ext = if d == "docs" { "md" } else { "rs" };
        blob(
            &mut w,
            &format!("{d}/src/f{}.{ext}", i % 50),
            &format!("// {i}\nfn f() {{}}\n{}\n", "x".repeat(i % 7)),
        );
        if i % 4 == 0 {
            blob(
                &mut w,
                &format!("{d}/README.md"),
                &format!("revision {i}\n"),
            );
        }
        writeln!(w).unwrap();
    }
    drop(w);
    assert!(child.wait().unwrap().success());
    run(Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["reset", "-q", "--hard", "main"]));
}
