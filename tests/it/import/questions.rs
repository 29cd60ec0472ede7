//! Questions a manager would ask about their own team, through the supervisor with the
//! offline model over the imported axum history; the answers are checked against facts
//! computed from `git log`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Duration;
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};

use super::history::bus_factors;
use super::{Imported, collaborations, crate_of, imported, people};
use crate::support::server::{Options, Server};
use crate::support::{Vars, config};

/// The stores the import filled (already loaded: opening them loads nothing).
async fn stores(imp: &Imported) -> eng_intel::toolbox::Toolbox {
    eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(&imp.data).settings(), &|m| {
        panic!("the import was already loaded, yet: {m}")
    })
    .await
    .unwrap()
}

async fn engine(imp: &Imported) -> Engine {
    Engine::new(config(), Arc::new(OfflineModel), stores(imp).await.tools())
}

/// The real server over the imported stores, and the directory of its threads.
async fn serve(imp: &Imported) -> (Server, tempfile::TempDir) {
    let threads = tempfile::tempdir().unwrap();
    let mut o = Options::new(threads.path());
    o.tools = stores(imp).await.tools();
    (Server::start(o).await, threads)
}

/// The answer and the tools called.
async fn ask(engine: &Engine, q: &str) -> (String, Vec<String>) {
    let mut answer = String::new();
    let mut tools = Vec::new();
    for e in engine
        .run_collect(RunRequest {
            question: q.into(),
            ..Default::default()
        })
        .await
    {
        match e.event {
            Event::ToolStart { tool, .. } => tools.push(tool),
            Event::Response { content } => answer = content,
            _ => {}
        }
    }
    (answer, tools)
}

/// Each person's display name (the group's most used spelling) and commits, per crate.
fn per_crate(
    imp: &Imported,
) -> (
    BTreeMap<String, HashMap<usize, usize>>,
    HashMap<usize, String>,
) {
    let group = people(&imp.commits);
    let mut spellings: HashMap<usize, BTreeMap<String, usize>> = HashMap::new();
    let mut out: BTreeMap<String, HashMap<usize, usize>> = BTreeMap::new();
    for c in imp.commits.iter().filter(|c| !c.is_bot()) {
        let g = group[&(c.name.clone(), c.email.clone())];
        *spellings
            .entry(g)
            .or_default()
            .entry(c.name.clone())
            .or_default() += 1;
        *out.entry(crate_of(c, &imp.crates))
            .or_default()
            .entry(g)
            .or_default() += 1;
    }
    let names = spellings
        .into_iter()
        .map(|(g, s)| {
            let best = s
                .into_iter()
                .max_by_key(|(n, k)| {
                    (
                        *k,
                        n.chars().filter(|c| !c.is_ascii()).count(),
                        std::cmp::Reverse(n.clone()),
                    )
                })
                .unwrap()
                .0;
            (g, best)
        })
        .collect();
    (out, names)
}

#[tokio::test]
async fn who_knows_a_crate_best_is_its_top_committer() {
    let Some(imp) = imported() else { return };
    let engine = engine(imp).await;
    let (crates, names) = per_crate(imp);
    for krate in ["axum-extra", "axum-macros"] {
        let (&top, &n) = crates[krate]
            .iter()
            .max_by_key(|(g, n)| (**n, std::cmp::Reverse(names[g].clone())))
            .unwrap();
        let (answer, tools) = ask(&engine, &format!("Who knows {krate} best?")).await;
        assert_eq!(
            tools.first().map(String::as_str),
            Some("experts"),
            "{answer}"
        );
        let first = answer.lines().find(|l| l.starts_with("- ")).unwrap_or("");
        assert!(
            first.contains(&format!("**{}**", names[&top]))
                && first.contains(&format!("{n} commits")),
            "{krate}: expected {} with {n} commits first:\n{answer}",
            names[&top]
        );
    }
}

/// The same question over HTTP: the server's sync chat over the imported stores.
#[tokio::test]
async fn over_http_the_server_answers_from_the_imported_history() {
    let Some(imp) = imported() else { return };
    let (crates, names) = per_crate(imp);
    let (&top, &n) = crates["axum-core"]
        .iter()
        .max_by_key(|(g, n)| (**n, std::cmp::Reverse(names[g].clone())))
        .unwrap();
    let (server, _threads) = serve(imp).await;
    let res = server
        .post(
            "/api/chat/sync",
            &serde_json::json!({"message": "Who knows axum-core best?"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let answer = body["response"].as_str().unwrap_or_default();
    let first = answer.lines().find(|l| l.starts_with("- ")).unwrap_or("");
    assert!(
        first.contains(&format!("**{}**", names[&top])) && first.contains(&format!("{n} commits")),
        "expected {} with {n} commits first:\n{answer}",
        names[&top]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_crate_that_depends_most_on_few_people_comes_first() {
    let Some(imp) = imported() else { return };
    let engine = engine(imp).await;
    let ranked = bus_factors(imp);
    let (answer, tools) = ask(&engine, "Which crate depends on one person?").await;
    assert_eq!(
        tools.first().map(String::as_str),
        Some("knowledge_silos"),
        "{answer}"
    );
    let (bus, committers, name) = &ranked[0];
    let expected = if *bus == 1 {
        format!("**{name}**")
    } else {
        format!("{name} (bus factor {bus}, {committers} committers)")
    };
    assert!(
        answer.contains(&expected),
        "expected {expected:?} in:\n{answer}"
    );
}

#[tokio::test]
async fn what_someone_has_been_working_on_counts_their_recent_commits() {
    let Some(imp) = imported() else { return };
    let engine = engine(imp).await;
    let group = people(&imp.commits);
    let (_, names) = per_crate(imp);
    // "Now" is the midnight (UTC) after the newest commit date; "lately" is the 30 days
    // before it, by author date.
    let newest = imp
        .commits
        .iter()
        .filter(|c| !c.is_bot())
        .map(|c| c.committed)
        .max()
        .unwrap();
    let now = (newest.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let since = now - Duration::days(30);
    let mut recent: HashMap<usize, (usize, i64)> = HashMap::new();
    for c in imp
        .commits
        .iter()
        .filter(|c| !c.is_bot() && c.at >= since && c.at < now)
    {
        let e = recent
            .entry(group[&(c.name.clone(), c.email.clone())])
            .or_default();
        e.0 += 1;
    }
    // The most active person whose name is a first and last name (what people ask about).
    let (g, (n, _)) = recent
        .iter()
        .filter(|(g, _)| names[*g].split_whitespace().count() == 2)
        .max_by_key(|(g, (n, _))| (*n, std::cmp::Reverse(names[*g].clone())))
        .expect("someone committed in the last 30 days");
    let who = &names[g];
    let (answer, tools) = ask(&engine, &format!("What has {who} been working on lately?")).await;
    assert_eq!(
        tools.first().map(String::as_str),
        Some("developer_activity"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("**{who}** made {n} commits")),
        "expected {who} with {n} commits:\n{answer}"
    );
}

/// "Who does X work with most?" over HTTP, on git alone: most commits co-authored, then
/// most files changed within 30 days of each other, then by name — from `git log`.
#[tokio::test]
async fn over_http_who_someone_works_with_most_is_their_closest_co_author() {
    let Some(imp) = imported() else { return };
    let (_, names) = per_crate(imp);
    let pairs = collaborations(&imp.commits);
    // Per person: every other's (co-authored, co-changed).
    let mut with: HashMap<usize, HashMap<usize, (i64, i64)>> = HashMap::new();
    for (&(kind, a, b), &(n, _)) in &pairs {
        for (x, y) in [(a, b), (b, a)] {
            let e = with.entry(x).or_default().entry(y).or_default();
            if kind == "co_authored" {
                e.0 += n;
            } else {
                e.1 += n;
            }
        }
    }
    let closest = |x: usize| {
        with[&x]
            .iter()
            .max_by_key(|(y, (a, c))| (*a, *c, std::cmp::Reverse(names.get(*y).cloned())))
            .map(|(y, _)| *y)
            .unwrap()
    };
    // The person with most co-authored commits whose name is a first and last name (what
    // people ask about) and whose closest collaborator authored commits (so has a name).
    let (who, other) = with
        .iter()
        .filter(|(x, _)| {
            names
                .get(*x)
                .is_some_and(|n| n.split_whitespace().count() == 2)
        })
        .map(|(x, w)| (*x, w.values().map(|v| v.0).sum::<i64>()))
        .filter(|(x, _)| names.contains_key(&closest(*x)))
        .max_by_key(|(x, n)| (*n, std::cmp::Reverse(names[x].clone())))
        .map(|(x, _)| (names[&x].clone(), names[&closest(x)].clone()))
        .expect("someone in axum co-authored commits");
    let (server, _threads) = serve(imp).await;
    let res = server
        .post(
            "/api/chat/sync",
            &serde_json::json!({"message": format!("Who does {who} work with most?")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let answer = body["response"].as_str().unwrap_or_default();
    assert!(
        answer.contains(&format!("works most closely with **{other}**")),
        "expected {who}'s closest collaborator to be {other}:\n{answer}"
    );
    server.stop().await;
}
