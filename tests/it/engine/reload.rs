//! Reload with its diff (or the running config kept on errors), and `serve --watch`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eng_intel::model::offline::OfflineModel;
use eng_intel::reload::{Changes, reload};
use eng_intel::run::{Engine, RunRequest, answer_of};
use eng_intel::tools::MockTools;
use eng_intel::watch;
use serde_json::json;

use super::graph_tests::{GRAPH, TOOLS, project};
use crate::support::{compiled, write};

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<watch::Outcome>) -> watch::Outcome {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a reload within 10 s")
        .expect("the watcher is running")
}

fn engine_for(root: &Path) -> Arc<Engine> {
    let set = compiled(root);
    let tools = MockTools::new([("headcount".to_string(), json!({"total": 18}))].into());
    Arc::new(Engine::new(set, Arc::new(OfflineModel), Arc::new(tools)))
}

fn changes(added: &[&str], changed: &[&str], removed: &[&str]) -> Changes {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
    Changes {
        added: v(added),
        changed: v(changed),
        removed: v(removed),
    }
}

#[tokio::test]
async fn reload_swaps_and_says_what_changed_or_keeps_the_config() {
    let dir = project(&[("graphs/main.yaml", GRAPH)]);
    let engine = engine_for(dir.path());
    let before = engine.config();
    assert!(reload(&engine, dir.path()).unwrap().is_empty());
    assert!(Arc::ptr_eq(&before, &engine.config()), "no change, no swap");

    write(
        dir.path(),
        "prompts/people.j2",
        "You count people carefully. {{ question }}",
    );
    write(dir.path(), "prompts/extra.j2", "More.");
    write(
        dir.path(),
        "graphs/second.yaml",
        "name: second\nstart: t\nnodes:\n  t: { kind: template, template: hi }\nedges: [t -> END]\n",
    );
    write(
        dir.path(),
        "tools.yaml",
        &TOOLS.replace("Open tickets per engineer.", "Open tickets."),
    );
    let diff = reload(&engine, dir.path()).unwrap();
    assert_eq!(diff.graphs, changes(&["second"], &[], &[]));
    assert_eq!(diff.tools, changes(&[], &["workload"], &[]));
    assert_eq!(diff.prompts, changes(&["extra"], &["people"], &[]));
    assert_eq!(
        diff.to_string(),
        "graphs: added second; tools: changed workload; prompts: added extra, changed people"
    );
    assert!(engine.config().graph("second").is_some());

    std::fs::remove_file(dir.path().join("graphs/second.yaml")).unwrap();
    write(
        dir.path(),
        "graphs/main.yaml",
        &GRAPH.replace("default: People", "default: Nobody"),
    );
    let current = engine.config();
    let report = reload(&engine, dir.path()).unwrap_err();
    assert!(
        report
            .to_string()
            .contains("graphs/main.yaml:6:14: error[E011]"),
        "{report}"
    );
    assert!(
        Arc::ptr_eq(&current, &engine.config()),
        "a config with errors is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reloads_a_changed_prompt_and_keeps_the_config_on_errors() {
    let dir = project(&[("graphs/main.yaml", GRAPH)]);
    let engine = engine_for(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = watch::Options {
        interval: Duration::from_millis(20),
        // Well above the 30 ms between the writes below, even on a busy machine.
        debounce: Duration::from_millis(250),
    };
    let task = watch::spawn_with(engine.clone(), dir.path().to_path_buf(), opts, Some(tx));

    // The watcher has taken its first look once it reports a change: a file it watches but
    // the configuration does not read, written (longer each time) until it does.
    let mut probe = String::new();
    let mut looking = false;
    while !looking && probe.len() < 20 {
        probe.push('x');
        write(dir.path(), "prompts/probe.txt", &probe);
        if let Ok(seen) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            let diff = seen.expect("the watcher is running").unwrap();
            assert!(diff.is_empty(), "probe.txt changes no config: {diff}");
            looking = true;
        }
    }
    assert!(looking, "the watcher never reported the probe");

    // An editor saving in steps: one reload once the writes settle. Reports of the probe
    // still on their way come first; they change nothing.
    for text in ["You", "You count", "You count heads. {{ question }}"] {
        write(dir.path(), "prompts/people.j2", text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let diff = loop {
        let diff = next(&mut rx).await.unwrap();
        if !diff.is_empty() {
            break diff;
        }
    };
    assert_eq!(diff.to_string(), "prompts: changed people");
    assert_eq!(
        engine.config().project.prompts["people"].text,
        "You count heads. {{ question }}"
    );

    // A broken graph: diagnostics, and the running config stays and still answers. Its
    // report is the next one: the burst above made one reload, not more.
    let kept = engine.config();
    write(dir.path(), "graphs/main.yaml", "name: main\nstart: [\n");
    let report = match next(&mut rx).await {
        Err(report) => report,
        Ok(diff) => panic!("one reload for one burst of writes, yet another: {diff:?}"),
    };
    assert!(
        report.to_string().starts_with("graphs/main.yaml:"),
        "{report}"
    );
    assert!(
        report.diagnostics.iter().all(|d| d.code == "E001"),
        "{report}"
    );
    assert!(Arc::ptr_eq(&kept, &engine.config()));
    let events = engine
        .run_collect(RunRequest {
            graph: "main".into(),
            question: "How many employees?".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(answer_of(&events), Some("There are 18 employees."));
    task.abort();
}

/// `TOOLS` with workload moved to tools/planning.yaml, included by tools.yaml.
fn split_tools(root: &Path, planning_description: &str) {
    let (people, planning) = TOOLS.split_at(TOOLS.find("  workload:").unwrap());
    write(
        root,
        "tools.yaml",
        &format!("include: [tools/planning.yaml]\n{people}"),
    );
    write(
        root,
        "tools/planning.yaml",
        &format!("tools:\n{planning}").replace("Open tickets per engineer.", planning_description),
    );
}

#[tokio::test]
async fn reload_compares_tools_wherever_they_are_written() {
    let dir = project(&[("graphs/main.yaml", GRAPH)]);
    let engine = engine_for(dir.path());

    // Moved unchanged to an included file: nothing changed.
    split_tools(dir.path(), "Open tickets per engineer.");
    assert_eq!(
        reload(&engine, dir.path()).unwrap().to_string(),
        "no changes"
    );

    split_tools(dir.path(), "Open tickets.");
    let diff = reload(&engine, dir.path()).unwrap();
    assert_eq!(diff.tools, changes(&[], &["workload"], &[]));
    let tool = engine
        .config()
        .project
        .tool("workload")
        .map(|t| t.doc.file().to_string());
    assert_eq!(tool.as_deref(), Some("tools/planning.yaml"));

    // Defined a second time, in tools.yaml as well: refused at the included definition.
    write(
        dir.path(),
        "tools.yaml",
        &format!("include: [tools/planning.yaml]\n{TOOLS}"),
    );
    let report = reload(&engine, dir.path()).unwrap_err();
    assert_eq!(
        report.to_string(),
        "tools/planning.yaml:2:3: error[E062]: duplicate tool \"workload\", already defined in tools.yaml:8:3; define each tool once (rename or remove one)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reloads_an_edited_file_under_tools() {
    let dir = project(&[("graphs/main.yaml", GRAPH)]);
    split_tools(dir.path(), "Open tickets per engineer.");
    let engine = engine_for(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opts = watch::Options {
        interval: Duration::from_millis(20),
        debounce: Duration::from_millis(100),
    };
    let task = watch::spawn_with(engine.clone(), dir.path().to_path_buf(), opts, Some(tx));
    // The watcher has taken its first look once it reports a file under tools/ that no
    // tools file includes (so it changes no config).
    let mut probe = String::new();
    let mut looking = false;
    while !looking && probe.len() < 20 {
        probe.push('x');
        write(dir.path(), "tools/probe.txt", &probe);
        if let Ok(seen) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            assert!(seen.expect("the watcher is running").unwrap().is_empty());
            looking = true;
        }
    }
    assert!(looking, "the watcher never reported the probe");
    // Only the included file changes, not tools.yaml.
    let planning = dir.path().join("tools/planning.yaml");
    let text = std::fs::read_to_string(&planning).unwrap();
    std::fs::write(&planning, text.replace("per engineer", "")).unwrap();
    let diff = loop {
        let diff = next(&mut rx).await.unwrap();
        if !diff.is_empty() {
            break diff;
        }
    };
    assert_eq!(diff.to_string(), "tools: changed workload");
    task.abort();
}
