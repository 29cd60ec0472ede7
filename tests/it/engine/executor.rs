//! The executor on small graphs written for each behaviour: routing, conditional
//! edges, a bounded loop, subgraphs, map fan-out, timeout, retry, cancellation, what a
//! node's error says and how deep graphs may nest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eng_intel::compile::{CompiledSet, ToolDef};
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Envelope, Event, MAX_NESTING, RouteMethod, RunRequest, answer_of};
use eng_intel::tools::{ToolError, ToolRunner};
use serde_json::{Value, json};

use crate::support::{compiled, event_names as names, wait_until, write};

// Served by the test's own runner, whatever the store: `relational` needs no builtin
// of the tool's name.
const TOOLS: &str = r#"
tools:
  lookup:
    description: Look a person up.
    args: { type: object, properties: { name: { type: string } }, required: [name] }
    store: relational
    intents: ['(?i)who is (?P<name>\w+)']
    preview: 'found {{ result.name }}'
  count:
    description: Count things.
    args: { type: object, properties: { n: { type: integer } } }
    store: relational
  flaky:
    description: Fails before it works.
    args: { type: object, properties: {} }
    store: relational
  slow:
    description: Takes its time.
    args: { type: object, properties: {} }
    store: relational
"#;

/// Writes a project (tools.yaml above + the given files) and compiles it.
fn project(files: &[(&str, &str)]) -> (tempfile::TempDir, CompiledSet) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tools.yaml", TOOLS);
    write(dir.path(), "prompts/p.j2", "You help. {{ question }}");
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    let set = compiled(dir.path());
    (dir, set)
}

/// A tool runner that records calls; `flaky` fails twice (retryable), `slow` sleeps.
#[derive(Default)]
struct Scripted {
    calls: Mutex<Vec<(String, Value)>>,
    flaky_failures: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[async_trait]
impl ToolRunner for Scripted {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        self.calls
            .lock()
            .unwrap()
            .push((tool.name.clone(), args.clone()));
        match tool.name.as_str() {
            "lookup" => Ok(json!({"name": args["name"], "team": "Platform"})),
            "count" => {
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(args["n"].as_i64().unwrap_or(0) * 10))
            }
            "flaky" => {
                if self.flaky_failures.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(ToolError {
                        message: "connection reset".into(),
                        retryable: true,
                    })
                } else {
                    Ok(json!("ok"))
                }
            }
            "slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(json!("late"))
            }
            other => Err(ToolError::fatal(format!("no such tool {other}"))),
        }
    }
}

fn engine(set: CompiledSet) -> (Engine, Arc<Scripted>) {
    let tools = Arc::new(Scripted::default());
    (
        Engine::new(set, Arc::new(OfflineModel), tools.clone()),
        tools,
    )
}

async fn run(engine: &Engine, graph: &str, question: &str) -> Vec<Envelope> {
    engine
        .run_collect(RunRequest {
            graph: graph.into(),
            question: question.into(),
            ..Default::default()
        })
        .await
}

fn error_of(events: &[Envelope]) -> Option<(String, String)> {
    events.iter().find_map(|e| match &e.event {
        Event::Error { kind, message } => Some((kind.clone(), message.clone())),
        _ => None,
    })
}

fn assert_envelopes(events: &[Envelope]) {
    assert_eq!(events.first().map(|e| e.name()), Some("stream_start"));
    assert_eq!(events.last().map(|e| e.name()), Some("stream_end"));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "seq strictly increasing from 0");
        assert_eq!(e.run_id, events[0].run_id);
    }
}

const ROUTED: &str = r#"
name: main
start: classify
nodes:
  classify:
    kind: classify
    rules:
      - { pattern: '(?i)why', task_type: deep_analysis, tier: primary, emoji: "🧠" }
    default: { task_type: quick_lookup, tier: fast }
  route:
    kind: router
    default: other
    routes:
      people: { description: "people and persons", intents: ['(?i)\bwho\b'], to: people }
      other: { description: "anything else entirely", to: other }
  people: { kind: subgraph, graph: people }
  other: { kind: template, template: "I only know people." }
edges:
  - classify -> route
  - people -> END
  - other -> END
"#;

const PEOPLE: &str = r#"
name: people
start: agent
nodes:
  agent:
    kind: agent
    prompt: p
    tools: [lookup]
    answer: "{{ result.name }} works in {{ result.team }}."
edges: [agent -> END]
"#;

#[tokio::test]
async fn routes_by_intent_then_runs_the_specialist_subgraph() {
    let (_d, set) = project(&[("graphs/main.yaml", ROUTED), ("graphs/people.yaml", PEOPLE)]);
    let (engine, tools) = engine(set);
    let events = run(&engine, "main", "Who is Alex?").await;
    assert_envelopes(&events);
    assert_eq!(
        names(&events),
        [
            "stream_start",
            "model_selection",
            "routing",
            "tool_start",
            "tool_end",
            "response",
            "stream_end"
        ]
    );
    let routing = events.iter().find_map(|e| match &e.event {
        Event::Routing { agent, method, .. } => Some((agent.clone(), *method)),
        _ => None,
    });
    assert_eq!(routing, Some(("people".into(), RouteMethod::Rules)));
    assert_eq!(answer_of(&events), Some("Alex works in Platform."));
    assert_eq!(
        tools.calls.lock().unwrap().as_slice(),
        [("lookup".to_string(), json!({"name": "Alex"}))]
    );
    let preview = events.iter().find_map(|e| match &e.event {
        Event::ToolEnd { result_preview, .. } => Some(result_preview.clone()),
        _ => None,
    });
    assert_eq!(preview.as_deref(), Some("found Alex"));
}

/// The answers of the people graph of `files` to a question for each of its tools.
async fn answers_of(files: &[(&str, &str)]) -> Vec<String> {
    let (_d, set) = project(files);
    let (engine, _) = engine(set);
    let mut out = Vec::new();
    for q in ["Who is Alex?", "how many 4"] {
        let events = run(&engine, "people", q).await;
        out.push(answer_of(&events).unwrap_or_default().to_string());
    }
    out
}

/// The answer template: the `answer:` prompt of the tool that answered, else the node's
/// `answer`, else prompts/answers/default.
#[tokio::test]
async fn the_tool_that_answered_brings_its_answer_prompt() {
    let tools = TOOLS
        .replace(
            "    preview: 'found {{ result.name }}'\n",
            "    preview: 'found {{ result.name }}'\n    answer: answers/lookup\n",
        )
        .replace(
            "    args: { type: object, properties: { n: { type: integer } } }\n",
            "    args: { type: object, properties: { n: { type: integer } } }\n    intents: ['(?i)how many (?P<n>\\d+)']\n",
        );
    let agent = |answer: &str| {
        PEOPLE
            .replace("tools: [lookup]", "tools: [lookup, count]")
            .replace(
                "    answer: \"{{ result.name }} works in {{ result.team }}.\"\n",
                answer,
            )
    };
    let with_node_answer = agent("    answer: \"{{ tool }} answered.\"\n");
    let without = agent("");
    let files = |graph| {
        [
            ("tools.yaml", tools.as_str()),
            (
                "prompts/answers/lookup.j2",
                "{{ tool }}: {{ result.name }} ({{ question }})\n",
            ),
            (
                "prompts/answers/default.j2",
                "{{ tool }} gave {{ result }}.",
            ),
            ("graphs/people.yaml", graph),
        ]
    };
    assert_eq!(
        answers_of(&files(&with_node_answer)).await,
        ["lookup: Alex (Who is Alex?)", "count answered."]
    );
    assert_eq!(
        answers_of(&files(&without)).await,
        ["lookup: Alex (Who is Alex?)", "count gave 40."]
    );
}

#[tokio::test]
async fn without_a_matching_intent_the_model_or_the_default_route_decides() {
    let (_d, set) = project(&[("graphs/main.yaml", ROUTED), ("graphs/people.yaml", PEOPLE)]);
    let (engine, _) = engine(set);
    // The offline model matches words of the route description ("persons").
    let events = run(&engine, "main", "list the persons").await;
    assert!(events.iter().any(|e| matches!(&e.event, Event::Routing { agent, method: RouteMethod::Model, .. } if agent == "people")));
    let events = run(&engine, "main", "What is the weather?").await;
    assert!(events.iter().any(|e| matches!(&e.event, Event::Routing { agent, method: RouteMethod::Default, .. } if agent == "other")));
    assert_eq!(answer_of(&events), Some("I only know people."));
    let sel = events.iter().find_map(|e| match &e.event {
        Event::ModelSelection {
            task_type, tier, ..
        } => Some((task_type.clone(), tier.clone())),
        _ => None,
    });
    assert_eq!(sel, Some(("quick_lookup".into(), "fast".into())));
}

#[tokio::test]
async fn an_agent_question_matching_no_tool_gets_help_not_an_error() {
    let (_d, set) = project(&[("graphs/people.yaml", PEOPLE)]);
    let (engine, tools) = engine(set);
    let events = run(&engine, "people", "tell me a joke").await;
    assert!(error_of(&events).is_none());
    assert!(answer_of(&events).unwrap().contains("Look a person up."));
    assert!(tools.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn conditional_edges_and_a_bounded_loop() {
    let g = r#"
name: loop
state: { n: integer }
start: bump
nodes:
  bump: { kind: template, template: "{{ (n or 0) + 1 }}", output: n }
  done: { kind: template, template: "counted to {{ n }}" }
edges:
  - { from: bump, to: done, when: "n | int >= 3" }
  - { from: bump, to: bump }
  - done -> END
"#;
    let (_d, set) = project(&[("graphs/loop.yaml", g)]);
    let (engine, _) = engine(set);
    let events = run(&engine, "loop", "count").await;
    assert_eq!(answer_of(&events), Some("counted to 3"));
    let bumps = events
        .iter()
        .filter(|e| matches!(&e.event, Event::NodeStart { node, .. } if node == "bump"))
        .count();
    assert_eq!(bumps, 3);
}

#[tokio::test]
async fn the_step_limit_names_the_nodes_of_the_loop() {
    let g = r#"
name: spin
max_steps: 10
start: a
nodes:
  a: { kind: template, template: "a" }
  b: { kind: template, template: "b" }
edges:
  - a -> b
  - { from: b, to: END, when: "false" }
  - b -> a
"#;
    let (_d, set) = project(&[("graphs/spin.yaml", g)]);
    let (engine, _) = engine(set);
    let events = run(&engine, "spin", "go").await;
    assert_envelopes(&events);
    let (kind, message) = error_of(&events).expect("an error event");
    assert_eq!(kind, "step_limit");
    assert_eq!(
        message,
        "step limit of 10 reached in graph \"spin\": the run kept looping through a → b → a; add a condition that leaves the loop or raise max_steps"
    );
    assert!(matches!(
        events.last().unwrap().event,
        Event::StreamEnd {
            ok: false,
            steps: 10,
            ..
        }
    ));
}

#[tokio::test]
async fn map_fans_out_with_bounded_concurrency_and_keeps_order() {
    let g = r#"
name: fan
state: { totals: list }
start: each
nodes:
  each:
    kind: map
    over: "[1, 2, 3, 4, 5, 6]"
    as: x
    tool: count
    args: { n: "{{ x }}" }
    concurrency: 2
    output: totals
  show: { kind: template, template: "{{ totals | join(',') }}" }
edges: [each -> show -> END]
"#;
    let (_d, set) = project(&[("graphs/fan.yaml", g)]);
    let (engine, tools) = engine(set);
    let events = run(&engine, "fan", "go").await;
    assert_envelopes(&events);
    assert_eq!(answer_of(&events), Some("10,20,30,40,50,60"));
    assert_eq!(tools.max_in_flight.load(Ordering::SeqCst), 2);
    assert_eq!(events.iter().filter(|e| e.name() == "tool_end").count(), 6);
}

#[tokio::test]
async fn map_over_a_subgraph() {
    let g = r#"
name: fan
state: { people: list }
start: each
nodes:
  each: { kind: map, over: "['Ann', 'Bo']", as: who, graph: greet, output: people }
  show: { kind: template, template: "{{ people | join(' ') }}" }
edges: [each -> show -> END]
"#;
    let greet = r#"
name: greet
state: { who: string }
start: hi
nodes:
  hi: { kind: template, template: "hi-{{ who }}" }
edges: [hi -> END]
"#;
    let (_d, set) = project(&[("graphs/fan.yaml", g), ("graphs/greet.yaml", greet)]);
    let (engine, _) = engine(set);
    assert_eq!(
        answer_of(&run(&engine, "fan", "go").await),
        Some("hi-Ann hi-Bo")
    );
}

#[tokio::test]
async fn retries_retryable_failures_with_backoff() {
    let g = r#"
name: retry
start: call
nodes:
  call: { kind: tool, tool: flaky, retry: { attempts: 3, backoff_ms: 5 } }
edges: [call -> END]
"#;
    let (_d, set) = project(&[("graphs/retry.yaml", g)]);
    let (engine, tools) = engine(set);
    let events = run(&engine, "retry", "go").await;
    assert!(error_of(&events).is_none(), "{:?}", error_of(&events));
    assert_eq!(answer_of(&events), Some("ok"));
    assert_eq!(tools.calls.lock().unwrap().len(), 3);
    let oks: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ToolEnd { ok, .. } => Some(*ok),
            _ => None,
        })
        .collect();
    assert_eq!(oks, [false, false, true]);
}

#[tokio::test]
async fn without_retry_a_tool_failure_ends_the_run_with_an_error() {
    let g = r#"
name: once
start: call
nodes:
  call: { kind: tool, tool: flaky }
edges: [call -> END]
"#;
    let (_d, set) = project(&[("graphs/once.yaml", g)]);
    let (engine, _) = engine(set);
    let events = run(&engine, "once", "go").await;
    assert_eq!(
        error_of(&events),
        Some((
            "tool_error".into(),
            "node \"call\" of graph \"once\" (graphs/once.yaml:5) failed: connection reset".into()
        ))
    );
}

#[tokio::test]
async fn a_node_timeout_stops_a_slow_node() {
    let g = r#"
name: slow
start: call
nodes:
  call: { kind: tool, tool: slow, timeout_ms: 50 }
edges: [call -> END]
"#;
    let (_d, set) = project(&[("graphs/slow.yaml", g)]);
    let (engine, _) = engine(set);
    let t0 = std::time::Instant::now();
    let events = run(&engine, "slow", "go").await;
    assert!(t0.elapsed() < Duration::from_secs(4));
    assert_eq!(
        error_of(&events),
        Some((
            "timeout".into(),
            "node \"call\" of graph \"slow\" (graphs/slow.yaml:5) timed out after 50 ms".into()
        ))
    );
}

#[tokio::test]
async fn a_node_failing_in_a_subgraph_names_that_graph_and_where_the_node_is() {
    let outer = r#"
name: outer
start: inner
nodes:
  inner: { kind: subgraph, graph: inner }
edges: [inner -> END]
"#;
    let inner = r#"
name: inner
start: call
nodes:
  call: { kind: tool, tool: flaky }
edges: [call -> END]
"#;
    let (_d, set) = project(&[("graphs/outer.yaml", outer), ("graphs/inner.yaml", inner)]);
    let (engine, _) = engine(set);
    let events = run(&engine, "outer", "go").await;
    assert_eq!(
        error_of(&events),
        Some((
            "tool_error".into(),
            "node \"call\" of graph \"inner\" (graphs/inner.yaml:5) failed: connection reset"
                .into()
        ))
    );
}

/// Graphs g1 … gn, each including the next; gn answers "deep".
fn nested(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let text = if i == n {
                format!("name: g{i}\nstart: a\nnodes:\n  a: {{ kind: template, template: deep }}\nedges: [a -> END]\n")
            } else {
                format!(
                    "name: g{i}\nstart: a\nnodes:\n  a: {{ kind: subgraph, graph: g{} }}\nedges: [a -> END]\n",
                    i + 1
                )
            };
            (format!("graphs/g{i}.yaml"), text)
        })
        .collect()
}

#[tokio::test]
async fn graphs_nest_at_most_max_nesting_deep() {
    for (n, ok) in [(MAX_NESTING, true), (MAX_NESTING + 1, false)] {
        let files = nested(n);
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let (_d, set) = project(&files);
        let (engine, _) = engine(set);
        let events = run(&engine, "g1", "go").await;
        assert_envelopes(&events);
        if ok {
            assert_eq!(answer_of(&events), Some("deep"), "{n} graphs");
            continue;
        }
        let path: Vec<String> = (1..=n).map(|i| format!("g{i}")).collect();
        assert_eq!(
            error_of(&events),
            Some((
                "nesting_limit".into(),
                format!(
                    "graphs nested more than {MAX_NESTING} deep: {}; a graph must not run itself through subgraphs, maps or pipeline tools (validate reports E050, E051), and nesting this deep is refused",
                    path.join(" → ")
                )
            ))
        );
    }
}

#[tokio::test]
async fn invalid_tool_args_fail_the_call_not_the_agent() {
    let g = r#"
name: bad
start: call
nodes:
  call: { kind: tool, tool: count, args: { n: "not a number" } }
edges: [call -> END]
"#;
    let (_d, set) = project(&[("graphs/bad.yaml", g)]);
    let (engine, tools) = engine(set);
    let events = run(&engine, "bad", "go").await;
    let end = events.iter().find_map(|e| match &e.event {
        Event::ToolEnd { ok, error, .. } => Some((*ok, error.clone())),
        _ => None,
    });
    assert_eq!(
        end,
        Some((
            false,
            Some(
                "invalid arguments for count: n: \"not a number\" is not of type \"integer\""
                    .into()
            )
        ))
    );
    assert!(
        tools.calls.lock().unwrap().is_empty(),
        "the store is never called with invalid args"
    );
}

#[tokio::test]
async fn dropping_the_consumer_cancels_the_run_before_further_calls() {
    let g = r#"
name: two
start: first
nodes:
  first: { kind: tool, tool: slow }
  second: { kind: tool, tool: lookup, args: { name: "x" } }
edges: [first -> second -> END]
"#;
    let (_d, set) = project(&[("graphs/two.yaml", g)]);
    let (engine, tools) = engine(set);
    let mut run = engine.start(RunRequest {
        graph: "two".into(),
        question: "go".into(),
        ..Default::default()
    });
    // Wait until the slow tool is running, then go away.
    while let Some(ev) = run.events.recv().await {
        if ev.name() == "tool_start" {
            break;
        }
    }
    let cancel = run.cancel.clone();
    drop(run);
    tokio::time::timeout(Duration::from_secs(2), cancel.cancelled())
        .await
        .expect("run noticed the consumer left");
    // The run is over once its executor has let go of the tool runner (the engine and
    // this test hold the other two references).
    wait_until("the run to end", Duration::from_secs(10), || {
        Arc::strong_count(&tools) == 2
    })
    .await;
    let calls: Vec<String> = tools
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(
        calls,
        ["slow"],
        "no tool call starts after the consumer is gone"
    );
}

#[tokio::test]
async fn cancelling_a_run_ends_its_stream_with_error_and_stream_end() {
    let g = r#"
name: one
start: first
nodes:
  first: { kind: tool, tool: slow }
edges: [first -> END]
"#;
    let (_d, set) = project(&[("graphs/one.yaml", g)]);
    let (engine, _) = engine(set);
    let mut run = engine.start(RunRequest {
        graph: "one".into(),
        question: "go".into(),
        ..Default::default()
    });
    let mut events = Vec::new();
    while let Some(ev) = run.events.recv().await {
        if ev.name() == "tool_start" {
            run.cancel.cancel();
        }
        events.push(ev);
    }
    assert_envelopes(&events);
    assert_eq!(error_of(&events).map(|e| e.0), Some("cancelled".into()));
}

#[tokio::test]
async fn runs_in_flight_keep_their_config_across_a_swap() {
    let v1 =
        "name: g\nstart: t\nnodes:\n  t: { kind: template, template: 'v1' }\nedges: [t -> END]\n";
    let v2 =
        "name: g\nstart: t\nnodes:\n  t: { kind: template, template: 'v2' }\nedges: [t -> END]\n";
    let (_d1, set1) = project(&[("graphs/g.yaml", v1)]);
    let (_d2, set2) = project(&[("graphs/g.yaml", v2)]);
    let (engine, _) = engine(set1);
    let before = engine.config();
    engine.swap(set2);
    assert_eq!(answer_of(&run(&engine, "g", "q").await), Some("v2"));
    assert!(
        before.graph("g").is_some(),
        "the old set stays alive while referenced"
    );
}
