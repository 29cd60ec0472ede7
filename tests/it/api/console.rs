//! The web console's server side: the embedded files at `/` (every file a page refers
//! to is served, with a strict CSP), `GET /api/tools` and `POST /api/tools/{name}` on the
//! demo stores, `PATCH /api/threads/{id}` and `GET /api/admin/config`. The pages
//! themselves are tested in a real browser (console-tests/, README "Web console").

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::json;

use crate::support::demo_stores;
use crate::support::server::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_whole_with_a_strict_csp() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let c = client();
    let res = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();

    // Every file the page or a module refers to is served (nothing missing from the
    // embedded list), and nothing is fetched from elsewhere.
    let refs = Regex::new(r#"(?:/console/|\./)([a-z0-9_-]+\.(?:js|css|svg))"#).unwrap();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = refs
        .captures_iter(&html)
        .map(|c| c[1].to_string())
        .collect();
    let mut total = html.len();
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let res = c
            .get(server.url(&format!("/console/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{file}");
        let body = res.text().await.unwrap();
        total += body.len();
        assert!(!body.contains("https://"), "{file} refers to another site");
        assert!(!body.contains("innerHTML"), "{file} parses HTML");
        todo.extend(refs.captures_iter(&body).map(|c| c[1].to_string()));
    }
    assert!(
        seen.contains("chat.js") && seen.contains("graphs.js"),
        "{seen:?}"
    );
    assert!(total < 150_000, "the console is {total} bytes");

    for bad in ["/console/nope.js", "/console/..%2FCargo.toml", "/console/"] {
        let res = c.get(server.url(bad)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{bad}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_run_with_checked_arguments_on_the_demo_stores() {
    let dir = tempfile::tempdir().unwrap();
    let stores = demo_stores(dir.path()).await;
    let mut o = Options::new(dir.path());
    o.tools = stores.tools();
    let server = Server::start(o).await;
    let c = client();

    let (status, list) = get_json(server.url("/api/tools")).await;
    assert_eq!(status, 200);
    let dora = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "dora_metrics")
        .unwrap();
    assert_eq!(dora["store"], "builtin");
    assert_eq!(dora["runnable"], true);
    assert_eq!(dora["args"]["properties"]["days"]["type"], "integer");

    let run = |name: &str, args: serde_json::Value| {
        c.post(server.url(&format!("/api/tools/{name}")))
            .json(&args)
    };
    let (status, org) = send_json(run("dora_metrics", json!({"days": 90}))).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["tool"], "dora_metrics");
    assert_eq!(org["result"]["scope"], "the organisation");
    assert_eq!(org["result"]["window"]["days"], 90);
    assert!(org["result"]["deployments"].as_i64().unwrap() > 0);

    // An explicit window is that window, `until` included (the weekly trends rely on it).
    let (_, week) = send_json(run(
        "dora_metrics",
        json!({"since": "2025-05-12", "until": "2025-05-18", "team": "payments"}),
    ))
    .await;
    assert_eq!(
        week["result"]["window"],
        json!({"start": "2025-05-12", "end": "2025-05-19", "days": 7})
    );
    assert_eq!(week["result"]["scope"], "the Payments team", "{week}");
    let (_, rows) = send_json(run(
        "deployment_history",
        json!({"since": "2025-05-12", "until": "2025-05-18", "limit": 200}),
    ))
    .await;
    let rows = rows["result"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| {
        let at = r["finished_at"].as_str().unwrap();
        ("2025-05-12".."2025-05-19").contains(&at)
    }));

    let (status, bad) = send_json(run("dora_metrics", json!({"days": "ninety"}))).await;
    assert_eq!(status, 422);
    assert_eq!(bad["error"], "invalid_args");
    assert!(bad["detail"].as_str().unwrap().contains("days"), "{bad}");
    let (status, body) = send_json(run("dora_metric", json!({}))).await;
    assert_eq!(status, 404);
    assert!(
        body["detail"].as_str().unwrap().contains("dora_metrics"),
        "{body}"
    );
    let (status, body) =
        send_json(run("prepare_one_on_one", json!({"person": "Sofia Rossi"}))).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "pipeline_tool");
    // A name the organisation lacks is a bad argument, said before the tool runs.
    let (status, body) =
        send_json(run("employee_profile", json!({"person": "Nobody Atall"}))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "invalid_args");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no employee named Nobody Atall"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_are_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let c = client();
    let (_, t) = send_json(
        c.post(server.url("/api/threads"))
            .json(&json!({"title": "Old"})),
    )
    .await;
    let id = t["thread_id"].as_str().unwrap();
    let url = server.url(&format!("/api/threads/{id}"));
    let (status, renamed) = send_json(c.patch(&url).json(&json!({"title": "  New name "}))).await;
    assert_eq!(status, 200);
    assert_eq!(renamed["title"], "New name");
    let (_, got) = get_json(url.clone()).await;
    assert_eq!(got["title"], "New name");
    let (status, _) = send_json(c.patch(&url).json(&json!({"title": " "}))).await;
    assert_eq!(status, 400);
    let (status, _) = send_json(
        c.patch(server.url("/api/threads/missing"))
            .json(&json!({"title": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_state_shows_findings_and_the_last_reload() {
    let dir = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    super::ops::project_copy(project.path());
    let mut o = Options::new(dir.path());
    o.config_dir = project.path().to_path_buf();
    let server = Server::start(o).await;
    let c = client();
    let (status, state) = get_json(server.url("/api/admin/config")).await;
    assert_eq!(status, 200);
    assert_eq!(state["disk"]["state"], "same");
    assert!(state["last_reload"].is_null());
    assert!(
        state["graphs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "supervisor")
    );

    // A valid edit on disk is pending until a reload, then it is the last reload.
    let sup = project.path().join("graphs/supervisor.yaml");
    let text = std::fs::read_to_string(&sup).unwrap();
    std::fs::write(
        &sup,
        text.replacen("description:", "description: Edited.", 1),
    )
    .unwrap();
    let (_, state) = get_json(server.url("/api/admin/config")).await;
    assert_eq!(state["disk"]["state"], "changed", "{state}");
    assert_eq!(
        state["disk"]["changes"]["graphs"]["changed"],
        json!(["supervisor"])
    );
    let (status, _) = send_json(c.post(server.url("/api/admin/reload"))).await;
    assert_eq!(status, 200);
    let (_, state) = get_json(server.url("/api/admin/config")).await;
    assert_eq!(state["disk"]["state"], "same");
    assert_eq!(
        state["last_reload"]["changes"]["graphs"]["changed"],
        json!(["supervisor"])
    );

    // A broken file: the findings carry file:line; the running config stays.
    std::fs::write(&sup, "name: supervisor\nnodes: [\n").unwrap();
    let (_, state) = get_json(server.url("/api/admin/config")).await;
    assert_eq!(state["disk"]["state"], "invalid");
    let first = &state["disk"]["diagnostics"][0];
    assert_eq!(first["file"], "graphs/supervisor.yaml", "{state}");
    assert!(first["line"].as_u64().unwrap() >= 1);
    server.stop().await;
}
