//! The API tests' server: a real one on 127.0.0.1:0 over a temporary data directory,
//! canned tool results, a tool that blocks until released, a model that records what it
//! was asked, JSON requests, and an SSE reader built on `eventsource-stream`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eng_intel::api::{self, AppParts, AppState, HealthSource, Tuning};
use eng_intel::compile::ToolDef;
use eng_intel::model::offline::OfflineModel;
use eng_intel::model::{ChatRequest, Message, Model, ModelError, Purpose, Tier, TokenSink, Turn};
use eng_intel::settings::Settings;
use eng_intel::threads::{SqliteThreads, ThreadStore};
use eng_intel::tools::{MockTools, ToolError, ToolRunner};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use super::{compiled, repo};

/// Three Python developers, as the relational store would return them.
pub fn developers() -> Value {
    json!([
        {"name": "Alex Kumar", "title": "Senior Engineer", "team": "Platform", "skill": "Python", "proficiency": 5},
        {"name": "Maya Chen", "title": "Engineer", "team": "Data", "skill": "Python", "proficiency": 4},
        {"name": "Sam Ortiz", "title": "Staff Engineer", "team": "Payments", "skill": "Python", "proficiency": 3}
    ])
}

/// Employees per team, in the shape of tools.yaml's `headcount` query.
pub fn headcount() -> Value {
    json!([
        {"team": "Platform", "employees": 5, "managers": 1, "manager": "Priya Nair"},
        {"team": "Payments", "employees": 5, "managers": 1, "manager": "Tom Berg"},
        {"team": "Data", "employees": 4, "managers": 1, "manager": "Ana Souza"},
        {"team": "Mobile", "employees": 4, "managers": 1, "manager": "Li Wei"}
    ])
}

pub fn canned() -> MockTools {
    let mut m = HashMap::new();
    m.insert("find_developer_by_skills".to_string(), developers());
    m.insert("headcount".to_string(), headcount());
    MockTools::new(m)
}

/// Canned results; calls of `blocked` wait for `release` (one permit per call) and
/// record whether their future was dropped before finishing.
#[derive(Clone)]
pub struct GateTools {
    inner: MockTools,
    blocked: String,
    gate: Arc<Semaphore>,
    pub calls: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
    pub entered: Arc<tokio::sync::Notify>,
}

impl GateTools {
    pub fn new(blocked: &str) -> Self {
        GateTools {
            inner: canned(),
            blocked: blocked.into(),
            gate: Arc::new(Semaphore::new(0)),
            calls: Arc::new(AtomicUsize::new(0)),
            dropped: Arc::new(AtomicUsize::new(0)),
            entered: Arc::new(tokio::sync::Notify::new()),
        }
    }
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }
}

struct DropWatch(Arc<AtomicUsize>, bool);

impl Drop for DropWatch {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl ToolRunner for GateTools {
    async fn call(&self, tool: &ToolDef, args: &Value) -> Result<Value, ToolError> {
        if tool.name == self.blocked {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut watch = DropWatch(self.dropped.clone(), false);
            self.entered.notify_one();
            self.gate.acquire().await.expect("gate").forget();
            watch.1 = true;
        }
        self.inner.call(tool, args).await
    }
}

/// The offline model, recording the conversation of every agent step.
#[derive(Default, Clone)]
pub struct RecordingModel {
    pub agent_messages: Arc<Mutex<Vec<Vec<Message>>>>,
}

#[async_trait]
impl Model for RecordingModel {
    fn model_name(&self, tier: Tier) -> String {
        OfflineModel.model_name(tier)
    }
    async fn chat(&self, req: ChatRequest<'_>, tokens: TokenSink<'_>) -> Result<Turn, ModelError> {
        if let Purpose::Agent { .. } = req.purpose {
            self.agent_messages
                .lock()
                .unwrap()
                .push(req.messages.to_vec());
        }
        OfflineModel.chat(req, tokens).await
    }
}

impl RecordingModel {
    /// What the model saw before its first step on `question`: system prompt, history
    /// and the question (later steps add tool calls and results).
    pub fn first_step_on(&self, question: &str) -> Vec<Message> {
        self.agent_messages
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.last().is_some_and(|l| l.content == question))
            .cloned()
            .unwrap_or_else(|| panic!("the model never saw {question:?}"))
    }
}

pub struct Options {
    pub settings: Settings,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub tools: Arc<dyn ToolRunner>,
    pub model: Arc<dyn Model>,
    pub health: Arc<dyn HealthSource>,
    pub threads: Option<Arc<dyn ThreadStore>>,
    pub tuning: Tuning,
}

impl Options {
    pub fn new(data_dir: &Path) -> Self {
        Options {
            settings: Settings::from_lookup(|_| None),
            config_dir: repo().to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            tools: Arc::new(canned()),
            model: Arc::new(OfflineModel),
            health: api::no_stores(),
            threads: None,
            tuning: Tuning::default(),
        }
    }
}

pub struct Server {
    pub base: String,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(o: Options) -> Server {
        let threads = match o.threads {
            Some(t) => t,
            None => Arc::new(
                SqliteThreads::open(&o.data_dir.join("threads.db"))
                    .await
                    .expect("sqlite opens"),
            ),
        };
        let state = AppState::new(AppParts {
            config: compiled(&o.config_dir),
            settings: o.settings,
            config_dir: o.config_dir,
            model: o.model,
            tools: o.tools,
            threads,
            health: o.health,
            tuning: o.tuning,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(api::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Server {
            base,
            state,
            stop: Some(tx),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        client()
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Sends the shutdown signal; the returned handle ends when the server has.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub async fn stop(mut self) {
        self.signal_stop();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("server stops within 10 s")
            .expect("server task")
            .expect("server ran");
    }
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain HTTP still needs one set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Sends a request and returns its status and JSON body (a body that is no JSON fails).
pub async fn send_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    (status, body)
}

/// `GET url`: status and JSON body.
pub async fn get_json(url: String) -> (u16, Value) {
    send_json(client().get(url)).await
}

/// `GET url`: the body as text (`/metrics`).
pub async fn get_text(url: String) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// One received SSE event: the `event:` name and the parsed `data:` envelope.
#[derive(Debug, Clone)]
pub struct Received {
    pub name: String,
    pub env: Value,
}

/// Opens `POST /api/chat` and returns the SSE event stream.
pub async fn open_sse(
    base: &str,
    body: Value,
) -> impl futures::Stream<Item = Received> + Unpin + use<> {
    let res = client()
        .post(format!("{base}/api/chat"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "chat status");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    res.bytes_stream().eventsource().map(|e| {
        let e = e.expect("well-formed SSE");
        Received {
            env: serde_json::from_str(&e.data).expect("data is JSON"),
            name: e.event,
        }
    })
}

/// Every event of one chat, to the end of the stream.
pub async fn sse_chat(base: &str, body: Value) -> Vec<Received> {
    let stream = open_sse(base, body).await;
    tokio::time::timeout(Duration::from_secs(20), stream.collect::<Vec<_>>())
        .await
        .expect("stream ends")
}

pub fn names(events: &[Received]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

/// Asserts `wanted` appear in this relative order among `got`.
pub fn assert_in_order(got: &[&str], wanted: &[&str]) {
    let mut at = 0;
    for w in wanted {
        match got[at..].iter().position(|g| g == w) {
            Some(i) => at += i + 1,
            None => panic!("{w} missing or out of order in {got:?}"),
        }
    }
}
