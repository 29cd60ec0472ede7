//! Two `eng-intel serve` processes sharing one PostgreSQL: a thread created through one is
//! readable through the other, and two chats on one thread sent to the two processes at
//! the same time run one after the other — the second run's model request carries the
//! first run's turn as history, which it could not if they overlapped.
//!
//! Each process has its own empty data dir; they share only `POSTGRES_*`, on a dedicated
//! database (`eng_intel_test_instances`, created when missing). The model is a fake
//! OpenAI-compatible server in this process that takes a while over every reply, so
//! unserialized chats would overlap. Needs `POSTGRES_HOST` (`eval "$(bash
//! scripts/servers.sh env)"`); without it the test is skipped visibly.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use eng_intel::settings::Postgres;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions};

use crate::support::fake_openai::{self, FakeOpenAi, Piece, Reply};
use crate::support::server::client;
use crate::support::{BIN, repo, require_server};

const DATABASE: &str = "eng_intel_test_instances";
/// How long the fake model takes over each reply: far longer than the rest of a run.
const MODEL_DELAY: Duration = Duration::from_millis(700);

/// One `eng-intel serve` child process, killed when dropped.
struct Instance {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _data_dir: tempfile::TempDir,
}

impl Instance {
    /// Starts the built binary on a free port with its own empty data dir, and waits until
    /// `/api/health` answers 200.
    async fn start(name: &str, pg: &Postgres, model_url: &str) -> Instance {
        let data_dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = data_dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(repo())
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            // Only what this test gives: no other server of the environment, no `.env`.
            .env_clear()
            .current_dir(data_dir.path())
            .envs([
                ("DATA_DIR", data_dir.path().display().to_string()),
                ("POSTGRES_HOST", pg.host.clone()),
                ("POSTGRES_PORT", pg.port.to_string()),
                ("POSTGRES_USER", pg.user.clone()),
                ("POSTGRES_PASSWORD", pg.password.expose().to_string()),
                ("POSTGRES_SSLMODE", pg.sslmode.clone()),
                ("POSTGRES_DATABASE", DATABASE.to_string()),
                ("FEATHERLESS_BASE_URL", model_url.to_string()),
                ("FEATHERLESS_API_KEY", "test-key".to_string()),
                ("LLM_MAX_RETRIES", "0".to_string()),
                ("LOG_LEVEL", "warn".to_string()),
            ])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut instance = Instance {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _data_dir: data_dir,
        };
        instance.wait_healthy(name).await;
        instance
    }

    async fn wait_healthy(&mut self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let client = client();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{name} exited ({status}):\n{}", self.log());
            }
            let health = client
                .get(self.url("/api/health"))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if health.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} not healthy within 90 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates the test's database on the environment's server when missing.
async fn create_database(pg: &Postgres) {
    let mut conn = PgConnectOptions::new()
        .host(&pg.host)
        .port(pg.port)
        .database(&pg.database)
        .username(&pg.user)
        .password(pg.password.expose())
        .ssl_mode(pg.sslmode.parse().unwrap_or(PgSslMode::Prefer))
        .connect()
        .await
        .unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    if exists.is_none() {
        let created = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
            .execute(&mut conn)
            .await;
        // Another run may have created it meanwhile (42P04: duplicate_database).
        if let Err(e) = created {
            let duplicate = e
                .as_database_error()
                .is_some_and(|d| d.code().as_deref() == Some("42P04"));
            assert!(duplicate, "creating {DATABASE}: {e}");
        }
    }
}

/// A streamed text answer that takes [`MODEL_DELAY`] to start.
fn slow_answer(text: &str) -> Reply {
    let Reply::Stream(mut pieces) = fake_openai::text(&[text], 10, 2) else {
        unreachable!("text() streams")
    };
    pieces.insert(0, Piece::Pause(MODEL_DELAY));
    Reply::Stream(pieces)
}

async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

async fn chat(url: String, message: &str, thread_id: Option<&str>) -> Value {
    let mut body = json!({"message": message});
    if let Some(id) = thread_id {
        body["thread_id"] = id.into();
    }
    let res = client()
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The text of the user's question in a recorded model request (its last user message).
fn asked(request: &Value) -> Option<String> {
    request["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .map(str::to_string)
}

/// Whether any message of the request before the last mentions `text`.
fn in_history(request: &Value, text: &str) -> bool {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    messages[..messages.len().saturating_sub(1)]
        .iter()
        .any(|m| m["content"].as_str().is_some_and(|c| c.contains(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_shared_and_serialized_across_two_processes() {
    let Some(servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let pg = servers.settings().postgres.unwrap();
    create_database(&pg).await;
    let model = FakeOpenAi::start((0..30).map(|_| slow_answer("Noted.")).collect()).await;
    // One after the other: the first loads the demo organisation into the empty database.
    let a = Instance::start("a", &pg, &model.base_url).await;
    let b = Instance::start("b", &pg, &model.base_url).await;

    // Created through A, read through B.
    let first = "How many employees do we have?";
    let created = chat(a.url("/api/chat/sync"), first, None).await;
    let thread_id = created["thread_id"].as_str().unwrap().to_string();
    let read = get(b.url(&format!("/api/threads/{thread_id}"))).await;
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["message_count"], 2, "{read}");
    assert_eq!(read["messages"][0]["content"], first);
    assert_eq!(read["messages"][1]["content"], created["response"]);

    // Two chats on the thread at once, one through each process.
    let (via_a, via_b) = ("Who is on the Platform team?", "Who is on the Data team?");
    let started = Instant::now();
    let (ra, rb) = tokio::join!(
        chat(a.url("/api/chat/sync"), via_a, Some(&thread_id)),
        chat(b.url("/api/chat/sync"), via_b, Some(&thread_id)),
    );
    assert_eq!(
        (ra["thread_id"].as_str(), rb["thread_id"].as_str()),
        (Some(thread_id.as_str()), Some(thread_id.as_str()))
    );
    assert!(
        started.elapsed() >= 2 * MODEL_DELAY,
        "two serialized chats took only {:?}",
        started.elapsed()
    );

    let stored: Value = get(a.url(&format!("/api/threads/{thread_id}")))
        .await
        .json()
        .await
        .unwrap();
    let messages = stored["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
            "assistant"
        ]
    );
    let questions: Vec<&str> = messages
        .iter()
        .step_by(2)
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(questions[0], first);
    let (earlier, later) = (questions[1], questions[2]);
    assert!(
        [earlier, later] == [via_a, via_b] || [earlier, later] == [via_b, via_a],
        "{questions:?}"
    );

    // The later run started after the earlier one was stored: its model saw that turn.
    let requests: Vec<Value> = model.requests().into_iter().map(|r| r.body).collect();
    let of = |q: &str| -> Vec<&Value> {
        requests
            .iter()
            .filter(|r| asked(r).as_deref() == Some(q))
            .collect()
    };
    let (of_earlier, of_later) = (of(earlier), of(later));
    assert!(
        !of_earlier.is_empty() && !of_later.is_empty(),
        "each chat asks the model: {requests:#?}"
    );
    assert!(
        of_later
            .iter()
            .all(|r| in_history(r, earlier) && in_history(r, first)),
        "the later chat's model requests lack the earlier turn: {of_later:#?}"
    );
    assert!(
        of_earlier.iter().all(|r| !in_history(r, later)),
        "the earlier chat saw the later question: {of_earlier:#?}"
    );
    drop((a, b));
}
