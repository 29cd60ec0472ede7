//! The identity rules on the real history: `.mailmap` (for authors and `Co-authored-by:`
//! alike), bot patterns from import.yaml, and what `exclude` leaves out.

use std::collections::BTreeMap;

use super::{bundle, clone_into, config_for, db, git_log, run_import};

#[tokio::test]
async fn mailmap_bots_and_exclusions_apply() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = clone_into(&bundle, dir.path());
    let before = git_log(&repo);
    let human: Vec<_> = before.iter().filter(|c| !c.is_bot()).collect();

    // The e-mail most used in Co-authored-by trailers, renamed by .mailmap.
    let mut co: BTreeMap<String, usize> = BTreeMap::new();
    for c in &human {
        for (_, e) in &c.co_authors {
            *co.entry(e.to_lowercase()).or_default() += 1;
        }
    }
    let (co_email, _) = co
        .iter()
        .max_by_key(|(e, n)| (**n, std::cmp::Reverse((*e).clone())))
        .unwrap();
    std::fs::write(
        repo.join(".mailmap"),
        format!("Mapped Person <{co_email}>\n"),
    )
    .unwrap();
    let mapped_commits = human
        .iter()
        .filter(|c| c.email.eq_ignore_ascii_case(co_email))
        .count();

    // Someone else declared a bot, and a third person excluded (by e-mail).
    let mut authors: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &human {
        if !c.email.eq_ignore_ascii_case(co_email) {
            *authors
                .entry((c.name.clone(), c.email.clone()))
                .or_default() += 1;
        }
    }
    let mut ranked: Vec<(&(String, String), &usize)> = authors.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    // Picked where their name and e-mail are theirs alone in the history.
    let alone = |(name, email): &(String, String)| {
        human
            .iter()
            .all(|c| (c.name == *name) == (c.email == *email))
    };
    let mut unique = ranked.iter().filter(|(id, _)| alone(id)).skip(2);
    let (bot, bot_n) = unique.next().unwrap();
    let (excluded, excluded_n) = unique.next().unwrap();

    let config = config_for(
        dir.path(),
        &format!(
            "identities:\n  bots: [\"{}\"]\nexclude:\n  people: [\"{}\"]\n  paths: [\"**/*.md\"]\n",
            bot.0, excluded.1
        ),
    );
    let data = dir.path().join("data");
    let summary = run_import(&config, &data).await;
    let s = &summary.stats;
    assert_eq!(s.bot_commits, before.len() - human.len() + **bot_n);
    assert_eq!(s.excluded_commits, **excluded_n);

    let db = db(&data).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM commits WHERE author = 'Mapped Person'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(n as usize, mapped_commits, ".mailmap renames the author");
    assert!(
        s.co_authors
            .iter()
            .any(|(a, b, _)| a == "Mapped Person" || b == "Mapped Person"),
        ".mailmap renames the co-author too: {:?}",
        &s.co_authors[..s.co_authors.len().min(5)]
    );
    let bots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM employees WHERE name = ?")
        .bind(&bot.0)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(bots, 0, "a declared bot is no employee");

    // Lines of Markdown files are not counted.
    let kept = |c: &&&super::GitCommit| {
        !c.name.eq_ignore_ascii_case(&bot.0) && !c.email.eq_ignore_ascii_case(&excluded.1)
    };
    let expected: i64 = human
        .iter()
        .filter(kept)
        .flat_map(|c| c.files.iter())
        .filter(|(p, _, _)| !p.to_lowercase().ends_with(".md"))
        .map(|(_, l, _)| *l)
        .sum();
    let lines: i64 = sqlx::query_scalar("SELECT SUM(additions + deletions) FROM commits")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(lines, expected);
}
