//! Editing graphs safely: `eng-intel test` on small projects written by each test (and on
//! the repository's own cases), recorded model replies against a fake OpenAI-compatible
//! server, and `validate` on test cases (reload and `serve --watch`: engine::reload).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::fake_openai::{FakeOpenAi, Piece, Reply, finish, text, tool};
use crate::support::{BIN, repo, write};

pub(super) const TOOLS: &str = r#"tools:
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

pub(super) const GRAPH: &str = r#"name: main
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
pub(super) fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
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
    let root = repo();
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

/// What the model says for MODEL_CASE: a call of headcount for Platform (its arguments in
/// two fragments), then, given the tool's result, an answer quoting it.
fn model_replies() -> Vec<Reply> {
    vec![
        Reply::Stream(vec![
            tool(0, Some("call_x1"), Some("headcount"), "{\"team\":"),
            tool(0, None, None, "\"Platform\"}"),
            finish("tool_calls"),
            Piece::Done,
        ]),
        text(&["Counted:", " {\"total\":18}"], 10, 4),
    ]
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
    let fake = FakeOpenAi::start(model_replies()).await;

    let run = |args: &'static [&'static str], env: Vec<(&'static str, String)>| {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            eng_intel(&root, args, &env)
        })
    };
    let env = vec![
        ("OPENAI_BASE_URL", fake.base_url.clone()),
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
    let seen = fake.requests();
    {
        assert_eq!(seen.len(), 2);
        let auth: Vec<Option<&str>> = seen.iter().map(|r| r.authorization.as_deref()).collect();
        assert_eq!(
            auth,
            vec![Some("Bearer sk-test-123"); 2],
            "the key reaches the server"
        );
        let first = &seen[0].body["messages"];
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
        for (i, r) in recorded.iter().enumerate() {
            assert_eq!(r["request"]["path"], "/chat/completions");
            assert_eq!(
                r["request"]["body"], seen[i].body,
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
    drop(fake);
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
