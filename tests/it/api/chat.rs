//! Chat over real HTTP: SSE order and envelope, the sync answer, conversation memory,
//! serialized chats on one thread, keep-alive comments, and a client that goes away.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use eng_intel::api::Tuning;
use eng_intel::model::offline::OfflineModel;
use eng_intel::model::{Model, Role, Tier};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::{demo_stores, settings, wait_until};

const PYTHON: &str = "Find developers with Python expertise";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_events_arrive_in_order_with_one_envelope_each() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
    let got = names(&events);

    assert_eq!(got.first(), Some(&"stream_start"));
    assert_eq!(got.last(), Some(&"stream_end"));
    assert_in_order(
        &got,
        &[
            "stream_start",
            "model_selection",
            "routing",
            "tool_start",
            "tool_end",
            "response",
            "stream_end",
        ],
    );
    let run_id = events[0].env["run_id"].as_str().unwrap().to_string();
    assert!(!run_id.is_empty());
    let mut last_seq = -1i64;
    for e in &events {
        let obj = e.env.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["data", "event", "run_id", "seq", "ts"]);
        assert_eq!(
            e.env["event"],
            e.name.as_str(),
            "event line = envelope name"
        );
        assert_eq!(e.env["run_id"], run_id.as_str(), "one run id per stream");
        let seq = e.env["seq"].as_i64().unwrap();
        assert!(
            seq > last_seq,
            "seq strictly increasing: {seq} after {last_seq}"
        );
        last_seq = seq;
        assert!(e.env["ts"].as_f64().unwrap() > 1.6e9);
    }

    let find = |n: &str| events.iter().find(|e| e.name == n).unwrap();
    assert_eq!(
        find("tool_start").env["data"]["args"],
        json!({"skills": "Python"})
    );
    let devs = developers();
    assert_eq!(
        find("tool_end").env["data"]["result_preview"],
        format!("{} matches", devs.as_array().unwrap().len())
    );
    assert_eq!(find("routing").env["data"]["agent"], "Insights_Specialist");
    let answer = find("response").env["data"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for d in devs.as_array().unwrap() {
        assert!(answer.contains(d["name"].as_str().unwrap()), "{answer}");
    }
    assert_eq!(find("stream_end").env["data"]["ok"], true);

    // The turn is stored in the thread announced by stream_start.
    let thread_id = find("stream_start").env["data"]["thread_id"]
        .as_str()
        .unwrap()
        .to_string();
    let t: Value = get_json(server.url(&format!("/api/threads/{thread_id}")))
        .await
        .1;
    assert_eq!(t["messages"][0]["role"], "user");
    assert_eq!(t["messages"][0]["content"], PYTHON);
    assert_eq!(t["messages"][1]["role"], "assistant");
    assert_eq!(t["messages"][1]["content"], answer.as_str());
    assert_eq!(t["messages"][1]["meta"]["run_id"], run_id.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_answer_fills_every_field_and_matches_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let q = "How many employees do we have?";
    let events = sse_chat(&server.base, json!({"message": q})).await;
    let streamed =
        events.iter().find(|e| e.name == "response").unwrap().env["data"]["content"].clone();
    let selection = &events
        .iter()
        .find(|e| e.name == "model_selection")
        .unwrap()
        .env["data"];

    for path in ["/api/chat/sync", "/api/chat"] {
        let res = server
            .post(path, &json!({"message": q, "stream": false}))
            .await;
        assert_eq!(res.status(), 200, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["response"], streamed, "{path}");
        assert_eq!(body["model_used"], OfflineModel.model_name(Tier::Fast));
        assert_eq!(body["model_used"], selection["model"]);
        assert_eq!(body["task_type"], selection["task_type"]);
        assert!(body["elapsed_s"].as_f64().unwrap() > 0.0);
        let thread_id = body["thread_id"].as_str().unwrap();
        let t: Value = get_json(server.url(&format!("/api/threads/{thread_id}")))
            .await
            .1;
        assert_eq!(t["message_count"], 2, "{path}: {t}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_continues_with_its_earlier_turns_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    let model = RecordingModel::default();
    let mut o = Options::new(dir.path());
    o.model = Arc::new(model.clone());
    o.tuning = Tuning {
        history_messages: 4,
        ..Tuning::default()
    };
    let server = Server::start(o).await;
    let questions = [
        "Find developers with Python expertise",
        "How many employees do we have?",
        "Find engineers with Rust experience",
        "What is our headcount?",
    ];
    for q in questions {
        let res = server
            .post(
                "/api/chat/sync",
                &json!({"message": q, "thread_id": "memory-1"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let t: Value = get_json(server.url("/api/threads/memory-1")).await.1;
    let stored: Vec<(String, String)> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(stored.len(), 8);
    for (i, q) in questions.iter().enumerate() {
        assert_eq!(stored[2 * i], ("user".to_string(), q.to_string()));
        assert_eq!(stored[2 * i + 1].0, "assistant");
    }

    // The last chat's model saw the 4 newest stored messages before its question.
    let asked = model.first_step_on(questions[3]);
    let seen: Vec<(String, String)> = asked
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::User {
                "user"
            } else {
                "assistant"
            };
            (role.to_string(), m.content.clone())
        })
        .collect();
    let mut expected = stored[2..6].to_vec();
    expected.push(("user".into(), questions[3].into()));
    assert_eq!(seen, expected);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chats_on_one_thread_run_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let model = RecordingModel::default();
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    o.model = Arc::new(model.clone());
    let server = Server::start(o).await;

    let first_q = "Find developers with Python expertise";
    let second_q = "Find engineers with Go experience";
    let mut first = open_sse(
        &server.base,
        json!({"message": first_q, "thread_id": "shared"}),
    )
    .await;
    tokio::time::timeout(Duration::from_secs(5), tools.entered.notified())
        .await
        .expect("first chat reaches its tool");
    let base = server.base.clone();
    let second = tokio::spawn(async move {
        sse_chat(&base, json!({"message": second_q, "thread_id": "shared"})).await
    });
    let locks = &server.state.locks;
    wait_until(
        "the second chat to queue on the thread",
        Duration::from_secs(5),
        || locks.chats_on("shared") == 2,
    )
    .await;
    assert_eq!(tools.calls.load(Ordering::SeqCst), 1, "second chat waits");
    assert_eq!(model.agent_messages.lock().unwrap().len(), 1);

    tools.release(2);
    let mut first_events = Vec::new();
    while let Some(e) = first.next().await {
        first_events.push(e);
    }
    let second_events = second.await.unwrap();
    let end_of_first = first_events.last().unwrap();
    assert_eq!(end_of_first.name, "stream_end");
    // Its stream_start left at once, while it waited; its run began after the first.
    assert_eq!(second_events[0].name, "stream_start");
    assert!(
        second_events[1].env["ts"].as_f64() >= end_of_first.env["ts"].as_f64(),
        "second runs after the first ended"
    );

    // The second chat saw the first turn as history.
    let first_answer = first_events
        .iter()
        .find(|e| e.name == "response")
        .unwrap()
        .env["data"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let asked = model.first_step_on(second_q);
    let turns: Vec<(Role, &str)> = asked
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        turns,
        [
            (Role::User, first_q),
            (Role::Assistant, first_answer.as_str()),
            (Role::User, second_q)
        ]
    );

    let t: Value = get_json(server.url("/api/threads/shared")).await.1;
    let order: Vec<(&str, &str)> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(order.len(), 4);
    assert_eq!(order[0], ("user", first_q));
    assert_eq!(order[1], ("assistant", first_answer.as_str()));
    assert_eq!(order[2], ("user", second_q));
    assert_eq!(order[3].0, "assistant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_event_leaves_at_once_and_silence_gets_keep_alive_comments() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    o.tuning = Tuning {
        keep_alive: Duration::from_millis(50),
        ..Tuning::default()
    };
    let server = Server::start(o).await;
    let res = server.post("/api/chat", &json!({"message": PYTHON})).await;
    let mut body = res.bytes_stream();
    let mut text = String::new();
    // stream_start arrives while the run is still blocked in its tool.
    while !text.contains("event: tool_start") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("events arrive before the tool returns")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // Keep-alive comments may come first on a busy machine; the first event is stream_start.
    let events = text.trim_start_matches([':', '\n']);
    assert!(events.starts_with("event: stream_start\ndata: {"), "{text}");
    // The tool stays blocked until a keep-alive comment has come after its tool_start.
    let silent_from = text.find("event: tool_start").unwrap();
    while !text[silent_from..].lines().any(|l| l.starts_with(':')) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("a keep-alive comment while the tool is blocked")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    tools.release(1);
    while let Some(chunk) = body.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let silence =
        &text[text.find("event: tool_start").unwrap()..text.find("event: tool_end").unwrap()];
    assert!(
        silence.lines().any(|l| l.starts_with(':')),
        "keep-alive comment during the silence: {silence:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    let server = Server::start(o).await;
    let mut stream = open_sse(
        &server.base,
        json!({"message": PYTHON, "thread_id": "gone"}),
    )
    .await;
    loop {
        let e = stream.next().await.expect("stream open");
        if e.name == "tool_start" {
            break;
        }
    }
    drop(stream);
    wait_until(
        "the blocked tool call to be cancelled",
        Duration::from_secs(5),
        || tools.dropped.load(Ordering::SeqCst) > 0,
    )
    .await;
    // Nothing more runs for that chat: no further tool call, even once released. The chat
    // holds its thread until its run has ended and the turn is stored.
    tools.release(5);
    wait_until("the chat to end", Duration::from_secs(5), || {
        server.state.locks.chats_on("gone") == 0
    })
    .await;
    assert_eq!(tools.calls.load(Ordering::SeqCst), 1);
    let metrics = get_text(server.url("/metrics")).await;
    assert!(
        metrics.contains("eng_intel_runs_total{outcome=\"cancelled\"} 1"),
        "{metrics}"
    );
    // Only answered turns are stored: no orphan question, so no thread either.
    let (status, _) = get_json(server.url("/api/threads/gone")).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_chat_past_its_timeout_gets_504_and_its_run_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    o.settings = settings(&[("SYNC_TIMEOUT_S", "1")]);
    let server = Server::start(o).await;
    let t0 = std::time::Instant::now();
    let res = server
        .post("/api/chat/sync", &json!({"message": PYTHON}))
        .await;
    assert_eq!(res.status(), 504);
    assert!(t0.elapsed() >= Duration::from_secs(1));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "timeout");
    wait_until("the run to be cancelled", Duration::from_secs(5), || {
        tools.dropped.load(Ordering::SeqCst) > 0
    })
    .await;
    server.stop().await;
}

/// Every pipeline runs directly over HTTP (`graph` in the request) on the demo
/// organisation, offline: the answers are the deterministic ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_run_directly_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let mut o = Options::new(dir.path());
    o.tools = stores.tools();
    let server = Server::start(o).await;
    let cases = [
        (
            "rag",
            "How do we roll back the ledger-service?",
            "[1] Runbook: ledger-service",
        ),
        (
            "one_on_one_prep",
            "Prepare my 1:1 with Sofia Rossi",
            "1:1 brief: Sofia Rossi",
        ),
        (
            "graph_rag",
            "How is Kenji Tanaka connected to ledger-service?",
            "ledger-service",
        ),
        (
            "anomaly_detection",
            "Were there any anomalies in failed deployments?",
            "week of 12 May 2025",
        ),
        (
            "nl_sql",
            "How many tickets did each team close?",
            "needs a language model",
        ),
    ];
    for (graph, q, expected) in cases {
        let res = server
            .post("/api/chat/sync", &json!({"message": q, "graph": graph}))
            .await;
        assert_eq!(res.status(), 200, "{graph}");
        let body: Value = res.json().await.unwrap();
        let answer = body["response"].as_str().unwrap_or_default();
        assert!(answer.contains(expected), "{graph}: {answer}");
    }
    let events = sse_chat(
        &server.base,
        json!({"message": "How do we roll back the ledger-service?", "graph": "rag"}),
    )
    .await;
    let got = names(&events);
    assert_in_order(
        &got,
        &[
            "stream_start",
            "tool_start",
            "tool_end",
            "response",
            "stream_end",
        ],
    );
    server.stop().await;
}
