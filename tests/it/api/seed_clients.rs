//! The seed's own clients against our server: the curl examples of section 5 of the
//! deployment guide as written (only host and port differ), and the JavaScript SSE
//! consumer of section 6 run unchanged under node.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::{repo, skip};

/// The seed's examples, verbatim; `method`, `path` and `body` restate each for the
/// reqwest fallback when curl is not installed.
struct Example {
    curl: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
}

const CHAT: Example = Example {
    curl: r#"curl -N -X POST http://localhost:7860/api/chat \
  -H "Content-Type: application/json" \
  -d '{"message": "Find developers with Python expertise", "thread_id": "optional-id"}'"#,
    method: "POST",
    path: "/api/chat",
    body: Some(
        r#"{"message": "Find developers with Python expertise", "thread_id": "optional-id"}"#,
    ),
};
const SYNC: Example = Example {
    curl: r#"curl -X POST http://localhost:7860/api/chat/sync \
  -H "Content-Type: application/json" \
  -d '{"message": "How many employees do we have?", "stream": false}'"#,
    method: "POST",
    path: "/api/chat/sync",
    body: Some(r#"{"message": "How many employees do we have?", "stream": false}"#),
};
const CREATE: Example = Example {
    curl: r#"curl -X POST http://localhost:7860/api/threads \
  -H "Content-Type: application/json" \
  -d '{"title": "Sprint Planning Chat"}'"#,
    method: "POST",
    path: "/api/threads",
    body: Some(r#"{"title": "Sprint Planning Chat"}"#),
};
const LIST: Example = Example {
    curl: "curl http://localhost:7860/api/threads",
    method: "GET",
    path: "/api/threads",
    body: None,
};
const DELETE: Example = Example {
    curl: "curl -X DELETE http://localhost:7860/api/threads/abc123",
    method: "DELETE",
    path: "/api/threads/abc123",
    body: None,
};
const HEALTH: Example = Example {
    curl: "curl http://localhost:7860/api/health",
    method: "GET",
    path: "/api/health",
    body: None,
};

fn guide() -> Option<String> {
    let path = repo().join("../shared/seed/deployment-guide.md");
    std::fs::read_to_string(path).ok()
}

async fn curl_present() -> bool {
    tokio::process::Command::new("curl")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success())
}

/// Runs the example against `base` and returns what it printed.
async fn run(ex: &Example, base: &str, curl: bool) -> String {
    if curl {
        let cmd = ex.curl.replace("http://localhost:7860", base);
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .await
            .expect("sh runs");
        assert!(out.status.success(), "{cmd}: {out:?}");
        return String::from_utf8(out.stdout).expect("utf-8 output");
    }
    let mut req = client().request(ex.method.parse().unwrap(), format!("{base}{}", ex.path));
    if let Some(body) = ex.body {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    req.send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_curl_examples_work_as_written() {
    if let Some(g) = guide() {
        for ex in [&CHAT, &SYNC, &CREATE, &LIST, &DELETE, &HEALTH] {
            assert!(
                g.contains(ex.curl),
                "not in the guide as written: {}",
                ex.curl
            );
        }
    } else {
        println!("the seed guide is not beside the project; checking the embedded copies only");
    }
    let curl = curl_present().await;
    if !curl {
        println!("curl not installed: sending the same requests with reqwest");
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let base = server.base.as_str();

    // Streaming chat: event lines in the seed's order, data lines are envelopes.
    let out = run(&CHAT, base, curl).await;
    let mut names = Vec::new();
    let mut datas = Vec::new();
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            names.push(n.to_string());
        } else if let Some(d) = line.strip_prefix("data: ") {
            datas.push(serde_json::from_str::<Value>(d).expect("data is JSON"));
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_in_order(
        &names,
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
    assert_eq!(datas.len(), names.len());
    assert_eq!(datas[0]["data"]["thread_id"], "optional-id");
    let tool_start = datas.iter().find(|d| d["event"] == "tool_start").unwrap();
    assert_eq!(tool_start["data"]["tool"], "find_developer_by_skills");
    assert_eq!(tool_start["data"]["args"]["skills"], "Python");

    // Sync: every field filled.
    let sync: Value = serde_json::from_str(&run(&SYNC, base, curl).await).unwrap();
    for field in ["response", "thread_id", "model_used", "task_type"] {
        assert!(
            sync[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {sync}"
        );
    }
    assert!(sync["elapsed_s"].as_f64().unwrap() > 0.0);
    let total: i64 = headcount()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["employees"].as_i64().unwrap())
        .sum();
    assert!(
        sync["response"]
            .as_str()
            .unwrap()
            .contains(&total.to_string()),
        "the answer carries the headcount {total}: {sync}"
    );

    // Threads: create, list (newest first), delete of an unknown id is a JSON 404.
    let created: Value = serde_json::from_str(&run(&CREATE, base, curl).await).unwrap();
    assert_eq!(created["title"], "Sprint Planning Chat");
    let id = created["thread_id"].as_str().unwrap().to_string();
    let list: Value = serde_json::from_str(&run(&LIST, base, curl).await).unwrap();
    let ids: Vec<&str> = list["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            id.as_str(),
            sync["thread_id"].as_str().unwrap(),
            "optional-id"
        ],
        "newest first"
    );
    assert_eq!(list["total"], 3);
    let deleted: Value = serde_json::from_str(&run(&DELETE, base, curl).await).unwrap();
    assert_eq!(deleted["error"], "not_found");
    assert_eq!(deleted["detail"], "no thread \"abc123\"");

    let health: Value = serde_json::from_str(&run(&HEALTH, base, curl).await).unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["agent_ready"], true);
    assert_eq!(health["databases"]["threads"], "ok");
    server.stop().await;
}

fn js_dir() -> PathBuf {
    repo().join("tests/js")
}

/// What the seed's usage callback does with each event, restated from section 6.
fn ui_calls_for(events: &[Received]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| {
            let d = &e.env["data"];
            Some(match e.name.as_str() {
                "model_selection" => json!([
                    "setStatusBar",
                    format!("{} {}", d["emoji"].as_str()?, d["model"].as_str()?)
                ]),
                "routing" => json!([
                    "setStatusBar",
                    format!("Routing to {}...", d["agent"].as_str()?)
                ]),
                "tool_start" => json!(["addToolToTimeline", d["tool"], "running"]),
                "tool_end" => json!(["updateToolInTimeline", d["tool"], "done"]),
                "response" => json!(["appendMarkdown", d["content"]]),
                "error" => json!(["showError", d["message"]]),
                _ => return None,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_javascript_consumer_runs_unchanged_under_node() {
    let node_ok = tokio::process::Command::new("node")
        .arg("--version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        return skip("node is not installed");
    }
    let consumer = std::fs::read_to_string(js_dir().join("seed_consumer.js")).unwrap();
    if let Some(g) = guide() {
        let code: String = consumer
            .lines()
            .skip_while(|l| l.starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            g.contains(&code),
            "tests/js/seed_consumer.js differs from the guide's section 6"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let other = "Find developers with Python expertise";
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(js_dir().join("run_consumer.mjs"))
            .arg(&server.base)
            .arg(other)
            .output(),
    )
    .await
    .expect("node finishes")
    .expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");

    for q in ["Find Python experts", other] {
        let events = sse_chat(&server.base, json!({"message": q})).await;
        let expected = ui_calls_for(&events);
        assert_eq!(got[q], Value::Array(expected.clone()), "UI calls for {q:?}");
        assert!(expected.len() >= 3, "{expected:?}");
    }
    // The second question exercised the tool timeline.
    let calls = got[other].as_array().unwrap();
    assert!(calls.contains(&json!([
        "addToolToTimeline",
        "find_developer_by_skills",
        "running"
    ])));
    assert!(calls.contains(&json!([
        "updateToolInTimeline",
        "find_developer_by_skills",
        "done"
    ])));
    server.stop().await;
}
