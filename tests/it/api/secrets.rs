//! No configured secret and no URL credential leaves the process (issue 13, item 3): a
//! model server that echoes the key, a base URL with `user:password@`, a store whose
//! error repeats its password and a request that quotes a key; checked in the SSE
//! events, the sync answer, HTTP errors, health and the log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use eng_intel::model::fallback::FallbackModel;
use eng_intel::model::openai::Options as ModelOptions;
use serde_json::{Value, json};

use crate::support::fake_openai::{FakeOpenAi, Reply};
use crate::support::server::*;
use crate::support::settings;

const KEY: &str = "sk-test-abcdef123";
const EMBEDDING_KEY: &str = "emb-secret-456";
const URL_PASSWORD: &str = "url-pw-789";
const PG_PASSWORD: &str = "pg-pass-1011";

fn leaks(text: &str) -> Vec<&'static str> {
    [KEY, EMBEDDING_KEY, URL_PASSWORD, PG_PASSWORD]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

/// A model server that refuses the key and quotes it back, with the embeddings key too.
fn refusal() -> Reply {
    Reply::Status {
        code: 401,
        headers: vec![],
        body: json!({"error": {"message": format!(
            "Incorrect API key provided: Bearer {KEY} (embeddings: {EMBEDDING_KEY})"
        )}}),
    }
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_events_errors_health_or_logs() {
    let fake = FakeOpenAi::start((0..40).map(|_| refusal()).collect()).await;
    let base = fake
        .base_url
        .replace("http://", &format!("http://user:{URL_PASSWORD}@"));
    let s = settings(&[
        ("FEATHERLESS_BASE_URL", base.as_str()),
        ("FEATHERLESS_API_KEY", KEY),
        ("EMBEDDING_BASE_URL", "http://127.0.0.1:9/v1"),
        ("EMBEDDING_API_KEY", EMBEDDING_KEY),
        ("POSTGRES_HOST", "db.invalid"),
        ("POSTGRES_PASSWORD", PG_PASSWORD),
    ]);
    // The log as `serve` writes it; this runtime has one thread, so every task logs here.
    let log = Log::default();
    let sink = log.clone();
    let _guard =
        tracing::subscriber::set_default(eng_intel::cli::log_subscriber(&s, move || sink.clone()));

    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(dir.path());
    let opts = ModelOptions::from_lookup(|k| (k == "LLM_MAX_RETRIES").then(|| "0".to_string()));
    o.model = Arc::new(FallbackModel::from_settings(s.llm.as_ref(), opts).unwrap());
    o.health = Arc::new(|| async {
        vec![(
            "postgres".to_string(),
            Err(format!(
                "password authentication failed for postgres:{PG_PASSWORD}@db.invalid"
            )),
        )]
    });
    o.settings = s;
    let server = Server::start(o).await;

    let events = sse_chat(
        &server.base,
        json!({"message": "Find developers with Python expertise"}),
    )
    .await;
    let wire: Vec<String> = events.iter().map(|e| e.env.to_string()).collect();
    let wire = wire.join("\n");
    assert_eq!(leaks(&wire), Vec::<&str>::new(), "{wire}");
    let fallback = events
        .iter()
        .find(|e| e.name == "model_fallback")
        .expect("the refused key makes a fallback");
    assert_eq!(
        fallback.env["data"]["reason"], "model server refused the key",
        "{wire}"
    );
    assert_eq!(events.last().unwrap().name, "stream_end");

    let res = server
        .post(
            "/api/chat/sync",
            &json!({"message": "How many employees do we have?"}),
        )
        .await;
    let text = res.text().await.unwrap();
    assert_eq!(leaks(&text), Vec::<&str>::new(), "{text}");

    // An HTTP error that quotes what the client sent.
    let res = server
        .post("/api/chat/sync", &json!({"message": "hi", "graph": KEY}))
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(leaks(&body.to_string()), Vec::<&str>::new(), "{body}");

    let (status, health) = get_json(server.url("/api/health")).await;
    assert_eq!(status, 503);
    assert_eq!(leaks(&health.to_string()), Vec::<&str>::new(), "{health}");
    let metrics = get_text(server.url("/metrics")).await;
    assert_eq!(leaks(&metrics), Vec::<&str>::new());

    server.stop().await;
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("Incorrect API key provided"),
        "operators keep the detail:\n{logged}"
    );
    assert_eq!(leaks(&logged), Vec::<&str>::new(), "{logged}");
}
