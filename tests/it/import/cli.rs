//! `eng-intel import init|check|run` as a manager runs them: the exit codes, the per-phase
//! progress lines and the summary of what was read, merged and skipped.

use std::process::Command;

use super::{bundle, clone_into, git};
use crate::support::BIN;

fn eng_intel(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("POSTGRES_HOST")
        .env_remove("CLICKHOUSE_HOST")
        .env_remove("NEO4J_URI")
        .env_remove("DATA_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_check_run_and_run_again() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = clone_into(&bundle, dir.path());
    let total = git(&repo, &["rev-list", "--count", "HEAD"])
        .trim()
        .to_string();
    let bots = git(&repo, &["log", "--format=%aN"])
        .lines()
        .filter(|n| n.contains("[bot]"))
        .count();

    // A clone of GitHub's axum: init offers its GitHub side, commented out.
    git(
        &repo,
        &[
            "remote",
            "set-url",
            "origin",
            "git@github.com:tokio-rs/axum.git",
        ],
    );
    let (code, out, err) = eng_intel(dir.path(), &["import", "init", "axum"]);
    assert_eq!(code, 0, "{out}{err}");
    let written = std::fs::read_to_string(dir.path().join("import.yaml")).unwrap();
    assert!(
        written.contains("\n    # github: tokio-rs/axum "),
        "{written}"
    );
    let (code, out, err) = eng_intel(dir.path(), &["import", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("import.yaml: ok"), "{out}");

    let (code, out, err) = eng_intel(dir.path(), &["import", "run", "--data-dir", "data"]);
    assert_eq!(code, 0, "{out}{err}");
    for phase in [
        "reading axum: done in",
        "building the organisation: done in",
        "eng-intel.sqlite: done in",
    ] {
        assert!(err.contains(phase), "no {phase:?} in:\n{err}");
    }
    assert!(
        out.contains(&format!("read axum: {total} new commit(s), whole history")),
        "{out}"
    );
    assert!(
        out.contains(&format!("skipped: {bots} commits by 1 bot(s) (dependabot)")),
        "{out}"
    );
    assert!(out.contains("eng-intel.sqlite: loaded in"), "{out}");

    let (code, out, err) = eng_intel(dir.path(), &["import", "run", "--data-dir", "data"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("read axum: 0 new commit(s) up to"), "{out}");
    assert!(
        out.contains("already held this import, left as it is"),
        "{out}"
    );

    // A broken file: exit 1 and the finding at file:line:col.
    std::fs::write(
        dir.path().join("broken.yaml"),
        "repositories:\n  - path: axum\n    brnch: main\n",
    )
    .unwrap();
    let (code, out, err) = eng_intel(dir.path(), &["import", "check", "broken.yaml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("broken.yaml:3:5: error[E002]"), "{err}");
}
