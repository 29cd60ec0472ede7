//! Threads belong to the key that created them (issue 13, item 5): named keys with roles
//! (`API_KEYS`), other users get 404, admin routes and the full read need an admin key,
//! and the single `API_KEY` keeps working as one admin key.

use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::settings;

const ALICE: &str = "alice-key-123";
const BOB: &str = "bob-key-4567";
const ROOT: &str = "root-key-8910";

async fn call(req: reqwest::RequestBuilder, key: &str) -> (u16, Value) {
    send_json(req.bearer_auth(key)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_seen_only_by_its_owner_and_admins() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[(
        "API_KEYS",
        format!("alice:user:{ALICE}, bob:user:{BOB}\nroot:admin:{ROOT}"),
    )]);
    let server = Server::start(o).await;
    let c = client();
    let (status, answer) = call(
        c.post(server.url("/api/chat/sync"))
            .json(&json!({"message": "How many employees do we have?"})),
        ALICE,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["thread_id"].as_str().unwrap().to_string();
    let thread = server.url(&format!("/api/threads/{id}"));

    assert_eq!(call(c.get(&thread), ALICE).await.0, 200);
    assert_eq!(
        call(c.get(&thread), BOB).await.0,
        404,
        "another user's thread"
    );
    assert_eq!(call(c.get(&thread), ROOT).await.0, 200, "an admin sees it");
    let (status, _) = call(
        c.post(server.url("/api/chat/sync"))
            .json(&json!({"message": "And in Platform?", "thread_id": id})),
        BOB,
    )
    .await;
    assert_eq!(status, 404, "nor may another user continue it");
    assert_eq!(call(c.delete(&thread), BOB).await.0, 404);
    let rename = |key| call(c.patch(&thread).json(&json!({"title": "mine now"})), key);
    assert_eq!(rename(BOB).await.0, 404, "nor rename it");
    assert_eq!(rename(ALICE).await.0, 200, "its owner renames it");

    let listed = |v: &Value| v["total"].as_i64().unwrap();
    assert_eq!(
        listed(&call(c.get(server.url("/api/threads")), BOB).await.1),
        0
    );
    assert_eq!(
        listed(&call(c.get(server.url("/api/threads")), ALICE).await.1),
        1
    );
    assert_eq!(
        listed(&call(c.get(server.url("/api/threads")), ROOT).await.1),
        1
    );

    // The whole thread at once, and the admin routes, need an admin key.
    assert_eq!(
        call(c.get(format!("{thread}?all=true")), ALICE).await.0,
        403
    );
    assert_eq!(call(c.get(format!("{thread}?all=true")), ROOT).await.0, 200);
    assert_eq!(
        call(c.post(server.url("/api/admin/reload")), ALICE).await.0,
        403
    );
    assert_eq!(
        call(c.post(server.url("/api/admin/reload")), ROOT).await.0,
        200
    );

    // The owner's thread is still there after the others tried.
    let (status, t) = call(c.get(&thread), ALICE).await;
    assert_eq!(status, 200);
    assert_eq!(t["message_count"], 2);
    assert!(t.get("owner").is_none(), "the owner is not sent out: {t}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_api_key_is_an_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    let alice = format!("alice:user:{ALICE}");
    o.settings = settings(&[("API_KEY", ROOT), ("API_KEYS", alice.as_str())]);
    let server = Server::start(o).await;
    let c = client();
    let (_, answer) = call(
        c.post(server.url("/api/chat/sync"))
            .json(&json!({"message": "How many employees do we have?"})),
        ALICE,
    )
    .await;
    let id = answer["thread_id"].as_str().unwrap().to_string();
    let (status, _) = call(c.get(server.url(&format!("/api/threads/{id}"))), ROOT).await;
    assert_eq!(status, 200);
    assert_eq!(
        call(c.post(server.url("/api/admin/reload")), ROOT).await.0,
        200
    );
    server.stop().await;
}
