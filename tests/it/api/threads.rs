//! Threads over HTTP (create, list newest first with paging, get with messages,
//! delete) and the `ThreadStore` contract on both backends: SQLite always, PostgreSQL
//! when `POSTGRES_HOST` is set.

use std::sync::Arc;
use std::time::Duration;

use eng_intel::threads::{
    AppendTo, MessagePage, NewMessage, PgThreads, Role, SqliteThreads, ThreadRead, ThreadStore,
    pg_lock_key,
};
use serde_json::json;

use crate::support::server::*;
use crate::support::{require_server, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_crud_and_paging_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let c = client();
    let (status, first) = send_json(c.post(server.url("/api/threads")).json(&json!({}))).await;
    assert_eq!(status, 201);
    assert_eq!(first["title"], "New conversation");
    assert_eq!(first["message_count"], 0);
    assert_eq!(first["created_at"], first["updated_at"]);

    let mut ids = vec![first["thread_id"].as_str().unwrap().to_string()];
    for i in 1..5 {
        let (status, t) = send_json(
            c.post(server.url("/api/threads"))
                .json(&json!({"title": format!("T{i}")})),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(t["title"], format!("T{i}"));
        ids.push(t["thread_id"].as_str().unwrap().to_string());
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let (status, page) =
            send_json(c.get(server.url(&format!("/api/threads?limit=2&offset={offset}")))).await;
        assert_eq!(status, 200);
        assert_eq!(page["total"], 5);
        assert_eq!(page["limit"], 2);
        assert_eq!(page["offset"], offset);
        for t in page["threads"].as_array().unwrap() {
            paged.push(t["thread_id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(paged, newest_first);

    // A chat on the oldest thread makes it the most recently active.
    let (status, _) = send_json(
        c.post(server.url("/api/chat/sync"))
            .json(&json!({"message": "How many employees do we have?", "thread_id": ids[0]})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, page) = send_json(c.get(server.url("/api/threads?limit=1"))).await;
    assert_eq!(page["threads"][0]["thread_id"], ids[0].as_str());
    assert_eq!(page["threads"][0]["message_count"], 2);

    let (status, t) = send_json(c.get(server.url(&format!("/api/threads/{}", ids[0])))).await;
    assert_eq!(status, 200);
    assert_eq!(t["title"], "New conversation", "an existing title is kept");
    let roles: Vec<&str> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant"]);
    assert_eq!(t["messages"][1]["meta"]["task_type"], "quick_lookup");

    let (status, d) = send_json(c.delete(server.url(&format!("/api/threads/{}", ids[0])))).await;
    assert_eq!(status, 200);
    assert_eq!(d, json!({"deleted": true, "thread_id": ids[0]}));
    let (status, _) = send_json(c.get(server.url(&format!("/api/threads/{}", ids[0])))).await;
    assert_eq!(status, 404);
    let (status, _) = send_json(c.delete(server.url(&format!("/api/threads/{}", ids[0])))).await;
    assert_eq!(status, 404);
    let (_, page) = send_json(c.get(server.url("/api/threads"))).await;
    assert_eq!(page["total"], 4);
    server.stop().await;
}

fn msg(role: Role, content: &str) -> NewMessage {
    NewMessage {
        role,
        content: content.into(),
        meta: json!({"n": content}),
    }
}

/// The store contract, on any backend (ids are fresh so a shared database is fine).
async fn store_contract(store: Arc<dyn ThreadStore>) {
    store.ping().await.unwrap();
    let a = store.create("first", "").await.unwrap();
    // Creation times are in microseconds: the second thread is created a tick later.
    wait_until(
        "the clock to pass the first thread's",
        Duration::from_secs(1),
        || chrono::Utc::now().timestamp_micros() > a.created_at.timestamp_micros(),
    )
    .await;
    let b = store.create("second", "alice").await.unwrap();
    assert_eq!(store.get(&a.thread_id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get("no-such-thread-x").await.unwrap(), None);
    // Renaming changes the title only.
    assert!(store.rename(&a.thread_id, "first, renamed").await.unwrap());
    let renamed = store.get(&a.thread_id).await.unwrap().unwrap();
    assert_eq!(renamed.title, "first, renamed");
    assert_eq!(renamed.updated_at, a.updated_at);
    assert!(!store.rename("no-such-thread-x", "x").await.unwrap());
    assert!(store.rename(&a.thread_id, "first").await.unwrap());

    let page = store.list(100, 0, None).await.unwrap();
    let pos = |id: &str| page.threads.iter().position(|t| t.thread_id == id).unwrap();
    assert!(pos(&b.thread_id) < pos(&a.thread_id), "newest first");
    assert!(page.total >= 2);
    // An owner's list holds only its threads.
    let mine = store.list(100, 0, Some("alice")).await.unwrap();
    assert!(mine.threads.iter().all(|t| t.owner == "alice"));
    assert!(mine.threads.iter().any(|t| t.thread_id == b.thread_id));
    assert!(!mine.threads.iter().any(|t| t.thread_id == a.thread_id));

    // Appending creates an unknown thread with the given title, and keeps order.
    let new_id = format!("t-{}", uuid::Uuid::new_v4());
    store
        .append(
            &new_id,
            "from a chat",
            "",
            &[msg(Role::User, "q1"), msg(Role::Assistant, "a1")],
            AppendTo::New,
        )
        .await
        .unwrap();
    store
        .append(
            &new_id,
            "ignored: thread exists",
            "",
            &[msg(Role::User, "q2"), msg(Role::Assistant, "a2")],
            AppendTo::Existing,
        )
        .await
        .unwrap();
    let t = store.get(&new_id).await.unwrap().unwrap();
    assert_eq!(t.title, "from a chat");
    assert_eq!(t.message_count, 4);
    assert!(t.updated_at >= t.created_at);
    let all: Vec<String> = store
        .messages(&new_id, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(all, ["q1", "a1", "q2", "a2"]);
    let last = store.messages(&new_id, Some(3)).await.unwrap();
    let last: Vec<(Role, &str)> = last.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(
        last,
        [
            (Role::Assistant, "a1"),
            (Role::User, "q2"),
            (Role::Assistant, "a2")
        ]
    );
    assert_eq!(
        store.messages(&new_id, None).await.unwrap()[0].meta,
        json!({"n": "q1"})
    );

    // One snapshot, paged newest first: the last two, then the two before them.
    let page = |limit, before| MessagePage {
        limit: Some(limit),
        before,
    };
    let read = store.read(&new_id, page(2, None)).await.unwrap().unwrap();
    assert_eq!(read.thread.message_count, 4);
    let texts =
        |r: &ThreadRead| -> Vec<String> { r.messages.iter().map(|m| m.content.clone()).collect() };
    assert_eq!(texts(&read), ["q2", "a2"]);
    assert!(read.has_more);
    let older = store
        .read(&new_id, page(2, Some(read.messages[0].id)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(texts(&older), ["q1", "a1"]);
    assert!(!older.has_more);
    let whole = store
        .read(&new_id, MessagePage::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(texts(&whole), ["q1", "a1", "q2", "a2"]);
    assert!(
        store
            .read("no-such-thread-x", page(2, None))
            .await
            .unwrap()
            .is_none()
    );

    assert!(store.delete(&new_id).await.unwrap());
    assert!(!store.delete(&new_id).await.unwrap());
    assert!(store.messages(&new_id, None).await.unwrap().is_empty());
    // A deleted thread stays deleted: appending to it as an existing thread stores nothing.
    let stored = store
        .append(
            &new_id,
            "late",
            "",
            &[msg(Role::User, "q3")],
            AppendTo::Existing,
        )
        .await
        .unwrap();
    assert!(!stored);
    assert_eq!(store.get(&new_id).await.unwrap(), None);
    assert!(store.messages(&new_id, None).await.unwrap().is_empty());
    // …nor as a new one: the id stays that of a deleted thread.
    assert!(store.was_deleted(&new_id).await.unwrap());
    assert!(!store.was_deleted(&a.thread_id).await.unwrap());
    let stored = store
        .append(
            &new_id,
            "again",
            "",
            &[msg(Role::User, "q4")],
            AppendTo::New,
        )
        .await
        .unwrap();
    assert!(!stored);
    assert_eq!(store.get(&new_id).await.unwrap(), None);
    assert!(store.delete(&a.thread_id).await.unwrap());
    assert!(store.delete(&b.thread_id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteThreads::open(&dir.path().join("nested/threads.db"))
        .await
        .unwrap();
    assert!(store.lock_across_instances("x").await.unwrap().is_none());
    store_contract(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_the_contract() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let s = servers.settings();
    let store = PgThreads::connect(s.postgres.as_ref().unwrap())
        .await
        .unwrap();
    store_contract(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serializes_chats_on_a_thread_across_instances() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let s = servers.settings();
    let pg = s.postgres.as_ref().unwrap();
    // Two pools stand for two server instances.
    let one = PgThreads::connect(pg).await.unwrap();
    let two = Arc::new(PgThreads::connect(pg).await.unwrap());
    let id = format!("lock-{}", uuid::Uuid::new_v4());
    let held = one
        .lock_across_instances(&id)
        .await
        .unwrap()
        .expect("a lock");
    let (two2, id2) = (two.clone(), id.clone());
    let waiter = tokio::spawn(async move { two2.lock_across_instances(&id2).await.unwrap() });
    // PostgreSQL shows the lock granted to the first instance's session; the other
    // instance keeps trying (no pooled connection waits) and cannot have it.
    let key = pg_lock_key(&id) as u64;
    let (high, low) = ((key >> 32) as i64, (key & 0xffff_ffff) as i64);
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let granted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND classid = $1::oid AND objid = $2::oid AND objsubid = 1",
    )
    .bind(high)
    .bind(low)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(granted, 1);
    assert!(!waiter.is_finished(), "the other instance waits");
    // Another thread is not blocked.
    let other = two
        .lock_across_instances(&format!("{id}-other"))
        .await
        .unwrap()
        .unwrap();
    other.release().await;
    held.release().await;
    let second = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("acquired once released")
        .unwrap()
        .unwrap();
    second.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_threads_over_http() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let s = servers.settings();
    let store = PgThreads::connect(s.postgres.as_ref().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.threads = Some(Arc::new(store));
    let server = Server::start(o).await;
    let id = format!("pg-{}", uuid::Uuid::new_v4());
    for q in [
        "How many employees do we have?",
        "Find developers with Python expertise",
    ] {
        let (status, body) = send_json(
            client()
                .post(server.url("/api/chat/sync"))
                .json(&json!({"message": q, "thread_id": id})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, t) = send_json(client().get(server.url(&format!("/api/threads/{id}")))).await;
    assert_eq!(status, 200);
    assert_eq!(t["message_count"], 4);
    let (_, health) = send_json(client().get(server.url("/api/health"))).await;
    assert_eq!(health["databases"]["threads"], "ok");
    let (status, _) = send_json(client().delete(server.url(&format!("/api/threads/{id}")))).await;
    assert_eq!(status, 200);
    server.stop().await;
}
