//! A second import reads only the commits that are new since the first, ends in the same
//! rows as one import of the whole history, and a third one changes nothing.

use std::path::Path;

use eng_intel::dataset::{METRICS, RELATIONAL};

use super::{bundle, clone_into, config_for, db, git, imported, run_import};

/// Rows per table of an imported SQLite file, and the commits' derived columns.
async fn rows(data: &Path) -> (Vec<(String, i64)>, Vec<(String, String, String, i64)>) {
    let db = db(data).await;
    let mut counts = Vec::new();
    for t in RELATIONAL.iter().chain(METRICS) {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            t.name
        )))
        .fetch_one(&db)
        .await
        .unwrap();
        counts.push((t.name.to_string(), n));
    }
    let commits = sqlx::query_as("SELECT sha, author, service, pr_id FROM commits ORDER BY sha")
        .fetch_all(&db)
        .await
        .unwrap();
    (counts, commits)
}

#[tokio::test]
async fn a_second_import_reads_only_new_commits_and_a_third_changes_nothing() {
    let Some(bundle) = bundle() else { return };
    let Some(whole) = imported() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = clone_into(&bundle, dir.path());
    let data = dir.path().join("data");
    let config = config_for(dir.path(), "");
    let head = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    let total: usize = git(&repo, &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap();

    // The clone as it was 40 commits ago (first parents).
    git(&repo, &["reset", "-q", "--hard", "HEAD~40"]);
    let older: usize = git(&repo, &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap();
    let first = run_import(&config, &data).await;
    assert_eq!(first.repos[0].new, older);
    assert!(first.repos[0].from_scratch);

    // New commits arrive: only they are read, and the rows are those of one whole import.
    git(&repo, &["reset", "-q", "--hard", &head]);
    let second = run_import(&config, &data).await;
    assert_eq!(
        second.repos[0].new,
        total - older,
        "only the new commits are read"
    );
    assert!(!second.repos[0].from_scratch);
    assert_eq!(second.repos[0].total, total);
    assert_eq!(second.loaded.len(), 1, "the store is reloaded with them");
    let after = rows(&data).await;
    assert_eq!(after, rows(&whole.data).await, "incremental = whole import");

    // Nothing new: nothing read, the store already holds it, the same rows.
    let third = run_import(&config, &data).await;
    assert_eq!(third.repos[0].new, 0);
    assert!(
        third.loaded.is_empty() && third.held.len() == 1,
        "{:?}",
        third.held
    );
    assert_eq!(rows(&data).await, after);

    // A cache cut short is noticed, and the history read again: the same rows.
    let cached = data.join("import/axum.commits.jsonl");
    let text = std::fs::read_to_string(&cached).unwrap();
    let half: String = text.lines().take(100).map(|l| format!("{l}\n")).collect();
    std::fs::write(&cached, half).unwrap();
    let again = run_import(&config, &data).await;
    assert!(again.repos[0].from_scratch);
    assert_eq!(again.repos[0].new, total);
    assert_eq!(rows(&data).await, after);

    // A rewritten history (a force-push) is read again from scratch.
    git(&repo, &["reset", "-q", "--hard", "HEAD~3"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=Rewriter",
            "-c",
            "user.email=rewriter@example.org",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "rewritten",
        ],
    );
    let fourth = run_import(&config, &data).await;
    assert!(fourth.repos[0].from_scratch);
    assert_eq!(fourth.repos[0].total, total - 3 + 1);
    let commits: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM commits WHERE author = 'Rewriter'")
        .fetch_one(&db(&data).await)
        .await
        .unwrap();
    assert_eq!(commits, 1);
}
