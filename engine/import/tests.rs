//! The importer end to end on small histories made here with `git`: two repositories (one
//! a fork of the other), service rules with a team, owner and tier, pull request numbers
//! kept apart per repository, the roster's people, and `services:` left to the default.

use std::path::Path;
use std::process::Command;

use super::{Options, Quiet, import, load_config};
use crate::settings::Settings;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `files` and commits them as `who` (name, e-mail) at day `day` of 2025.
fn commit(dir: &Path, who: (&str, &str), day: u32, subject: &str, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(dir, &["add", "-A"]);
    let date = format!("2025-03-{day:02}T10:00:00Z");
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            &format!("user.name={}", who.0),
            "-c",
            &format!("user.email={}", who.1),
        ])
        .args(["commit", "-q", "--allow-empty", "-m", subject])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const ANN: (&str, &str) = ("Ann Lee", "ann@example.org");
const BO: (&str, &str) = ("Bo Chen", "bo@example.org");
const CY: (&str, &str) = ("Cy Diaz", "cy@example.org");

#[tokio::test]
async fn two_repositories_rules_and_a_fork_make_one_organisation() {
    let dir = tempfile::tempdir().unwrap();
    let (api, web) = (dir.path().join("api"), dir.path().join("web"));
    std::fs::create_dir_all(&api).unwrap();
    git(&api, &["init", "-q"]);
    commit(
        &api,
        ANN,
        1,
        "Start the ledger (#1)",
        &[("ledger/src/lib.rs", "fn a() {}\n")],
    );
    commit(
        &api,
        BO,
        2,
        "Gateway routes (#2)",
        &[("gateway/main.go", "package main\n")],
    );
    commit(
        &api,
        BO,
        3,
        "More routes",
        &[("gateway/routes.go", "package main\n\nfunc r() {}\n")],
    );
    commit(&api, CY, 4, "Docs", &[("README.md", "# api\n")]);
    // The fork shares the first commits and adds its own.
    let out = Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(&api)
        .arg(&web)
        .output()
        .unwrap();
    assert!(out.status.success());
    commit(
        &web,
        CY,
        5,
        "Web app (#1)",
        &[
            (
                "app/package.json",
                "{\"dependencies\": {\"react\": \"18\"}}",
            ),
            ("app/index.ts", "export {}\n"),
        ],
    );

    std::fs::write(
        dir.path().join("import.yaml"),
        "repositories:\n  - path: api\n    services:\n      - name: ledger-service\n        paths: [ledger/**]\n        team: Payments\n        owner: bo@example.org\n        tier: critical\n      - name: api-gateway\n        paths: [gateway/**]\n      - name: idle-service\n        paths: [idle/**]\n  - path: web\n",
    )
    .unwrap();
    let (config, _) = load_config(&dir.path().join("import.yaml")).unwrap();
    let data = dir.path().join("data");
    let settings = Settings::from_lookup(|k| (k == "DATA_DIR").then(|| data.display().to_string()));
    let s = import(&config, &settings, &Options::default(), &Quiet)
        .await
        .unwrap();
    let o = &s.org;

    assert_eq!(s.stats.commits_read, 5);
    assert_eq!(
        s.stats.duplicates, 4,
        "the fork's shared history counts once"
    );
    let names: Vec<&str> = o.services.iter().map(|s| s.name.as_str()).collect();
    // api: its two rules and the rest; web (no rules): `app/` has a package manifest, and
    // its other service is left out, as nobody committed outside `app/` there.
    // A declared service stays without commits; a default one would be left out.
    assert_eq!(
        names,
        [
            "ledger-service",
            "api-gateway",
            "idle-service",
            "api-other",
            "app"
        ]
    );
    let ledger = &o.services[0];
    assert_eq!(ledger.tier, "critical");
    assert_eq!(
        o.employee(ledger.owner_id).name,
        "Bo Chen",
        "the configured owner"
    );
    assert_eq!(o.team(ledger.team_id).name, "Payments");
    assert_eq!(o.services[1].language, "Go");
    assert_eq!(
        o.employee(o.services[1].owner_id).name,
        "Bo Chen",
        "the top committer"
    );
    assert!(
        o.services[4].stack.contains(&"React".to_string()),
        "{:?}",
        o.services[4].stack
    );
    // PR #1 of each repository stays apart.
    let prs: Vec<i64> = o.pull_requests.iter().map(|p| p.id).collect();
    assert_eq!(prs, [1, 2, 1_000_001]);
    assert_eq!(o.as_of.unwrap().to_rfc3339(), "2025-03-06T00:00:00+00:00");
    let skills: Vec<&str> = o.skills.iter().map(|s| s.name.as_str()).collect();
    assert!(
        skills.contains(&"Rust") && skills.contains(&"Go") && skills.contains(&"TypeScript"),
        "{skills:?}"
    );
}
