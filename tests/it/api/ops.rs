//! Operating the server: health (healthy and degraded), metrics, the OpenAPI document
//! against real events, graphs, hot reload (good, broken, runs in flight), graceful
//! shutdown of open streams, and threads surviving a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eng_intel::threads::{
    AppendTo, HeldLock, MessagePage, NewMessage, Page, StoreError, StoredMessage, Thread,
    ThreadRead, ThreadStore,
};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::{config, repo};

const PYTHON: &str = "Find developers with Python expertise";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_store_and_degrades_when_one_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.health = Arc::new(|| async {
        vec![
            ("postgres".to_string(), Ok(())),
            ("neo4j".to_string(), Err("connection refused".to_string())),
        ]
    });
    let server = Server::start(o).await;
    let (status, body) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["agent_ready"], true);
    assert_eq!(
        body["databases"],
        json!({"postgres": "ok", "neo4j": "error: connection refused", "threads": "ok"})
    );
    assert!(body["uptime_s"].as_f64().unwrap() >= 0.0);
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let (status, body) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["agent_ready", "databases", "status", "uptime_s"],
        "the seed's shape"
    );
    server.stop().await;
}

/// A thread store whose database is gone.
struct DownThreads;

#[async_trait]
impl ThreadStore for DownThreads {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError("database is locked".into()))
    }
    async fn create(&self, _: &str, _: &str) -> Result<Thread, StoreError> {
        self.ping().await.map(|_| unreachable!())
    }
    async fn list(&self, _: i64, _: i64, _: Option<&str>) -> Result<Page, StoreError> {
        self.ping().await.map(|_| unreachable!())
    }
    async fn get(&self, _: &str) -> Result<Option<Thread>, StoreError> {
        self.ping().await.map(|_| None)
    }
    async fn messages(&self, _: &str, _: Option<i64>) -> Result<Vec<StoredMessage>, StoreError> {
        self.ping().await.map(|_| vec![])
    }
    async fn delete(&self, _: &str) -> Result<bool, StoreError> {
        self.ping().await.map(|_| false)
    }
    async fn rename(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        self.ping().await.map(|_| false)
    }
    async fn read(&self, _: &str, _: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
        self.ping().await.map(|_| None)
    }
    async fn append(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &[NewMessage],
        _: AppendTo,
    ) -> Result<bool, StoreError> {
        self.ping().await.map(|_| false)
    }
    async fn lock_across_instances(
        &self,
        _: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        Ok(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_thread_store_gives_503s_not_500s() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.threads = Some(Arc::new(DownThreads));
    let server = Server::start(o).await;
    let (status, body) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["databases"]["threads"],
        "error: thread store: database is locked"
    );
    let (status, body) = get_json(server.url("/api/threads")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "store_unavailable");
    let res = server
        .post(
            "/api/chat/sync",
            &json!({"message": PYTHON, "thread_id": "t1"}),
        )
        .await;
    assert_eq!(res.status(), 503);
    // A new conversation runs, but an answer that cannot be stored is no success.
    let res = server
        .post("/api/chat/sync", &json!({"message": PYTHON}))
        .await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "store_failed");
    let metrics = get_text(server.url("/metrics")).await;
    assert!(
        metrics.contains("eng_intel_errors_total{source=\"store\",kind=\"append_failed\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_runs_and_tool_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    for _ in 0..2 {
        let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
        assert_eq!(events.last().unwrap().name, "stream_end");
    }
    client()
        .get(server.url("/api/threads/nope"))
        .send()
        .await
        .unwrap();
    let res = client().get(server.url("/metrics")).send().await.unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let m = res.text().await.unwrap();
    for line in [
        "eng_intel_http_requests_total{method=\"POST\",route=\"/api/chat\",status=\"2xx\"} 2",
        "eng_intel_http_requests_total{method=\"GET\",route=\"/api/threads/{id}\",status=\"4xx\"} 1",
        "eng_intel_runs_total{outcome=\"ok\"} 2",
        "eng_intel_runs_in_flight 0",
        "eng_intel_tool_calls_total{tool=\"find_developer_by_skills\",outcome=\"ok\"} 2",
        "eng_intel_errors_total{source=\"api\",kind=\"not_found\"} 1",
        "eng_intel_run_duration_seconds_count 2",
        "eng_intel_first_event_seconds_count 2",
    ] {
        assert!(m.contains(line), "missing {line:?} in\n{m}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_and_the_real_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let (status, doc) = get_json(server.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let routes = [
        ("/api/chat", "post"),
        ("/api/chat/sync", "post"),
        ("/api/threads", "post"),
        ("/api/threads", "get"),
        ("/api/threads/{id}", "get"),
        ("/api/threads/{id}", "delete"),
        ("/api/health", "get"),
        ("/api/graphs", "get"),
        ("/api/graphs/{name}", "get"),
        ("/api/admin/reload", "post"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(!op["responses"].as_object().unwrap().is_empty());
    }
    // SSE, or with `"stream": false` the sync answer's JSON.
    let ok = &doc["paths"]["/api/chat"]["post"]["responses"]["200"]["content"];
    let mut types: Vec<&String> = ok.as_object().unwrap().keys().collect();
    types.sort();
    assert_eq!(types, ["application/json", "text/event-stream"]);
    let frame = &ok["text/event-stream"]["schema"];
    assert_eq!(
        frame["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/SseEnvelope"
    );
    assert_eq!(
        frame["properties"]["data"]["contentMediaType"],
        "application/json"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every event of a real run matches its documented schema.
    let schemas = &doc["components"]["schemas"];
    let variants = schemas["SseEvent"]["oneOf"].as_array().unwrap();
    let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
    let frame_events = frame["properties"]["event"]["enum"].as_array().unwrap();
    assert_eq!(
        frame_events.len(),
        variants.len(),
        "one frame event per variant"
    );
    for e in &events {
        assert!(frame_events.contains(&json!(e.name)), "{} frames", e.name);
        let variant = variants
            .iter()
            .find(|v| v["properties"]["event"]["enum"][0] == e.name.as_str())
            .unwrap_or_else(|| panic!("event {} is documented", e.name));
        let reference = variant["properties"]["data"]["$ref"].as_str().unwrap();
        let schema = &schemas[reference.trim_start_matches("#/components/schemas/")];
        let props = schema["properties"].as_object().unwrap();
        let data = e.env["data"].as_object().unwrap();
        for k in data.keys() {
            assert!(props.contains_key(k), "{}.{k} is documented", e.name);
        }
        for r in schema["required"].as_array().unwrap() {
            assert!(
                data.contains_key(r.as_str().unwrap()),
                "{}.{r} is sent",
                e.name
            );
        }
    }
    let envelope = &schemas["SseEnvelope"]["allOf"][1]["required"];
    assert_eq!(envelope, &json!(["run_id", "seq", "ts"]));

    let res = client().get(server.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().to_lowercase().contains("swagger"));
    server.stop().await;
}

/// The document says what the server accepts (schemathesis checks the rest in CI): one
/// path per runnable tool with the data's names, the graphs a chat may run, the content
/// type /metrics sends, limits on ids, paging and messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_says_what_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let toolbox = crate::support::demo_stores(dir.path()).await;
    let teams: Vec<String> = toolbox
        .stores
        .relational
        .query("SELECT name FROM teams ORDER BY id", &Default::default())
        .await
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(teams.len() >= 3);
    let mut o = Options::new(dir.path());
    o.tools = toolbox.tools();
    let server = Server::start(o).await;
    let (_, doc) = get_json(server.url("/openapi.json")).await;
    let paths = doc["paths"].as_object().unwrap();
    let config = config();

    assert!(
        !paths.contains_key("/api/tools/{name}"),
        "one path per tool"
    );
    for tool in config.tools() {
        let path = format!("/api/tools/{}", tool.name);
        let pipeline = tool.store == eng_intel::config::spec::StoreRole::Pipeline;
        assert_eq!(paths.contains_key(&path), !pipeline, "{path}");
    }
    let body = &doc["paths"]["/api/tools/headcount"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let mut documented: Vec<String> = body["properties"]["team"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut stored = teams.clone();
    documented.sort();
    stored.sort();
    assert_eq!(documented, stored);
    // A team the data lacks is the caller's mistake (422), not a failed tool (502).
    let (status, res) = send_json(
        client()
            .post(server.url("/api/tools/headcount"))
            .json(&json!({"team": "Nonexistent Team"})),
    )
    .await;
    assert_eq!(
        (status, res["error"].as_str()),
        (422, Some("invalid_args")),
        "{res}"
    );
    let (status, _) = send_json(
        client()
            .post(server.url("/api/tools/headcount"))
            .json(&json!({"team": teams[0]})),
    )
    .await;
    assert_eq!(status, 200);

    let graphs = &doc["components"]["schemas"]["ChatRequest"]["properties"]["graph"]["enum"];
    let steps = config.step_graphs();
    assert!(!steps.is_empty());
    for g in config.graphs() {
        assert_eq!(
            graphs.as_array().unwrap().contains(&json!(g.name)),
            !steps.contains(&g.name),
            "graph {}",
            g.name
        );
    }
    let message = &doc["components"]["schemas"]["ChatRequest"]["properties"]["message"];
    assert_eq!(message["minLength"], 1);
    assert_eq!(message["maxLength"], 16000);

    let res = client().get(server.url("/metrics")).send().await.unwrap();
    let sent = res.headers()["content-type"].to_str().unwrap().to_string();
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(
        metrics.get(&sent).is_some(),
        "{sent} is documented: {metrics}"
    );

    let get = &doc["paths"]["/api/threads/{id}"]["get"]["parameters"];
    let param = |name: &str| {
        get.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(param("id")["pattern"], "^[A-Za-z0-9_-]{1,64}$");
    assert_eq!(param("before")["minimum"], 1);
    assert_eq!(
        (
            param("limit")["minimum"].clone(),
            param("limit")["maximum"].clone()
        ),
        (json!(1), json!(500))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphs_are_listed_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let config = config();
    let (status, body) = get_json(server.url("/api/graphs")).await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = body["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = config.graphs().map(|g| g.name.as_str()).collect();
    assert_eq!(listed, expected);

    let g = config.graph("supervisor").unwrap();
    let (status, body) = get_json(server.url("/api/graphs/supervisor")).await;
    assert_eq!(status, 200);
    assert_eq!(body["mermaid"], eng_intel::compile::draw::mermaid(g));
    assert_eq!(
        body["nodes"].as_array().unwrap().len(),
        g.graph.node_count()
    );
    assert_eq!(
        body["edges"].as_array().unwrap().len(),
        g.graph.edge_count()
    );
    assert_eq!(body["start"], g.graph[g.start].name.as_str());
    let (status, body) = get_json(server.url("/api/graphs/supervisr")).await;
    assert_eq!(status, 404);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean \"supervisor\"")
    );
    server.stop().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the project's configuration that a test may edit.
pub(super) fn project_copy(root: &Path) {
    copy_dir(&repo().join("graphs"), &root.join("graphs"));
    copy_dir(&repo().join("prompts"), &root.join("prompts"));
    copy_dir(&repo().join("tools"), &root.join("tools"));
    std::fs::copy(repo().join("tools.yaml"), root.join("tools.yaml")).unwrap();
}

async fn reload(server: &Server) -> (u16, Value) {
    send_json(client().post(server.url("/api/admin/reload"))).await
}

async fn description(server: &Server) -> String {
    let (_, body) = get_json(server.url("/api/graphs/supervisor")).await;
    body["description"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_a_good_config_and_refuses_a_broken_one() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    project_copy(project.path());
    let mut o = Options::new(data.path());
    o.config_dir = project.path().to_path_buf();
    let server = Server::start(o).await;
    let supervisor = project.path().join("graphs/supervisor.yaml");
    let original = std::fs::read_to_string(&supervisor).unwrap();
    let old_description = description(&server).await;

    // Good: a new description is served after the reload.
    let edited = original.replacen(
        &format!("description: {old_description}"),
        "description: Reloaded supervisor.",
        1,
    );
    assert_ne!(edited, original, "the test edits the description line");
    std::fs::write(&supervisor, &edited).unwrap();
    let (status, body) = reload(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reloaded"], true);
    assert!(
        body["graphs"]
            .as_array()
            .unwrap()
            .contains(&json!("supervisor"))
    );
    assert_eq!(description(&server).await, "Reloaded supervisor.");

    // Broken: an edge to a node that does not exist. Refused with diagnostics; the
    // running configuration stays and still answers.
    let broken = edited.replacen("  - classify -> route", "  - classify -> rout", 1);
    assert_ne!(broken, edited);
    std::fs::write(&supervisor, &broken).unwrap();
    let (status, body) = reload(&server).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "invalid_config");
    let diags = body["diagnostics"].as_array().unwrap();
    let d = diags
        .iter()
        .find(|d| d["severity"] == "error" && d["message"].as_str().unwrap().contains("\"rout\""))
        .unwrap_or_else(|| panic!("a diagnostic names the unknown node: {body}"));
    assert_eq!(d["file"], "graphs/supervisor.yaml");
    let line = broken
        .lines()
        .position(|l| l.contains("classify -> rout"))
        .unwrap()
        + 1;
    assert_eq!(d["line"], line, "{d}");
    assert_eq!(description(&server).await, "Reloaded supervisor.");
    let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
    assert!(events.iter().any(|e| e.name == "response"));

    // A project directory that cannot be read is refused the same way.
    std::fs::rename(
        project.path().join("graphs"),
        project.path().join("graphs.off"),
    )
    .unwrap();
    let (status, body) = reload(&server).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("graphs/"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_flight_finishes_on_the_config_it_started_with() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    project_copy(project.path());
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(data.path());
    o.config_dir = project.path().to_path_buf();
    o.tools = Arc::new(tools.clone());
    let server = Server::start(o).await;

    let before = sse_chat_after_release(&server, &tools).await;
    let mut in_flight = open_sse(&server.base, json!({"message": PYTHON})).await;
    tokio::time::timeout(Duration::from_secs(5), tools.entered.notified())
        .await
        .unwrap();
    std::fs::write(
        project
            .path()
            .join("prompts/answers/find_developer_by_skills.j2"),
        "NEW TEMPLATE: {{ result | length }} developers",
    )
    .unwrap();
    let (status, body) = reload(&server).await;
    assert_eq!(status, 200, "{body}");
    tools.release(1);
    let mut old_run = Vec::new();
    while let Some(e) = in_flight.next().await {
        old_run.push(e);
    }
    assert_eq!(
        response_of(&old_run),
        before,
        "the run in flight kept its config"
    );
    let after = sse_chat_after_release(&server, &tools).await;
    assert_eq!(
        after,
        format!(
            "NEW TEMPLATE: {} developers",
            developers().as_array().unwrap().len()
        )
    );
    server.stop().await;
}

fn response_of(events: &[Received]) -> String {
    events.iter().find(|e| e.name == "response").unwrap().env["data"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn sse_chat_after_release(server: &Server, tools: &GateTools) -> String {
    tools.release(1);
    response_of(&sse_chat(&server.base, json!({"message": PYTHON})).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_with_error_and_stream_end() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    let mut server = Server::start(o).await;
    let mut stream = open_sse(&server.base, json!({"message": PYTHON})).await;
    tokio::time::timeout(Duration::from_secs(5), tools.entered.notified())
        .await
        .unwrap();
    let state = server.state.clone();
    server.signal_stop();
    let mut events = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = stream.next().await {
            events.push(e);
        }
    })
    .await;
    assert!(collected.is_ok(), "the stream ends by itself: {events:?}");
    let tail: Vec<&str> = events
        .iter()
        .rev()
        .take(2)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(tail, ["stream_end", "error"]);
    let error = &events[events.len() - 2].env["data"];
    assert_eq!(error["kind"], "cancelled");
    assert_eq!(events.last().unwrap().env["data"]["ok"], false);
    assert_eq!(tools.dropped.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(state.shutdown.is_cancelled());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let res = server
        .post(
            "/api/chat/sync",
            &json!({"message": PYTHON, "thread_id": "kept"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let created: Value = server
        .post("/api/threads", &json!({"title": "Planning"}))
        .await
        .json()
        .await
        .unwrap();
    let (_, before_kept) = get_json(server.url("/api/threads/kept")).await;
    let (_, before_list) = get_json(server.url("/api/threads")).await;
    server.stop().await;

    let server = Server::start(Options::new(dir.path())).await;
    let (status, after_kept) = get_json(server.url("/api/threads/kept")).await;
    assert_eq!(status, 200);
    assert_eq!(after_kept, before_kept);
    assert_eq!(after_kept["messages"].as_array().unwrap().len(), 2);
    let (_, after_list) = get_json(server.url("/api/threads")).await;
    assert_eq!(after_list, before_list);
    assert_eq!(after_list["threads"][0]["thread_id"], created["thread_id"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_refuses_a_config_without_the_entry_graph() {
    let data = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    project_copy(project.path());
    let mut o = Options::new(data.path());
    o.config_dir = project.path().to_path_buf();
    let server = Server::start(o).await;
    // Valid on its own (the graph tests that run it go too), but nothing to serve.
    std::fs::remove_file(project.path().join("graphs/supervisor.yaml")).unwrap();
    std::fs::remove_dir_all(project.path().join("graphs/tests")).unwrap();
    let (status, body) = reload(&server).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["diagnostics"][0]["code"], "E077", "{body}");
    // The running configuration stays: healthy, and chats are answered.
    let (status, health) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 200, "{health}");
    let (status, answer) = send_json(
        client()
            .post(server.url("/api/chat/sync"))
            .json(&json!({"message": PYTHON})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    server.stop().await;
}
