//! Many chats continuing different threads at once on PostgreSQL, across two instances
//! with small pools (issue 13, item 7): a chat waiting for or holding its thread's lock
//! pins no pooled connection, so every chat queues and completes.

use std::sync::Arc;

use eng_intel::threads::PgThreads;
use futures::future::join_all;
use serde_json::json;

use crate::support::server::*;
use crate::support::{env, require_server, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_chats_on_a_hundred_threads_across_two_instances_all_complete() {
    let Some(_servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    // A pool of 3 that gives up after 5 s: before the fix, chats holding a connection
    // for the lock while waiting for another starved it and got 503.
    let s = eng_intel::settings::Settings::from_lookup(|k| match k {
        "POSTGRES_POOL_SIZE" => Some("3".into()),
        "POSTGRES_CONNECT_TIMEOUT_S" => Some("5".into()),
        _ => env(k),
    });
    let pg = s.postgres.clone().unwrap();
    let mut servers = Vec::new();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for dir in &dirs {
        let mut o = Options::new(dir.path());
        o.threads = Some(Arc::new(PgThreads::connect(&pg).await.unwrap()));
        // One test client is one address: no per-address cap here.
        o.settings = settings(&[("MAX_CHATS_PER_IP", "0")]);
        servers.push(Server::start(o).await);
    }
    let run = uuid::Uuid::new_v4().simple().to_string();
    let c = client();
    let chats = (0..200).map(|i| {
        let base = servers[i % 2].base.clone();
        let thread = format!("conc-{run}-{}", i / 2);
        let c = c.clone();
        async move {
            let res = c
                .post(format!("{base}/api/chat/sync"))
                .json(&json!({
                    "message": "How many employees do we have?",
                    "thread_id": thread,
                }))
                .send()
                .await;
            match res {
                Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                Err(e) => (0, format!("{e:?}")),
            }
        }
    });
    let answers = join_all(chats).await;
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    // Both turns of each thread were stored, one after the other.
    let (_, t) = get_json(servers[0].url(&format!("/api/threads/conc-{run}-7"))).await;
    assert_eq!(t["message_count"], 4, "{t}");
    for s in servers {
        s.stop().await;
    }
}
