//! Editing graphs safely: `eng-intel test` on small projects written by each test (and on
//! the repository's own cases), recorded model replies against a fake OpenAI-compatible
//! server, `validate` on test cases, reload with its diff, and `serve --watch`.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use eng_intel::compile::compile;
use eng_intel::model::offline::OfflineModel;
use eng_intel::reload::{Changes, reload};
use eng_intel::run::{Engine, RunRequest, answer_of};
use eng_intel::tools::MockTools;
use eng_intel::watch;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_eng-intel");

const TOOLS: &str = r#"tools:
  headcount:
    description: Count employees, overall or in a team.
    args: { type: object, properties: { team: { type: string } } }
    store: relational
    intents: ['(?i)how many (?:people|employees)(?: in (?P<team>\w+))?']
  workload:
    description: Open tickets per engineer.
    args: { type: object, properties: { team: { type: string } } }
    store: relational
    intents: ['(?i)\bworkload\b']
"#;

const GRAPH: &str = r#"name: main
start: route
nodes:
  route:
    kind: router
    default: People
    routes:
      People: { intents: ['(?i)employees|people'], to: people }
      Planning: { intents: ['(?i)workload'], to: planning }
  people:
    kind: agent
    prompt: people
    tools: [headcount]
    answer: 'There are {{ result.total }} employees.'
  planning:
    kind: agent
    prompt: people
    tools: [workload]
    answer: '{{ result | length }} engineers.'
edges:
  - people -> END
  - planning -> END
"#;

const PASSING: &str = r#"tests:
  - name: counts_people
    question: How many employees in Platform?
    tools: { headcount: { total: 18 } }
    expect:
      route: People
      tools_called: [{ tool: headcount, args: { team: Platform } }]
      tools_not_called: [workload]
      answer_contains: ["18 employees"]
      events: [stream_start, routing, tool_start, tool_end, response, stream_end]
      max_steps: 2
"#;

/// A project with the tools, graph and prompt above, plus `files`.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tools.yaml", TOOLS);
    write(
        dir.path(),
        "prompts/people.j2",
        "You count people. {{ question }}",
    );
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Runs the binary in `dir` with no model and only the embedded stores, unless `env` says
/// otherwise (CI exports the servers' variables for other tests).
fn eng_intel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for var in [
        "FEATHERLESS_BASE_URL",
        "FEATHERLESS_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "ENG_INTEL_CONFIG",
        "POSTGRES_HOST",
        "CLICKHOUSE_HOST",
        "NEO4J_URI",
        "DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_passing_case_reports_like_cargo_test() {
    let dir = project(&[("graphs/main.yaml", &format!("{GRAPH}{PASSING}"))]);
    let (code, out, err) = eng_intel(dir.path(), &["test"], &[]);
    assert_eq!(
        out,
        "\nrunning 1 test\ntest main::counts_people ... ok\n\n1 passed, 0 failed\ntest result: ok. 1 passed; 0 failed\n",
        "{err}"
    );
    assert_eq!(code, 0);
}

#[test]
fn each_unmet_expectation_says_what_happened() {
    let case = r#"tests:
  - name: wrong_everything
    question: How many employees in Platform?
    tools: { headcount: { total: 18 } }
    expect:
      route: Planning
      tools_called: [{ tool: headcount, args: { team: Infra } }]
      tools_not_called: [headcount]
      answer_contains: ["19 employees"]
      answer_matches: '^Nobody'
      events: [tool_end, routing]
      max_steps: 1
  - name: counts_people
    question: How many employees in Platform?
    tools: { headcount: { total: 18 } }
"#;
    let dir = project(&[("graphs/main.yaml", &format!("{GRAPH}{case}"))]);
    let (code, out, _) = eng_intel(dir.path(), &["test"], &[]);
    // Line 24 is where the first case starts: GRAPH has 22 lines, then `tests:`.
    assert_eq!(GRAPH.lines().count(), 22);
    let args = r#"{"team":"Platform"}"#;
    let expected = format!(
        "
running 2 tests
test main::wrong_everything ... FAILED
test main::counts_people ... ok

failures:

---- main::wrong_everything (graphs/main.yaml:24) ----
route
  expected: Planning
  actual:   People (by rules, in main)
tools_called
  expected: a call to headcount with args including {{\"team\":\"Infra\"}}
  actual:   calls: headcount {args}
tools_not_called
  expected: no call to headcount
  actual:   headcount {args}
answer_contains
  expected: the answer to contain \"19 employees\"
  actual:   answer \"There are 18 employees.\"
answer_matches
  expected: the answer to match /^Nobody/
  actual:   answer \"There are 18 employees.\"
events
  expected: these events in order: tool_end, routing
  actual:   no \"routing\" after \"tool_end\"; the run sent: stream_start, node_start, routing, node_end, node_start, tool_start, tool_end, node_end, response, stream_end
max_steps
  expected: at most 1 steps
  actual:   2 steps

failures:
    main::wrong_everything

1 passed, 1 failed
test result: FAILED. 1 passed; 1 failed
"
    );
    assert_eq!(out, expected);
    assert_eq!(code, 1);
}

#[test]
fn test_files_history_scope_filter_and_junit() {
    let file = r#"graph: main
tests:
  - name: remembers_the_thread
    question: And how many employees in Infra?
    history:
      - { role: user, content: How many employees in Platform? }
      - { role: assistant, content: There are 18 employees. }
    tools: { headcount: { total: 7 } }
    expect:
      answer_contains: ["7 employees"]
  - name: unlisted_tool
    question: What is the workload?
    tools: { headcount: { total: 7 } }
    expect:
      route: Planning
      tools_not_called: [workload]
  - name: needs_stores
    question: How many people?
"#;
    let dir = project(&[
        ("graphs/main.yaml", &format!("{GRAPH}{PASSING}")),
        ("graphs/tests/people.yaml", file),
    ]);
    // Stores that cannot open: a data directory inside a regular file.
    write(dir.path(), "not-a-dir", "");
    let data = dir.path().join("not-a-dir/data");
    let (code, out, _) = eng_intel(
        dir.path(),
        &["test"],
        &[("DATA_DIR", data.to_str().unwrap())],
    );
    let no_stores = format!(
        "no stores: the stores could not be opened: cannot create data directory {}: Not a directory (os error 20)",
        data.display()
    );
    assert_eq!(
        out,
        r#"
running 4 tests
test main::counts_people ... ok
test tests/people::remembers_the_thread ... ok
test tests/people::unlisted_tool ... FAILED
test tests/people::needs_stores ... FAILED

failures:

---- tests/people::unlisted_tool (graphs/tests/people.yaml:11) ----
tools_not_called
  expected: no call to workload
  actual:   workload {} (failed: case tests/people::unlisted_tool has no canned result for tool "workload" (it lists: headcount); add one under `tools:`)

---- tests/people::needs_stores (graphs/tests/people.yaml:17) ----
setup
  expected: stores to run headcount (or canned results under `tools:`)
  actual:   NO_STORES

failures:
    tests/people::unlisted_tool
    tests/people::needs_stores

2 passed, 2 failed
test result: FAILED. 2 passed; 2 failed
"#
        .replace("NO_STORES", &no_stores)
    );
    assert_eq!(code, 1);

    // A file as PATH keeps its cases; --filter keeps ids containing the text.
    let (code, out, _) = eng_intel(
        dir.path(),
        &["test", "graphs/tests/people.yaml", "--filter", "thread"],
        &[],
    );
    assert_eq!(
        out,
        "\nrunning 1 test (2 filtered out)\ntest tests/people::remembers_the_thread ... ok\n\n1 passed, 0 failed\ntest result: ok. 1 passed; 0 failed\n"
    );
    assert_eq!(code, 0);

    let (code, xml, _) = eng_intel(
        dir.path(),
        &["test", "--format", "junit", "--filter", "counts"],
        &[],
    );
    assert_eq!(code, 0);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"eng-intel\" tests=\"1\" failures=\"0\""), "{xml}");
    assert!(xml.contains("<testcase name=\"counts_people\" classname=\"main\" file=\"graphs/main.yaml\" line=\"24\""), "{xml}");
}

#[test]
fn validate_finds_unknown_routes_tools_graphs_and_events_in_cases() {
    let bad = r#"tests:
  - name: typos
    question: How many employees?
    tools: { headcont: { total: 1 } }
    expect:
      route: Peple
      tools_called: [{ tool: headcount, args: { teem: x } }]
      tools_not_called: [workloads]
      events: [tool_ends]
      answer_matches: '(unclosed'
  - name: typos
    question: Again?
"#;
    let file = "graph: mian\ntests:\n  - name: elsewhere\n    question: Who?\n";
    let dir = project(&[
        ("graphs/main.yaml", &format!("{GRAPH}{bad}")),
        ("graphs/tests/other.yaml", file),
    ]);
    let (code, out, _) = eng_intel(dir.path(), &["validate"], &[]);
    let findings: Vec<&str> = out.lines().filter(|l| l.contains("[E07")).collect();
    assert_eq!(
        findings,
        vec![
            "graphs/main.yaml:26:14: error[E072]: unknown tool \"headcont\" in test case \"typos\" (did you mean \"headcount\"?); name a tool declared in tools.yaml",
            "graphs/main.yaml:28:14: error[E071]: unknown route \"Peple\" in test case \"typos\" (did you mean \"People\"?); routes it can take: People, Planning",
            "graphs/main.yaml:29:49: error[E076]: tool \"headcount\" has no argument \"teem\" (did you mean \"team\"?); its arguments: team",
            "graphs/main.yaml:30:26: error[E072]: unknown tool \"workloads\" in test case \"typos\" (did you mean \"workload\"?); name a tool declared in tools.yaml",
            "graphs/main.yaml:31:16: error[E073]: unknown event \"tool_ends\" (did you mean \"tool_end\"?); events: stream_start, model_selection, routing, node_start, node_end, tool_start, tool_end, model_fallback, token, response, error, stream_end",
            "graphs/main.yaml:32:23: error[E074]: answer_matches of test case \"typos\" is not a valid regex: regex parse error: (unclosed ^ error: unclosed group",
            "graphs/main.yaml:33:11: error[E075]: duplicate test case name \"typos\" in this file; names identify cases and their recordings, so give each its own",
            "graphs/tests/other.yaml:1:8: error[E070]: test case \"elsewhere\" runs unknown graph \"mian\" (did you mean \"main\"?); name a graph defined under graphs/",
        ],
        "{out}"
    );
    assert_eq!(code, 1);
    // `test` refuses to run on a configuration with errors.
    let (code, _, err) = eng_intel(dir.path(), &["test"], &[]);
    assert_eq!(code, 1);
    assert!(err.ends_with("error: the configuration has 8 error(s); tests run only on a configuration that validates\n"), "{err}");
}

#[test]
fn the_repositorys_own_cases_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Cases without canned results run on the embedded stores, created here.
    let data = tempfile::tempdir().unwrap();
    let (code, out, err) = eng_intel(
        root,
        &["test"],
        &[("DATA_DIR", data.path().to_str().unwrap())],
    );
    assert_eq!(code, 0, "{out}{err}");
    let summary = out.lines().rev().nth(1).unwrap();
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 8, "{out}");
    assert_eq!(summary, format!("{passed} passed, 0 failed"));
}

// ---- recorded model replies, against a fake OpenAI-compatible server ----

/// What the fake server saw: request bodies and Authorization headers.
#[derive(Default)]
struct Seen {
    bodies: Vec<Value>,
    auth: Vec<String>,
}

/// Streams OpenAI-style SSE: a tool call for the first tool offered, then, once a tool
/// result is in the conversation, an answer quoting it.
async fn fake_chat(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> impl IntoResponse {
    let body = body.0;
    {
        let mut s = seen.lock().unwrap();
        s.auth.push(
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        );
        s.bodies.push(body.clone());
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let tool_result = messages.iter().find(|m| m["role"] == "tool");
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut out = String::new();
    match (tool_result, body["tools"][0]["function"]["name"].as_str()) {
        (Some(result), _) => {
            let text = format!("Counted: {}", result["content"].as_str().unwrap_or(""));
            let (a, b) = text.split_at(8);
            out.push_str(&chunk(
                json!({"role": "assistant", "content": a}),
                Value::Null,
            ));
            out.push_str(&chunk(json!({"content": b}), Value::Null));
            out.push_str(&chunk(json!({}), json!("stop")));
        }
        (None, Some(tool)) => {
            out.push_str(&chunk(
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_x1", "type": "function", "function": {"name": tool, "arguments": "{\"team\":"}}]}),
                Value::Null,
            ));
            out.push_str(&chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Platform\"}"}}]}),
                Value::Null,
            ));
            out.push_str(&chunk(json!({}), json!("tool_calls")));
        }
        (None, None) => {
            out.push_str(&chunk(
                json!({"role": "assistant", "content": "People"}),
                json!("stop"),
            ));
        }
    }
    out.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], out)
}

async fn fake_server() -> (String, Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(fake_chat))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, seen, server)
}

const MODEL_CASE: &str = r#"tests:
  - name: counts_people
    question: How many employees in Platform?
    history:
      - { role: user, content: Who leads Platform? }
      - { role: assistant, content: Dana does. }
    tools: { headcount: { total: 18 } }
    expect:
      route: People
      tools_called: [{ tool: headcount, args: { team: Platform } }]
      answer_contains: ['Counted: {"total":18}']
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_then_replay_offline_then_notice_a_changed_prompt() {
    let dir = project(&[("graphs/main.yaml", &format!("{GRAPH}{MODEL_CASE}"))]);
    let root = dir.path().to_path_buf();
    let (url, seen, server) = fake_server().await;

    let run = |args: &'static [&'static str], env: Vec<(&'static str, String)>| {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            eng_intel(&root, args, &env)
        })
    };
    let env = vec![
        ("OPENAI_BASE_URL", url.clone()),
        ("OPENAI_API_KEY", "sk-test-123".to_string()),
    ];
    let (code, out, err) = run(&["test", "--record"], env).await.unwrap();
    let cassette = "graphs/tests/recordings/main/counts_people.yaml";
    assert_eq!(
        out,
        format!(
            "\nrunning 1 test\ntest main::counts_people ... ok (recorded 2 request(s) to {cassette})\n\n1 passed, 0 failed\ntest result: ok. 1 passed; 0 failed\n"
        ),
        "{err}"
    );
    assert_eq!(code, 0);
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.bodies.len(), 2);
        assert_eq!(
            s.auth,
            vec!["Bearer sk-test-123"; 2],
            "the key reaches the server"
        );
        let first = &s.bodies[0]["messages"];
        assert_eq!(
            first[1],
            json!({"role": "user", "content": "Who leads Platform?"})
        );
        assert_eq!(
            first[2],
            json!({"role": "assistant", "content": "Dana does."})
        );
        assert_eq!(
            first[3],
            json!({"role": "user", "content": "How many employees in Platform?"})
        );
    }
    let text = std::fs::read_to_string(root.join(cassette)).unwrap();
    assert!(!text.contains("sk-test-123"), "the key is never stored");
    let stored: Value = serde_yaml::from_str(&text).unwrap();
    let recorded = stored["interactions"].as_array().unwrap();
    assert_eq!(recorded.len(), 2);
    {
        let s = seen.lock().unwrap();
        for (i, r) in recorded.iter().enumerate() {
            assert_eq!(r["request"]["path"], "/chat/completions");
            assert_eq!(
                r["request"]["body"], s.bodies[i],
                "request {i} stored as sent"
            );
            assert!(
                r["response"]["body"]
                    .as_str()
                    .unwrap()
                    .ends_with("data: [DONE]\n\n")
            );
        }
    }

    // The server is gone and no model is configured: the recording answers.
    server.abort();
    let (code, out, err) = run(&["test"], vec![]).await.unwrap();
    assert_eq!(
        out,
        "\nrunning 1 test\ntest main::counts_people ... ok (replayed)\n\n1 passed, 0 failed\ntest result: ok. 1 passed; 0 failed\n",
        "{err}"
    );
    assert_eq!(code, 0);

    // The prompt changed: the first request no longer matches, and the report says where.
    write(
        &root,
        "prompts/people.j2",
        "You count the people of a team. {{ question }}",
    );
    let (code, out, _) = run(&["test"], vec![]).await.unwrap();
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "
running 1 test
test main::counts_people ... FAILED (replayed)

failures:

---- main::counts_people (graphs/main.yaml:24) ----
recording
  expected: requests that match {cassette}
  actual:   request 1 of case main::counts_people no longer matches its recording (run `eng-intel test --record` if the change is intended):
    at /body/messages/0/content: recorded \"You count people. How many employees in Platform?\", now \"You count the people of a team. How many employees in Platform?\"

failures:
    main::counts_people

0 passed, 1 failed
test result: FAILED. 0 passed; 1 failed
"
        )
    );

    // The prompt is back, but the agent now answers after one model turn: one request
    // of the two recorded is left over.
    write(
        &root,
        "prompts/people.j2",
        "You count people. {{ question }}",
    );
    let graph = GRAPH.replace(
        "    tools: [headcount]\n",
        "    tools: [headcount]\n    max_turns: 1\n",
    );
    write(&root, "graphs/main.yaml", &format!("{graph}{MODEL_CASE}"));
    let (code, out, _) = run(&["test"], vec![]).await.unwrap();
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "---- main::counts_people (graphs/main.yaml:25) ----
recording
  expected: requests that match {cassette}
  actual:   case main::counts_people sent 1 request(s) to the model but its recording holds 2; run `eng-intel test --record` to record it again
"
        )),
        "{out}"
    );
}

// ---- reload and watch ----

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<watch::Outcome>) -> watch::Outcome {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a reload within 10 s")
        .expect("the watcher is running")
}

fn engine_for(root: &Path) -> Arc<Engine> {
    let (project, report) = eng_intel::validate::validate_dir(root).unwrap();
    assert!(!report.has_errors(), "{report}");
    let set = compile(project).unwrap_or_else(|r| panic!("{r}"));
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
    tokio::time::sleep(Duration::from_millis(60)).await;

    // An editor saving in steps: one reload once the writes settle.
    for text in ["You", "You count", "You count heads. {{ question }}"] {
        write(dir.path(), "prompts/people.j2", text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let diff = next(&mut rx).await.unwrap();
    assert_eq!(diff.to_string(), "prompts: changed people");
    assert_eq!(
        engine.config().project.prompts["people"].text,
        "You count heads. {{ question }}"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err(),
        "one reload for one burst of writes"
    );

    // A broken graph: diagnostics, and the running config stays and still answers.
    let kept = engine.config();
    write(dir.path(), "graphs/main.yaml", "name: main\nstart: [\n");
    let report = next(&mut rx).await.unwrap_err();
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
    tokio::time::sleep(Duration::from_millis(60)).await;
    // Only the included file changes, not tools.yaml.
    let planning = dir.path().join("tools/planning.yaml");
    let text = std::fs::read_to_string(&planning).unwrap();
    std::fs::write(&planning, text.replace("per engineer", "")).unwrap();
    let diff = next(&mut rx).await.unwrap();
    assert_eq!(diff.to_string(), "tools: changed workload");
    task.abort();
}
