//! A turn from the client's side under faults and concurrency (issue 13, items 8–11, 14
//! and 17): a turn that cannot be stored is an error, not a success; `stream_end` comes
//! after the commit; a thread deleted during a chat stays deleted; the sync timeout
//! covers the wait for the thread and the wait is bounded; a step graph is refused
//! before anything is stored; a thread's messages come in pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eng_intel::compile::ToolDef;
use eng_intel::threads::{
    AppendTo, HeldLock, MessagePage, NewMessage, Page, Role, SqliteThreads, StoreError,
    StoredMessage, Thread, ThreadRead, ThreadStore,
};
use eng_intel::tools::{ToolError, ToolRunner};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::{settings, wait_until};

const PYTHON: &str = "Find developers with Python expertise";

/// SQLite underneath; `append` fails while `broken`, and takes `delay` first.
struct Flaky {
    inner: SqliteThreads,
    broken: AtomicBool,
    delay: Duration,
}

impl Flaky {
    async fn new(dir: &std::path::Path, broken: bool, delay: Duration) -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: SqliteThreads::open(&dir.join("threads.db")).await.unwrap(),
            broken: AtomicBool::new(broken),
            delay,
        })
    }
}

#[async_trait]
impl ThreadStore for Flaky {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create(&self, t: &str, owner: &str) -> Result<Thread, StoreError> {
        self.inner.create(t, owner).await
    }
    async fn list(&self, l: i64, o: i64, owner: Option<&str>) -> Result<Page, StoreError> {
        self.inner.list(l, o, owner).await
    }
    async fn get(&self, id: &str) -> Result<Option<Thread>, StoreError> {
        self.inner.get(id).await
    }
    async fn messages(&self, id: &str, n: Option<i64>) -> Result<Vec<StoredMessage>, StoreError> {
        self.inner.messages(id, n).await
    }
    async fn read(&self, id: &str, p: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
        self.inner.read(id, p).await
    }
    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
    async fn rename(&self, id: &str, title: &str) -> Result<bool, StoreError> {
        self.inner.rename(id, title).await
    }
    async fn append(
        &self,
        id: &str,
        title: &str,
        owner: &str,
        m: &[NewMessage],
        to: AppendTo,
    ) -> Result<bool, StoreError> {
        // A slow commit makes a `stream_end` sent before it visible to the client.
        tokio::time::sleep(self.delay).await;
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError("connection refused".into()));
        }
        self.inner.append(id, title, owner, m, to).await
    }
    async fn lock_across_instances(
        &self,
        _: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        Ok(None)
    }
}

/// Every tool fails, as when the store behind it is down.
struct DownTools;

#[async_trait]
impl ToolRunner for DownTools {
    async fn call(&self, _: &ToolDef, _: &Value) -> Result<Value, ToolError> {
        Err(ToolError::transient("clickhouse: connection refused"))
    }
}

fn data<'a>(events: &'a [Received], name: &str) -> &'a Value {
    &events
        .iter()
        .rfind(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", names(events)))
        .env["data"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_cannot_be_stored_is_an_error_not_a_success() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.threads = Some(Flaky::new(dir.path(), true, Duration::ZERO).await);
    let server = Server::start(o).await;

    let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
    let n = names(&events);
    assert_eq!(&n[n.len() - 2..], ["error", "stream_end"], "{n:?}");
    assert_eq!(data(&events, "error")["kind"], "store_failed");
    assert_eq!(data(&events, "stream_end")["ok"], false);
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e.env["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let (status, body) = send_json(
        client()
            .post(server.url("/api/chat/sync"))
            .json(&json!({"message": PYTHON})),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "store_failed");

    let m = get_text(server.url("/metrics")).await;
    assert!(
        m.contains("eng_intel_runs_total{outcome=\"error\"} 2"),
        "{m}"
    );
    assert!(!m.contains("eng_intel_runs_total{outcome=\"ok\"}"), "{m}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_no_tool_could_answer_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(DownTools);
    let server = Server::start(o).await;
    let events = sse_chat(&server.base, json!({"message": PYTHON})).await;
    let answer = data(&events, "response")["content"].as_str().unwrap();
    assert!(
        answer.starts_with("**I could not read the data"),
        "{answer}"
    );
    assert_eq!(data(&events, "stream_end")["ok"], false);
    let m = get_text(server.url("/metrics")).await;
    assert!(
        m.contains("eng_intel_runs_total{outcome=\"unanswered\"} 1"),
        "{m}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_end_comes_after_the_turn_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.threads = Some(Flaky::new(dir.path(), false, Duration::from_millis(300)).await);
    let server = Server::start(o).await;
    for _ in 0..3 {
        let mut stream = open_sse(&server.base, json!({"message": PYTHON})).await;
        let mut thread_id = String::new();
        loop {
            let e = stream.next().await.expect("stream_end arrives");
            if e.name == "stream_start" {
                thread_id = e.env["data"]["thread_id"].as_str().unwrap().to_string();
            }
            if e.name == "stream_end" {
                break;
            }
        }
        // The stream is still open; the turn must already be readable.
        let (status, thread) = get_json(server.url(&format!("/api/threads/{thread_id}"))).await;
        assert_eq!(status, 200, "{thread}");
        assert_eq!(thread["message_count"], 2);
        assert_eq!(thread["messages"].as_array().unwrap().len(), 2);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_deleted_during_a_chat_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    let server = Server::start(o).await;
    let (_, thread) = send_json(
        client()
            .post(server.url("/api/threads"))
            .json(&json!({"title": "1:1 prep"})),
    )
    .await;
    let id = thread["thread_id"].as_str().unwrap().to_string();
    let stream = open_sse(&server.base, json!({"message": PYTHON, "thread_id": id})).await;
    wait_until("the chat at the gate", Duration::from_secs(20), || {
        tools.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    let res = client()
        .delete(server.url(&format!("/api/threads/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tools.release(1);
    let events: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), stream.collect())
        .await
        .unwrap();
    assert_eq!(data(&events, "error")["kind"], "thread_deleted");
    assert_eq!(data(&events, "stream_end")["ok"], false);
    let (status, _) = get_json(server.url(&format!("/api/threads/{id}"))).await;
    assert_eq!(status, 404, "the deleted thread is not brought back");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_timeout_covers_the_wait_and_the_wait_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    o.settings = settings(&[("SYNC_TIMEOUT_S", "1"), ("THREAD_QUEUE_MAX", "1")]);
    let server = Server::start(o).await;
    let id = "busy-thread";
    let first = open_sse(&server.base, json!({"message": PYTHON, "thread_id": id})).await;
    wait_until(
        "the first chat at the gate",
        Duration::from_secs(20),
        || tools.calls.load(Ordering::SeqCst) == 1,
    )
    .await;
    // Queued behind the first, which holds the thread: the limit runs out while waiting.
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(20),
        send_json(
            client()
                .post(server.url("/api/chat/sync"))
                .json(&json!({"message": PYTHON, "thread_id": id})),
        ),
    )
    .await
    .expect("the sync chat gives up within its limit, while the thread is still held");
    assert_eq!(status, 504, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("waiting"),
        "{body}"
    );

    // One may wait; the next is refused at once.
    let base = server.base.clone();
    let waiting = tokio::spawn(async move {
        sse_chat(
            &base,
            json!({"message": PYTHON, "thread_id": "busy-thread"}),
        )
        .await
    });
    let state = server.state.clone();
    wait_until(
        "a chat waiting on the thread",
        Duration::from_secs(20),
        || state.locks.chats_on(id) == 2,
    )
    .await;
    let res = server
        .post("/api/chat", &json!({"message": PYTHON, "thread_id": id}))
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    tools.release(2);
    let _: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), first.collect())
        .await
        .unwrap();
    let events = waiting.await.unwrap();
    assert_eq!(events.last().unwrap().name, "stream_end");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_that_needs_inputs_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let (status, body) = send_json(
        client()
            .post(server.url("/api/chat/sync"))
            .json(&json!({"message": "Who works with Alex?", "graph": "graph_rag_expand"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "graph_needs_inputs");
    let (_, list) = get_json(server.url("/api/threads")).await;
    assert_eq!(list["total"], 0, "{list}");
    let (_, graphs) = get_json(server.url("/api/graphs")).await;
    let runnable = |name: &str| {
        graphs["graphs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()["runnable"]
            .clone()
    };
    assert_eq!(runnable("graph_rag_expand"), false);
    assert_eq!(runnable("graph_rag"), true);
    assert_eq!(runnable("supervisor"), true);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_thread_is_read_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let id = "long-thread";
    let msgs: Vec<NewMessage> = (0..250)
        .map(|i| NewMessage {
            role: if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: format!("m{i}"),
            meta: json!({}),
        })
        .collect();
    assert!(
        server
            .state
            .threads
            .append(id, "long", "", &msgs, AppendTo::New)
            .await
            .unwrap()
    );
    let url = |q: &str| server.url(&format!("/api/threads/{id}{q}"));
    let (status, first) = get_json(url("")).await;
    assert_eq!(status, 200);
    let contents = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_string())
            .collect()
    };
    let page = contents(&first);
    assert_eq!(page.len(), 100, "a default page");
    assert_eq!(page.last().unwrap(), "m249");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["message_count"], 250);
    let mut seen = page;
    let mut before = first["next_before"].as_i64().unwrap();
    loop {
        let (_, older) = get_json(url(&format!("?limit=100&before={before}"))).await;
        let mut p = contents(&older);
        p.extend(seen);
        seen = p;
        if older["has_more"] == false {
            assert!(older["next_before"].is_null());
            break;
        }
        before = older["next_before"].as_i64().unwrap();
    }
    let expected: Vec<String> = (0..250).map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    let (_, all) = get_json(url("?all=true")).await;
    assert_eq!(contents(&all).len(), 250);
    let (status, _) = get_json(url("?limit=0")).await;
    assert_eq!(status, 400);
    let (status, _) = get_json(url("?limit=501")).await;
    assert_eq!(status, 400);
    // Ignored with `all=true`, but still refused when malformed.
    let (status, _) = get_json(url("?all=true&before=-239")).await;
    assert_eq!(status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_waiting_for_its_thread_hears_stream_start_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = Arc::new(tools.clone());
    let server = Server::start(o).await;
    let id = "queued-thread";
    let first = open_sse(&server.base, json!({"message": PYTHON, "thread_id": id})).await;
    wait_until(
        "the first chat at the gate",
        Duration::from_secs(20),
        || tools.calls.load(Ordering::SeqCst) == 1,
    )
    .await;
    // The thread is held: the second stream opens and says so before it can run.
    let mut second = tokio::time::timeout(
        Duration::from_secs(20),
        open_sse(&server.base, json!({"message": PYTHON, "thread_id": id})),
    )
    .await
    .expect("the waiting chat's stream opens at once");
    let start = tokio::time::timeout(Duration::from_secs(20), second.next())
        .await
        .expect("stream_start while waiting")
        .unwrap();
    assert_eq!(start.name, "stream_start");
    assert_eq!(start.env["data"]["thread_id"], id);
    assert_eq!(
        tools.calls.load(Ordering::SeqCst),
        1,
        "the second has not run yet"
    );
    tools.release(2);
    let _: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), first.collect())
        .await
        .unwrap();
    let rest: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), second.collect())
        .await
        .unwrap();
    let n = names(&rest);
    assert!(!n.contains(&"stream_start"), "one stream_start only: {n:?}");
    assert_eq!(n.last(), Some(&"stream_end"));
    assert!(n.contains(&"response"), "{n:?}");
    let run_id = &start.env["run_id"];
    assert!(
        rest.iter().all(|e| &e.env["run_id"] == run_id),
        "one run id"
    );
    let mut seqs = vec![start.env["seq"].as_u64().unwrap()];
    seqs.extend(rest.iter().map(|e| e.env["seq"].as_u64().unwrap()));
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The second chat saw the first's turn.
    let (_, t) = get_json(server.url(&format!("/api/threads/{id}"))).await;
    assert_eq!(t["message_count"], 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_chats_on_sqlite_all_store_their_turns() {
    // 48 chats each starting a thread and 4 threads continued by 4 chats each, all sent
    // at once, so their writes meet at the store's writer.
    const NEW: usize = 48;
    const SHARED: usize = 4;
    const TURNS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[("MAX_CHATS_PER_IP", "0")]);
    let server = Server::start(o).await;
    let chats = (0..NEW)
        .map(|_| None)
        .chain((0..SHARED * TURNS).map(|i| Some(format!("shared-{}", i % SHARED))));
    let replies = futures::future::join_all(chats.map(|thread| {
        send_json(
            client()
                .post(server.url("/api/chat/sync"))
                .json(&json!({"message": PYTHON, "thread_id": thread})),
        )
    }))
    .await;
    let mut threads = std::collections::BTreeSet::new();
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        threads.insert(body["thread_id"].as_str().unwrap().to_string());
    }
    assert_eq!(threads.len(), NEW + SHARED);

    // What the file holds, read with SQL.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("threads.db").display()
    ))
    .await
    .unwrap();
    let per_thread: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT t.thread_id, t.message_count, COUNT(m.id),
                COALESCE(SUM(m.role = 'user' AND m.content = $1), 0),
                COALESCE(SUM(m.role = 'assistant'), 0)
         FROM chat_threads t LEFT JOIN chat_messages m ON m.thread_id = t.thread_id
         GROUP BY t.thread_id",
    )
    .bind(PYTHON)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        per_thread
            .iter()
            .map(|r| r.0.clone())
            .collect::<std::collections::BTreeSet<_>>(),
        threads
    );
    for (id, count, stored, questions, answers) in per_thread {
        let turns = (if id.starts_with("shared-") { TURNS } else { 1 }) as i64;
        assert_eq!(
            (count, stored, questions, answers),
            (2 * turns, 2 * turns, turns, turns),
            "thread {id}"
        );
    }
    server.stop().await;
}
