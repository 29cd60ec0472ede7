//! The recorder: a local HTTP server (127.0.0.1, a free port) that a model provider
//! is pointed at as its base URL, so recording works for any OpenAI-compatible
//! provider without the provider knowing.
//!
//! Recording forwards each request to the real server and keeps the request body and
//! the streamed response bytes (successful responses only; retried failures are not
//! kept). Replaying serves the recorded stream of the first unused interaction whose
//! canonical request equals the new one, and answers 409 with the difference when
//! none does; every problem is also kept for the test report, since a provider with
//! a fallback chain could hide the error from the run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::cassette::{Cassette, Interaction, RecordedRequest, RecordedResponse, canonical, diff};

/// How many differences a mismatch shows.
const DIFF_LINES: usize = 8;
/// Longest wait for streams still being recorded when a case ends.
const DRAIN: Duration = Duration::from_secs(30);

pub struct Recorder {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// What a case's recorder saw.
#[derive(Debug, Default)]
pub struct Finished {
    /// Recording: what to save (None when replaying).
    pub cassette: Option<Cassette>,
    /// Requests that did not match, could not be forwarded, or were missing.
    pub problems: Vec<String>,
}

struct Shared {
    case: String,
    mode: Mode,
    state: Mutex<Log>,
    idle: Notify,
}

enum Mode {
    Record {
        upstream: String,
        client: reqwest::Client,
    },
    Replay {
        recorded: Vec<Interaction>,
        canonical: Vec<Value>,
    },
}

#[derive(Default)]
struct Log {
    requests: usize,
    /// Streams still being forwarded.
    pending: usize,
    /// Recording: interactions by request number (None: not kept).
    kept: Vec<Option<Interaction>>,
    /// Replaying: which recorded interactions were served.
    used: Vec<bool>,
    problems: Vec<String>,
}

impl Recorder {
    /// Records case `case` against the OpenAI-compatible server at `upstream` (its base URL).
    pub async fn record(case: &str, upstream: &str) -> std::io::Result<Recorder> {
        // reqwest is built without a default crypto provider; a second install is a no-op error.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let mode = Mode::Record {
            upstream: upstream.trim().trim_end_matches('/').to_string(),
            client,
        };
        Self::start(case, mode, Log::default()).await
    }

    /// Replays `cassette`.
    pub async fn replay(cassette: Cassette) -> std::io::Result<Recorder> {
        let canonical = cassette
            .interactions
            .iter()
            .map(|i| canonical(&i.request.path, &i.request.body))
            .collect();
        let log = Log {
            used: vec![false; cassette.interactions.len()],
            ..Log::default()
        };
        let mode = Mode::Replay {
            recorded: cassette.interactions,
            canonical,
        };
        Self::start(&cassette.case, mode, log).await
    }

    async fn start(case: &str, mode: Mode, log: Log) -> std::io::Result<Recorder> {
        let shared = Arc::new(Shared {
            case: case.to_string(),
            mode,
            state: Mutex::new(log),
            idle: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Recorder {
            base_url,
            shared,
            server,
        })
    }

    /// The base URL to give the provider.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Waits for streams still being recorded, stops the server and says what it saw.
    pub async fn finish(self) -> Finished {
        let drained = tokio::time::timeout(DRAIN, async {
            loop {
                let idle = self.shared.idle.notified();
                if self.shared.log().pending == 0 {
                    break;
                }
                idle.await;
            }
        })
        .await;
        self.server.abort();
        let case = &self.shared.case;
        let mut log = self.shared.log();
        let mut problems = std::mem::take(&mut log.problems);
        if drained.is_err() {
            problems.push(format!(
                "case {case}: a model response was still streaming after {}s",
                DRAIN.as_secs()
            ));
        }
        let cassette = match &self.shared.mode {
            Mode::Record { .. } => Some(Cassette {
                case: case.clone(),
                interactions: log.kept.drain(..).flatten().collect(),
            }),
            Mode::Replay { recorded, .. } => {
                let unused = log.used.iter().filter(|u| !**u).count();
                if unused > 0 && problems.is_empty() {
                    problems.push(format!(
                        "case {case} sent {} request(s) to the model but its recording holds {}; run `eng-intel test --record` to record it again",
                        log.requests,
                        recorded.len()
                    ));
                }
                None
            }
        };
        Finished { cassette, problems }
    }
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.state.lock().expect("recorder lock")
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let json: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let n = {
        let mut log = shared.log();
        log.requests += 1;
        log.requests
    };
    match &shared.mode {
        Mode::Replay {
            recorded,
            canonical: known,
        } => replay(&shared, recorded, known, n, &path, &json),
        Mode::Record { upstream, client } => {
            let request = RecordedRequest { path, body: json };
            forward(
                &shared, client, upstream, method, &headers, body, request, n,
            )
            .await
        }
    }
}

fn replay(
    shared: &Shared,
    recorded: &[Interaction],
    known: &[Value],
    n: usize,
    path: &str,
    body: &Value,
) -> Response {
    let now = canonical(path, body);
    let mut log = shared.log();
    let hit = (0..recorded.len()).find(|&i| !log.used[i] && known[i] == now);
    if let Some(i) = hit {
        log.used[i] = true;
        let r = &recorded[i].response;
        // One chunk per SSE event, so the client parses a real stream.
        let chunks: Vec<Result<Bytes, std::io::Error>> = r
            .body
            .split_inclusive("\n\n")
            .map(|c| Ok(Bytes::from(c.to_string())))
            .collect();
        return Response::builder()
            .status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK))
            .header(header::CONTENT_TYPE, &r.content_type)
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .expect("valid response");
    }
    let case = &shared.case;
    let problem = match (0..recorded.len()).find(|&i| !log.used[i]) {
        Some(i) => format!(
            "request {n} of case {case} no longer matches its recording (run `eng-intel test --record` if the change is intended):\n    {}",
            diff(&known[i], &now, DIFF_LINES).join("\n    ")
        ),
        None => format!(
            "request {n} of case {case} has no recording: the recording holds {} request(s); run `eng-intel test --record` to record it again",
            recorded.len()
        ),
    };
    log.problems.push(problem.clone());
    let body = json!({"error": {"message": problem, "type": "recording_mismatch"}});
    (StatusCode::CONFLICT, axum::Json(body)).into_response()
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    shared: &Arc<Shared>,
    client: &reqwest::Client,
    upstream: &str,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
    request: RecordedRequest,
    n: usize,
) -> Response {
    let url = if upstream.ends_with(&request.path) {
        upstream.to_string()
    } else {
        format!("{upstream}{}", request.path)
    };
    let mut req = client.request(method, &url).body(body);
    for h in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&h) {
            req = req.header(h, v);
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let problem = format!(
                "request {n} of case {}: cannot reach the model server at {upstream}: {e}",
                shared.case
            );
            shared.log().problems.push(problem.clone());
            return (StatusCode::BAD_GATEWAY, problem).into_response();
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    {
        let mut log = shared.log();
        log.pending += 1;
        if log.kept.len() < n {
            log.kept.resize(n, None);
        }
    }
    // Tee: the client gets each chunk as it arrives; the whole body is kept at the end.
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    let shared = shared.clone();
    let ct = content_type.clone();
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut stream = resp.bytes_stream();
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => {
                    kept.extend_from_slice(&b);
                    // The client may have gone; keep reading so the recording is whole.
                    let _ = tx.send(Ok(b)).await;
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    break;
                }
            }
        }
        let mut log = shared.log();
        match failed {
            Some(e) => {
                let problem = format!(
                    "request {n} of case {}: the model server's stream broke: {e}",
                    shared.case
                );
                log.problems.push(problem);
            }
            None if (200..300).contains(&status) => {
                log.kept[n - 1] = Some(Interaction {
                    request,
                    response: RecordedResponse {
                        status,
                        content_type: ct,
                        body: String::from_utf8_lossy(&kept).into_owned(),
                    },
                });
            }
            None => {}
        }
        log.pending -= 1;
        drop(log);
        shared.idle.notify_waiters();
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .expect("valid response")
}
