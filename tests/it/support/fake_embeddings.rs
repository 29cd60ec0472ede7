//! A fake embeddings server for tests: real HTTP on 127.0.0.1 speaking both the
//! OpenAI-compatible `POST /v1/embeddings` and Pinecone Inference's `POST /embed`.
//!
//! Vectors are deterministic bags of words: each word (lower-cased, a plural "s" dropped,
//! mapped through the synonyms given at start) adds ±1 to a hashed dimension, so texts
//! sharing words are close and a planted synonym is as close as the word itself. Scripted
//! failures are served first, one per request; every request is recorded. OpenAI answers
//! come in reverse order (with `index`), as a server may reorder them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::Served;

/// Dimensions when a request does not ask for others.
pub const DIMS: usize = 384;

/// What a request carried.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub body: Value,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// How many texts the request asked to embed.
    pub fn inputs(&self) -> usize {
        self.body
            .get("input")
            .or_else(|| self.body.get("inputs"))
            .and_then(Value::as_array)
            .map_or(1, Vec::len)
    }
}

/// A scripted failure: status, headers, JSON body.
pub struct Failure {
    pub code: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

struct Inner {
    failures: VecDeque<Failure>,
    requests: Vec<Recorded>,
    synonyms: Vec<(String, String)>,
}

pub struct FakeEmbeddings {
    /// `http://127.0.0.1:PORT`: Pinecone's base URL; OpenAI's is [`FakeEmbeddings::openai_url`].
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    _served: Served,
}

impl FakeEmbeddings {
    /// `synonyms`: (word, stands for) pairs, e.g. ("outage", "downtime").
    pub async fn start(synonyms: &[(&str, &str)]) -> FakeEmbeddings {
        let inner = Arc::new(Mutex::new(Inner {
            failures: VecDeque::new(),
            requests: vec![],
            synonyms: synonyms
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }));
        let app = Router::new()
            .route("/v1/embeddings", post(embed))
            .route("/embed", post(embed))
            .with_state(inner.clone());
        let served = Served::start(app).await;
        FakeEmbeddings {
            base_url: format!("http://{}", served.addr),
            inner,
            _served: served,
        }
    }

    /// The base URL an OpenAI-compatible client is configured with.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url)
    }

    pub fn fail_next(&self, code: u16, headers: &[(&'static str, &str)], message: &str) {
        self.inner.lock().unwrap().failures.push_back(Failure {
            code,
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: json!({"error": {"message": message}}),
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The vector this server gives `text`.
    pub fn vector(&self, text: &str, dims: usize) -> Vec<f32> {
        vector(text, &self.inner.lock().unwrap().synonyms, dims)
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The bag-of-words vector of `text` (not normalised).
pub fn vector(text: &str, synonyms: &[(String, String)], dims: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dims];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut w = word.to_lowercase();
        if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
            w.pop();
        }
        let w = synonyms
            .iter()
            .find(|(from, _)| *from == w)
            .map_or(w.clone(), |(_, to)| to.clone());
        let h = fnv1a(&w);
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        v[(h % dims as u64) as usize] += sign;
    }
    v
}

async fn embed(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (failure, synonyms) = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(Recorded {
            path: uri.path().to_string(),
            body: body.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
        });
        (inner.failures.pop_front(), inner.synonyms.clone())
    };
    if let Some(f) = failure {
        let mut r = Response::builder()
            .status(StatusCode::from_u16(f.code).unwrap())
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in f.headers {
            r = r.header(k, v);
        }
        return r.body(Body::from(f.body.to_string())).unwrap();
    }
    let answer = if uri.path() == "/embed" {
        let texts: Vec<String> = body["inputs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["text"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "model": body["model"],
            "vector_type": "dense",
            "data": texts.iter().map(|t| json!({"values": vector(t, &synonyms, 1024), "vector_type": "dense"})).collect::<Vec<_>>(),
            "usage": {"total_tokens": texts.len()},
        })
    } else {
        let texts: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .map(|t| t.as_str().unwrap_or("").to_string())
                .collect(),
            _ => vec![],
        };
        let dims = body["dimensions"].as_u64().map_or(DIMS, |d| d as usize);
        let data: Vec<Value> = texts
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t, &synonyms, dims)}))
            .collect();
        json!({"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap()
}
