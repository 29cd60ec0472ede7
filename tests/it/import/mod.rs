//! `eng-intel import` on a real repository's history: the axum bundle
//! (`../shared/data/axum.bundle`, or `AXUM_BUNDLE`), cloned into a temp dir. Expected
//! facts are computed here from `git log` itself — commits, people, crates, pull request
//! numbers, co-authors — never copied from the importer's output; then the engine (offline
//! model) answers questions over the imported stores and its answers are checked against
//! those facts.
//!
//! - `history`: what the stores hold against `git log`;
//! - `questions`: questions through the engine;
//! - `identities`: `.mailmap`, bot patterns and `exclude` on the real history;
//! - `incremental`: a second import reads only new commits and ends in the same rows;
//! - `backends`: imported into PostgreSQL + ClickHouse + Bolt, the same answers as embedded
//!   (skipped visibly without the servers);
//! - `cli`: `eng-intel import init|check|run` through the binary;
//! - `config`: import.yaml and roster findings with `file:line:col`; the roster's teams,
//!   managers, on-call and time off;
//! - `github`: GitHub's side from a fake GitHub (support/fake_github.rs): pagination, rate
//!   limits, ETags, a resumed cursor, deployments and incidents, DORA and collaborators.

mod backends;
mod cli;
mod config;
mod github;
mod history;
mod identities;
mod incremental;
mod questions;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use eng_intel::import::{self, Options, Quiet, Summary};

use crate::support::{Vars, skip};

/// The bundle, or None (the test is skipped visibly) when it is not on this machine.
pub fn bundle() -> Option<PathBuf> {
    let p = std::env::var("AXUM_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/axum.bundle")
        });
    if p.is_file() {
        Some(p)
    } else {
        skip(&format!(
            "the axum bundle is not at {} (set AXUM_BUNDLE)",
            p.display()
        ));
        None
    }
}

/// Runs git in `dir`, returning stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Clones the bundle into `parent/axum`.
pub fn clone_into(bundle: &Path, parent: &Path) -> PathBuf {
    let dest = parent.join("axum");
    let out = Command::new("git")
        .args(["clone", "-q"])
        .arg(bundle)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dest
}

/// Writes an import.yaml next to the clone and loads it.
pub fn config_for(dir: &Path, extra: &str) -> import::ImportConfig {
    let file = dir.join("import.yaml");
    std::fs::write(&file, format!("repositories:\n  - path: axum\n{extra}")).unwrap();
    match import::load_config(&file) {
        Ok((c, _)) => c,
        Err(r) => panic!("{r}"),
    }
}

/// Imports into `data` (the SQLite file only: no server variables).
pub async fn run_import(config: &import::ImportConfig, data: &Path) -> Summary {
    run_import_with(config, &Vars::new().data_dir(data).settings()).await
}

/// Imports into the stores of `settings`.
pub async fn run_import_with(
    config: &import::ImportConfig,
    settings: &eng_intel::settings::Settings,
) -> Summary {
    import::import(config, settings, &Options::default(), &Quiet)
        .await
        .unwrap()
}

/// One commit as `git log` tells it.
#[derive(Debug, Clone)]
pub struct GitCommit {
    pub sha: String,
    pub parents: usize,
    pub name: String,
    pub email: String,
    /// Author date.
    pub at: DateTime<Utc>,
    pub committed: DateTime<Utc>,
    pub subject: String,
    /// (path, lines added + deleted, binary)
    pub files: Vec<(String, i64, bool)>,
    pub co_authors: Vec<(String, String)>,
}

impl GitCommit {
    pub fn is_bot(&self) -> bool {
        self.name.contains("[bot]")
    }
}

/// Every commit of HEAD, from `git log` (mailmap applied by `%aN`/`%aE`), with co-authors
/// from git's own trailer parsing.
pub fn git_log(repo: &Path) -> Vec<GitCommit> {
    let text = git(
        repo,
        &[
            "log",
            "--no-renames",
            "--numstat",
            "--format=@@@%H%x09%P%x09%aN%x09%aE%x09%at%x09%ct%x09%s",
        ],
    );
    let mut out: Vec<GitCommit> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("@@@") {
            let f: Vec<&str> = h.splitn(7, '\t').collect();
            let time = |t: &str| DateTime::from_timestamp(t.parse().unwrap(), 0).unwrap();
            out.push(GitCommit {
                sha: f[0].into(),
                parents: f[1].split_whitespace().count(),
                name: f[2].into(),
                email: f[3].into(),
                at: time(f[4]),
                committed: time(f[5]),
                subject: f[6].into(),
                files: vec![],
                co_authors: vec![],
            });
        } else if let Some(c) = out.last_mut() {
            let f: Vec<&str> = line.splitn(3, '\t').collect();
            if f.len() == 3 {
                let n = |s: &str| s.parse::<i64>().ok();
                let binary = n(f[0]).is_none();
                let lines = n(f[0]).unwrap_or(0) + n(f[1]).unwrap_or(0);
                c.files.push((f[2].to_string(), lines, binary));
            }
        }
    }
    let trailers = git(
        repo,
        &[
            "log",
            "--format=%H%x09%(trailers:key=Co-authored-by,valueonly,separator=%x1f)",
        ],
    );
    let mut co: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for line in trailers.lines() {
        let Some((sha, values)) = line.split_once('\t') else {
            continue;
        };
        for v in values.split('\x1f').filter(|v| !v.trim().is_empty()) {
            if let Some((name, rest)) = v.split_once('<') {
                let email = rest.trim_end().trim_end_matches('>').trim().to_string();
                co.entry(sha.into())
                    .or_default()
                    .push((name.trim().to_string(), email));
            }
        }
    }
    for c in &mut out {
        c.co_authors = co.remove(&c.sha).unwrap_or_default();
    }
    out
}

/// The crates: top-level directories with a Cargo.toml that has `[package]`.
pub fn crates(repo: &Path) -> Vec<String> {
    let mut out: Vec<String> = git(repo, &["ls-tree", "--name-only", "-d", "HEAD"])
        .lines()
        .filter(|d| {
            std::fs::read_to_string(repo.join(d).join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[package]"))
        })
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// The crate a commit counts for, as docs/DATA.md defines it: the one whose files it
/// changed most lines of (a binary file is one line), then most files, then the first in
/// name order; files outside every crate are `axum-other`.
pub fn crate_of(c: &GitCommit, crates: &[String]) -> String {
    let mut per: BTreeMap<usize, (i64, usize)> = BTreeMap::new();
    for (path, lines, binary) in &c.files {
        let top = path.split('/').next().unwrap_or("");
        let i = crates.iter().position(|k| k == top).unwrap_or(crates.len());
        let e = per.entry(i).or_default();
        e.0 += if *binary { 1 } else { *lines };
        e.1 += 1;
    }
    let best = per
        .iter()
        .max_by_key(|(i, (l, n))| (*l, *n, std::cmp::Reverse(**i)))
        .map_or(crates.len(), |(i, _)| *i);
    crates
        .get(best)
        .cloned()
        .unwrap_or_else(|| "axum-other".into())
}

/// People as the import defines them: identities sharing an e-mail, or a name (case and
/// accents aside), or whose GitHub no-reply login is another's name, are one. Maps each
/// (name, e-mail) of a non-bot author or co-author to a group number.
pub fn people(commits: &[GitCommit]) -> HashMap<(String, String), usize> {
    // Co-authors take part: one may be the link between two spellings.
    let ids: Vec<(String, String)> = {
        let bot = |n: &str, e: &str| n.contains("[bot]") || e.contains("[bot]");
        let mut v: Vec<(String, String)> = commits
            .iter()
            .flat_map(|c| {
                std::iter::once((c.name.clone(), c.email.clone()))
                    .chain(c.co_authors.iter().cloned())
            })
            .filter(|(n, e)| !bot(n, e))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let fold = eng_intel::understand::text::fold;
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        r
    }
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, (name, email)) in ids.iter().enumerate() {
        let email = email.to_lowercase();
        let mut keys = vec![format!("e:{email}"), format!("n:{}", fold(name.trim()))];
        if let Some(local) = email.strip_suffix("@users.noreply.github.com") {
            let login = local.split_once('+').map_or(local, |(_, l)| l);
            keys.push(format!("n:{}", fold(login)));
        }
        for k in keys {
            match by_key.get(&k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    by_key.insert(k, i);
                }
            }
        }
    }
    (0..ids.len())
        .map(|i| (ids[i].clone(), find(&mut parent, i)))
        .collect()
}

/// The imported axum history, shared by the tests that only read it.
pub struct Imported {
    pub _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub commits: Vec<GitCommit>,
    pub crates: Vec<String>,
    pub summary: Summary,
}

/// Clones and imports once for all the tests that only read (None: skipped).
pub fn imported() -> Option<&'static Imported> {
    static ONCE: OnceLock<Imported> = OnceLock::new();
    let bundle = bundle()?;
    Some(ONCE.get_or_init(|| {
        std::thread::spawn(move || {
            let dir = tempfile::tempdir().unwrap();
            let repo = clone_into(&bundle, dir.path());
            let data = dir.path().join("data");
            let config = config_for(dir.path(), "");
            let rt = tokio::runtime::Runtime::new().unwrap();
            let summary = rt.block_on(run_import(&config, &data));
            Imported {
                commits: git_log(&repo),
                crates: crates(&repo),
                data,
                summary,
                _dir: dir,
            }
        })
        .join()
        .unwrap()
    }))
}

/// A read-only connection to an imported SQLite file.
pub async fn db(data: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        eng_intel::store::sqlite_path(data).display()
    ))
    .await
    .unwrap()
}

/// Who worked with whom, as docs/DATA.md defines `collaborations`, from `git log`:
/// (kind, group, group) with the smaller group first → (weight, latest author date).
/// Written naively (every pair of changes of a file), apart from the importer's sweep.
pub fn collaborations(
    commits: &[GitCommit],
) -> BTreeMap<(&'static str, usize, usize), (i64, DateTime<Utc>)> {
    let group = people(commits);
    let mut out: BTreeMap<(&'static str, usize, usize), (i64, DateTime<Utc>)> = BTreeMap::new();
    let mut add = |key: (&'static str, usize, usize), at: DateTime<Utc>| {
        let e = out.entry(key).or_insert((0, at));
        e.0 += 1;
        e.1 = e.1.max(at);
    };
    let mut by_file: HashMap<&str, Vec<(DateTime<Utc>, usize)>> = HashMap::new();
    for c in commits.iter().filter(|c| !c.is_bot()) {
        let mut who = vec![group[&(c.name.clone(), c.email.clone())]];
        for g in c.co_authors.iter().filter_map(|id| group.get(id)) {
            if !who.contains(g) {
                who.push(*g);
            }
        }
        for (i, &a) in who.iter().enumerate() {
            for &b in &who[i + 1..] {
                add(("co_authored", a.min(b), a.max(b)), c.at);
            }
        }
        if c.files.len() <= 30 {
            for (path, ..) in &c.files {
                by_file
                    .entry(path)
                    .or_default()
                    .extend(who.iter().map(|&g| (c.at, g)));
            }
        }
    }
    for changes in by_file.values() {
        let mut pairs: HashMap<(usize, usize), DateTime<Utc>> = HashMap::new();
        for (i, &(t1, a)) in changes.iter().enumerate() {
            for &(t2, b) in &changes[i + 1..] {
                if a != b && (t1 - t2).num_seconds().abs() <= 30 * 86_400 {
                    let at = pairs.entry((a.min(b), a.max(b))).or_insert(t1);
                    *at = (*at).max(t1).max(t2);
                }
            }
        }
        for ((a, b), at) in pairs {
            add(("co_changed", a, b), at);
        }
    }
    out
}

/// Each person (group) an employee of the import is, by their e-mail.
pub async fn group_of_employee(
    db: &sqlx::SqlitePool,
    commits: &[GitCommit],
) -> HashMap<i64, usize> {
    let by_email: HashMap<String, usize> = people(commits)
        .into_iter()
        .map(|((_, email), g)| (email.to_lowercase(), g))
        .collect();
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, email FROM employees")
        .fetch_all(db)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(id, email)| (id, by_email[&email.to_lowercase()]))
        .collect()
}
