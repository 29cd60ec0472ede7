//! Bad input gets a clear JSON error and a 4xx, never a 5xx; bearer auth on and off;
//! CORS.

use eng_intel::api::Tuning;
use serde_json::{Value, json};

use crate::support::server::*;
use crate::support::settings;

fn expect(got: (u16, Value), status: u16, kind: &str, case: &str) -> Value {
    assert_eq!(got.0, status, "{case}: {}", got.1);
    assert_eq!(got.1["error"], kind, "{case}: {}", got.1);
    assert!(
        got.1["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{case}: a detail says what was wrong"
    );
    got.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[("BODY_LIMIT_BYTES", "2048")]);
    o.tuning = Tuning {
        max_message_chars: 100,
        ..Tuning::default()
    };
    let server = Server::start(o).await;
    let c = client();
    for route in ["/api/chat", "/api/chat/sync"] {
        let url = server.url(route);
        let raw = |body: &str, ct: Option<&str>| {
            let mut r = c.post(&url).body(body.to_string());
            if let Some(ct) = ct {
                r = r.header("content-type", ct);
            }
            r
        };
        let json_ct = Some("application/json");
        expect(
            send_json(raw("{\"message\": ", json_ct)).await,
            400,
            "invalid_json",
            "malformed JSON",
        );
        expect(
            send_json(raw("not json", json_ct)).await,
            400,
            "invalid_json",
            "not JSON at all",
        );
        expect(
            send_json(raw(r#"{"message":"hi"}"#, Some("text/plain"))).await,
            415,
            "unsupported_media_type",
            "wrong content type",
        );
        expect(
            send_json(raw(r#"{"message":"hi"}"#, None)).await,
            415,
            "unsupported_media_type",
            "no content type",
        );
        let b = expect(
            send_json(c.post(&url).json(&json!({}))).await,
            422,
            "invalid_body",
            "missing message",
        );
        assert!(b["detail"].as_str().unwrap().contains("message"), "{b}");
        expect(
            send_json(c.post(&url).json(&json!({"message": null}))).await,
            422,
            "invalid_body",
            "null message",
        );
        expect(
            send_json(c.post(&url).json(&json!({"message": 42}))).await,
            422,
            "invalid_body",
            "number message",
        );
        expect(
            send_json(c.post(&url).json(&json!([1, 2]))).await,
            422,
            "invalid_body",
            "array body",
        );
        expect(
            send_json(c.post(&url).json(&json!({"message": ""}))).await,
            400,
            "empty_message",
            "empty message",
        );
        expect(
            send_json(c.post(&url).json(&json!({"message": "  \n\t "}))).await,
            400,
            "empty_message",
            "blank message",
        );
        let b = expect(
            send_json(c.post(&url).json(&json!({"message": "é".repeat(101)}))).await,
            400,
            "message_too_long",
            "message over the character limit",
        );
        assert!(b["detail"].as_str().unwrap().contains("101"), "{b}");
        expect(
            send_json(c.post(&url).json(&json!({"message": "x".repeat(4096)}))).await,
            413,
            "body_too_large",
            "body over BODY_LIMIT_BYTES",
        );
        for bad in ["../etc/passwd", "a b", &"x".repeat(65)] {
            expect(
                send_json(
                    c.post(&url)
                        .json(&json!({"message": "hi", "thread_id": bad})),
                )
                .await,
                400,
                "invalid_thread_id",
                "malformed thread id in the body",
            );
        }
        expect(
            send_json(c.post(&url).json(&json!({"message": "hi", "thread_id": 7}))).await,
            422,
            "invalid_body",
            "thread id of the wrong type",
        );
        let b = expect(
            send_json(
                c.post(&url)
                    .json(&json!({"message": "hi", "graph": "supervsor"})),
            )
            .await,
            400,
            "unknown_graph",
            "unknown graph",
        );
        assert!(
            b["detail"]
                .as_str()
                .unwrap()
                .contains("did you mean \"supervisor\""),
            "{b}"
        );
    }

    // Threads.
    let t = |p: &str| server.url(&format!("/api/threads{p}"));
    expect(
        send_json(c.get(t("/abc123"))).await,
        404,
        "not_found",
        "unknown thread",
    );
    expect(
        send_json(c.delete(t("/abc123"))).await,
        404,
        "not_found",
        "delete unknown thread",
    );
    for bad in ["/bad%20id", "/x.y", &format!("/{}", "x".repeat(65))] {
        expect(
            send_json(c.get(t(bad))).await,
            400,
            "invalid_thread_id",
            "malformed id",
        );
        expect(
            send_json(c.delete(t(bad))).await,
            400,
            "invalid_thread_id",
            "malformed id",
        );
    }
    for q in [
        "?limit=abc",
        "?limit=0",
        "?limit=101",
        "?offset=-1",
        "?offset=x",
    ] {
        expect(send_json(c.get(t(q))).await, 400, "invalid_query", q);
    }
    expect(
        send_json(c.post(t("")).json(&json!({"title": "t".repeat(201)}))).await,
        400,
        "title_too_long",
        "long title",
    );
    expect(
        send_json(c.post(t("")).json(&json!({"title": 5}))).await,
        422,
        "invalid_body",
        "title type",
    );
    expect(
        send_json(
            c.post(t(""))
                .body("{")
                .header("content-type", "application/json"),
        )
        .await,
        400,
        "invalid_json",
        "malformed thread JSON",
    );
    // Every body is an object: serde alone reads a struct from an array.
    expect(
        send_json(c.post(t("")).json(&json!([]))).await,
        422,
        "invalid_body",
        "array thread body",
    );
    // The title limit counts what was sent, as the documented maxLength does.
    expect(
        send_json(
            c.post(t(""))
                .json(&json!({"title": format!(" {}", "t".repeat(200))})),
        )
        .await,
        400,
        "title_too_long",
        "long title with a leading space",
    );
    // A request target too long gets the API's JSON, not hyper's empty 414.
    expect(
        send_json(c.get(t(&format!("?limit=1&x={}", "a".repeat(9000))))).await,
        414,
        "uri_too_long",
        "long query",
    );

    // Routes.
    expect(
        send_json(c.get(server.url("/api/nope"))).await,
        404,
        "not_found",
        "unknown api route",
    );
    expect(
        send_json(c.get(server.url("/nope"))).await,
        404,
        "not_found",
        "unknown route",
    );
    expect(
        send_json(c.get(server.url("/api/chat"))).await,
        405,
        "method_not_allowed",
        "GET on chat",
    );
    expect(
        send_json(c.put(server.url("/api/threads"))).await,
        405,
        "method_not_allowed",
        "PUT threads",
    );
    expect(
        send_json(c.get(server.url("/api/graphs/nope"))).await,
        404,
        "not_found",
        "unknown graph",
    );

    // Still serving, and every error was counted by kind.
    let (status, _) = send_json(c.get(server.url("/api/health"))).await;
    assert_eq!(status, 200);
    let metrics = get_text(server.url("/metrics")).await;
    assert!(
        metrics.contains("eng_intel_errors_total{source=\"api\",kind=\"invalid_json\"} 5"),
        "{metrics}"
    );
    assert!(!metrics.contains("status=\"500\""), "no 500s: {metrics}");
    server.stop().await;
}

/// A deleted thread stays deleted: a chat naming its id later is refused (404) instead of
/// starting the thread again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_on_a_deleted_thread_does_not_bring_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let c = client();
    let (status, t) = send_json(c.post(server.url("/api/threads")).json(&json!({}))).await;
    assert_eq!(status, 201);
    let id = t["thread_id"].as_str().unwrap();
    let (status, _) = send_json(c.delete(server.url(&format!("/api/threads/{id}")))).await;
    assert_eq!(status, 200);
    for route in ["/api/chat/sync", "/api/chat"] {
        let body = json!({"message": "hi", "thread_id": id, "stream": false});
        let b = expect(
            send_json(c.post(server.url(route)).json(&body)).await,
            404,
            "not_found",
            route,
        );
        assert!(b["detail"].as_str().unwrap().contains("was deleted"), "{b}");
    }
    let (status, _) = send_json(c.get(server.url(&format!("/api/threads/{id}")))).await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_api_key_every_api_route_but_health_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[("API_KEY", "s3cret-key")]);
    let server = Server::start(o).await;
    let c = client();
    let guarded: Vec<reqwest::RequestBuilder> = vec![
        c.get(server.url("/api/threads")),
        c.post(server.url("/api/threads"))
            .json(&json!({"title": "x"})),
        c.get(server.url("/api/threads/abc")),
        c.delete(server.url("/api/threads/abc")),
        c.post(server.url("/api/chat"))
            .json(&json!({"message": "hi"})),
        c.post(server.url("/api/chat/sync"))
            .json(&json!({"message": "hi"})),
        c.get(server.url("/api/graphs")),
        c.get(server.url("/api/graphs/supervisor")),
        c.post(server.url("/api/admin/reload")),
    ];
    for req in guarded {
        let r2 = req.try_clone().unwrap();
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        let res = r2.bearer_auth("wrong").send().await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let ok = c
        .post(server.url("/api/chat/sync"))
        .bearer_auth("s3cret-key")
        .json(&json!({"message": "How many employees do we have?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok = c
        .get(server.url("/api/threads"))
        .bearer_auth("s3cret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for open in ["/api/health", "/openapi.json"] {
        let res = c.get(server.url(open)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{open} is open");
        assert!(!res.text().await.unwrap().contains("s3cret-key"));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_api_key_nothing_asks_for_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let res = client()
        .get(server.url("/api/threads"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client()
        .get(server.url("/api/graphs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_and_preflight_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    o.settings = settings(&[
        ("CORS_ORIGINS", "https://app.example, https://admin.example"),
        ("API_KEY", "k3y"),
    ]);
    let server = Server::start(o).await;
    let preflight = |origin: &str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/api/chat"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
    };
    let res = preflight("https://app.example").send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let res = preflight("https://evil.example").send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(Options::new(dir.path())).await;
    let res = client()
        .get(server.url("/api/health"))
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers().get("x-request-id").is_some(),
        "request id is returned"
    );
    server.stop().await;
}
