//! A fake OpenAI-compatible server for tests: real HTTP on 127.0.0.1, chat completions
//! streamed as chunked SSE (`data: {...}\n\n`, `data: [DONE]`), one scripted reply per
//! request in order, every request recorded. With no script left it answers 500.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Served;

/// One step of a streamed reply.
pub enum Piece {
    /// `data: <json>\n\n`.
    Chunk(Value),
    /// Bytes written as they are (split lines, garbage).
    Raw(String),
    /// `data: [DONE]\n\n`.
    Done,
    /// Wait before the next piece.
    Pause(Duration),
    /// Break the connection mid-body.
    Abort,
}

/// The answer to one request.
pub enum Reply {
    Stream(Vec<Piece>),
    /// A non-2xx status with headers and a JSON body.
    Status {
        code: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// A whole completion as application/json (a server that ignores `stream`).
    Json(Value),
}

/// What a request carried.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
}

pub struct FakeOpenAi {
    /// `http://127.0.0.1:PORT/v1`, as a base URL is configured.
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    _served: Served,
}

impl FakeOpenAi {
    pub async fn start(replies: Vec<Reply>) -> FakeOpenAi {
        let inner = Arc::new(Mutex::new(Inner {
            replies: replies.into(),
            requests: vec![],
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(inner.clone());
        let served = Served::start(app).await;
        FakeOpenAi {
            base_url: format!("http://{}/v1", served.addr),
            inner,
            _served: served,
        }
    }

    pub fn push(&self, reply: Reply) {
        self.inner.lock().unwrap().replies.push_back(reply);
    }

    /// Drops the replies not asked for yet.
    pub fn clear(&self) {
        self.inner.lock().unwrap().replies.clear();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The `model` of each request, in order.
    pub fn models(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.body["model"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

async fn chat(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(Recorded {
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        });
        inner.replies.pop_front()
    };
    match reply {
        None => status(
            500,
            &[],
            json!({"error": {"message": "no scripted reply left"}}),
        ),
        Some(Reply::Status {
            code,
            headers,
            body,
        }) => status(code, &headers, body),
        Some(Reply::Json(v)) => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        Some(Reply::Stream(pieces)) => stream(pieces),
    }
}

fn status(code: u16, headers: &[(&'static str, String)], body: Value) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header(header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

fn stream(pieces: Vec<Piece>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        for p in pieces {
            let bytes = match p {
                Piece::Chunk(v) => format!("data: {v}\n\n"),
                Piece::Raw(s) => s,
                Piece::Done => "data: [DONE]\n\n".into(),
                Piece::Pause(d) => {
                    tokio::time::sleep(d).await;
                    continue;
                }
                Piece::Abort => {
                    let _ = tx.send(Err(std::io::Error::other("connection cut"))).await;
                    return;
                }
            };
            if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap()
}

// Chunk builders, shaped as OpenAI sends them.

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

/// A content delta.
pub fn content(text: &str) -> Piece {
    Piece::Chunk(chunk(json!({"content": text}), None))
}

/// A tool-call fragment; `None` leaves the field out.
pub fn tool(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> Piece {
    let mut call = json!({"index": index, "function": {"arguments": args}});
    if let Some(id) = id {
        call["id"] = id.into();
        call["type"] = "function".into();
    }
    if let Some(name) = name {
        call["function"]["name"] = name.into();
    }
    Piece::Chunk(chunk(json!({"tool_calls": [call]}), None))
}

pub fn finish(reason: &str) -> Piece {
    Piece::Chunk(chunk(json!({}), Some(reason)))
}

/// The final chunk of `stream_options.include_usage`: no choices, only usage.
pub fn usage(prompt: u64, completion: u64) -> Piece {
    Piece::Chunk(json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }))
}

/// A complete streamed text answer.
pub fn text(parts: &[&str], prompt: u64, completion: u64) -> Reply {
    let mut pieces = vec![Piece::Chunk(chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    pieces.extend(parts.iter().map(|p| content(p)));
    pieces.extend([finish("stop"), usage(prompt, completion), Piece::Done]);
    Reply::Stream(pieces)
}

/// A complete streamed reply calling one tool, its arguments in one fragment.
pub fn call(id: &str, name: &str, args: Value, prompt: u64, completion: u64) -> Reply {
    Reply::Stream(vec![
        tool(0, Some(id), Some(name), &args.to_string()),
        finish("tool_calls"),
        usage(prompt, completion),
        Piece::Done,
    ])
}

pub fn error(code: u16, headers: Vec<(&'static str, String)>) -> Reply {
    Reply::Status {
        code,
        headers,
        body: json!({"error": {"message": format!("scripted {code}"), "type": "server_error"}}),
    }
}
