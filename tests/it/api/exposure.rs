//! What an unauthenticated or hostile client can do to the server (issue 13, items 1, 2
//! and 4): metrics labels from fixed sets, slow clients cut off while health still
//! answers, a cap on concurrent chats per address, the bearer scheme in any case and
//! `/metrics` behind the key.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::server::*;
use crate::support::{settings, wait_until};

const PYTHON: &str = "Find developers with Python expertise";

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(mut s: TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut got))
        .await
        .expect("the server closes a stalled connection")
        .ok();
    String::from_utf8_lossy(&got).into_owned()
}

fn host_of(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_labels_stay_a_fixed_set_whatever_the_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let c = client();
    let long = "X".repeat(4_000);
    for i in 0..150 {
        let name = if i == 0 {
            long.clone()
        } else {
            format!("INVENTED{i}")
        };
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        let _ = c
            .request(method, server.url(&format!("/api/nowhere/{i}")))
            .send()
            .await;
    }
    let _ = c.get(server.url("/api/threads/abc")).send().await;
    let m = get_text(server.url("/metrics")).await;
    assert!(!m.contains("INVENTED") && !m.contains("XXXX"), "{m}");
    assert!(!m.contains("/api/nowhere"), "{m}");
    assert!(
        m.contains(
            "eng_intel_http_requests_total{method=\"other\",route=\"unmatched\",status=\"4xx\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains(
            "eng_intel_http_requests_total{method=\"GET\",route=\"/api/threads/{id}\",status=\"4xx\"} 1"
        ),
        "{m}"
    );
    let series = m
        .lines()
        .filter(|l| l.starts_with("eng_intel_http_requests_total{"))
        .count();
    assert!(series <= 4, "{series} series:\n{m}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_health_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[
        ("HEADER_READ_TIMEOUT_S", "1"),
        ("BODY_READ_TIMEOUT_S", "1"),
        ("MAX_CONNECTIONS", "8"),
    ]);
    let server = Server::start(o).await;
    let host = host_of(&server);
    // More half-sent requests than the server takes connections, and some that send
    // nothing at all.
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        if i % 4 != 0 {
            s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(s);
    }
    // A body that never completes.
    let mut body = TcpStream::connect(&host).await.unwrap();
    body.write_all(
        b"POST /api/chat/sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"message\": ",
    )
    .await
    .unwrap();

    let res = tokio::time::timeout(
        Duration::from_secs(60),
        client().get(server.url("/api/health")).send(),
    )
    .await
    .expect("health answers while slow clients hold connections")
    .unwrap();
    assert_eq!(res.status(), 200);

    for s in slow {
        read_until_closed(s, Duration::from_secs(60)).await;
    }
    let answer = read_until_closed(body, Duration::from_secs(60)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_a_bounded_number_of_concurrent_chats() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = std::sync::Arc::new(tools.clone());
    o.settings = settings(&[("MAX_CHATS_PER_IP", "2")]);
    let server = Server::start(o).await;
    let first = open_sse(&server.base, json!({"message": PYTHON})).await;
    let second = open_sse(&server.base, json!({"message": PYTHON})).await;
    wait_until("two chats at the gate", Duration::from_secs(20), || {
        tools.calls.load(Ordering::SeqCst) == 2
    })
    .await;
    let res = server
        .post("/api/chat/sync", &json!({"message": PYTHON}))
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "2");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_chats");
    // Health and thread reads are no chats.
    let (status, _) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 200);
    tools.release(2);
    use futures::StreamExt;
    for s in [first, second] {
        let events: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), s.collect())
            .await
            .unwrap();
        assert_eq!(events.last().unwrap().name, "stream_end");
    }
    // Ended chats free their places.
    tools.release(1);
    let res = server
        .post("/api/chat/sync", &json!({"message": PYTHON}))
        .await;
    assert_eq!(res.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_guards_metrics_and_the_bearer_scheme_is_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[("API_KEY", "k-123456")]);
    let server = Server::start(o).await;
    let c = client();
    let res = c.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401, "/metrics follows the key");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let res = c
            .get(server.url("/metrics"))
            .header("authorization", format!("{scheme} k-123456"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
        let res = c
            .get(server.url("/api/threads"))
            .header("authorization", format!("{scheme} k-123456"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[("API_KEY", "k-123456"), ("METRICS_PUBLIC", "1")]);
    let server = Server::start(o).await;
    let res = c.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200, "METRICS_PUBLIC=1 opens /metrics");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_outlives_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let tools = GateTools::new("find_developer_by_skills");
    let mut o = Options::new(dir.path());
    o.tools = std::sync::Arc::new(tools.clone());
    o.settings = settings(&[("HEADER_READ_TIMEOUT_S", "1")]);
    let server = Server::start(o).await;
    let stream = open_sse(&server.base, json!({"message": PYTHON})).await;
    wait_until("the chat at the gate", Duration::from_secs(20), || {
        tools.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    // Past the header timeout, the request being served is no slow client.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    tools.release(1);
    use futures::StreamExt;
    let events: Vec<Received> = tokio::time::timeout(Duration::from_secs(20), stream.collect())
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().name, "stream_end");
    assert!(events.iter().any(|e| e.name == "response"));
    server.stop().await;
}
