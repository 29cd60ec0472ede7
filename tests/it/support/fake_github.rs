//! A fake GitHub REST API for the import tests: real HTTP on 127.0.0.1 serving the JSON a
//! test puts in it, the way GitHub serves it — `per_page`/`page` pagination with a `Link`
//! header (`next`, `last`), the issues listing filtered by `since` (oldest update first),
//! `X-RateLimit-*` headers on every answer, a strong `ETag` per body and 304 to a matching
//! `If-None-Match`. Scripted refusals (a rate limit, a server error) are served for the
//! requests whose path and query contain a given text; every request is recorded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::Served;

/// What a request asked and got.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query.
    pub url: String,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
    pub at: Instant,
}

/// A scripted refusal: served `times` times to requests whose path and query contain
/// `matching` (`usize::MAX`: always).
pub struct Refusal {
    pub matching: String,
    pub times: usize,
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    /// Listings by path: each a list of items in the order GitHub gives them.
    lists: BTreeMap<String, Vec<Value>>,
    /// Single objects by path.
    objects: BTreeMap<String, Value>,
    refusals: Vec<Refusal>,
    seen: Vec<Seen>,
}

#[derive(Clone, Default)]
pub struct FakeGithub {
    inner: Arc<Mutex<Inner>>,
}

impl FakeGithub {
    /// A listing at `path` (e.g. `/repos/o/r/deployments`), items in GitHub's order.
    pub fn list(&self, path: &str, items: Vec<Value>) {
        self.inner
            .lock()
            .unwrap()
            .lists
            .insert(path.to_string(), items);
    }

    pub fn object(&self, path: &str, value: Value) {
        self.inner
            .lock()
            .unwrap()
            .objects
            .insert(path.to_string(), value);
    }

    pub fn refuse(&self, r: Refusal) {
        self.inner.lock().unwrap().refusals.push(r);
    }

    pub fn clear_refusals(&self) {
        self.inner.lock().unwrap().refusals.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    pub fn forget_seen(&self) {
        self.inner.lock().unwrap().seen.clear();
    }

    pub async fn start(&self) -> Served {
        Served::start(Router::new().fallback(serve).with_state(self.clone())).await
    }
}

async fn serve(State(fake): State<FakeGithub>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let query: BTreeMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let url = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or(path.clone());
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let if_none_match = headers
        .get("if-none-match")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let authorization = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let mut inner = fake.inner.lock().unwrap();
    let reset = (chrono::Utc::now().timestamp() + 3600).to_string();
    let record = |inner: &mut Inner, status: u16| {
        inner.seen.push(Seen {
            url: url.clone(),
            if_none_match: if_none_match.clone(),
            authorization: authorization.clone(),
            status,
            at: Instant::now(),
        })
    };

    if let Some(r) = inner
        .refusals
        .iter_mut()
        .find(|r| r.times > 0 && url.contains(&r.matching))
    {
        r.times = r.times.saturating_sub(1);
        let (status, body, extra) = (r.status, r.body.to_string(), r.headers.clone());
        record(&mut inner, status);
        let mut resp = Response::builder()
            .status(status)
            .header("content-type", "application/json; charset=utf-8");
        for (k, v) in extra {
            resp = resp.header(k, v);
        }
        return resp.body(Body::from(body)).unwrap();
    }

    let (body, link) = if let Some(items) = inner.lists.get(&path) {
        let mut items: Vec<&Value> = items.iter().collect();
        if let Some(since) = query.get("since") {
            let since = since.replace("%3A", ":");
            items.retain(|i| i["updated_at"].as_str().unwrap_or("") >= since.as_str());
        }
        let per: usize = query
            .get("per_page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(30)
            .min(100);
        let page: usize = query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let last = items.len().div_ceil(per).max(1);
        let slice: Vec<Value> = items
            .iter()
            .skip((page - 1) * per)
            .take(per)
            .map(|v| (*v).clone())
            .collect();
        let page_url = |n: usize| {
            let mut q = query.clone();
            q.insert("page".into(), n.to_string());
            let q: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("http://{host}{path}?{}", q.join("&"))
        };
        let mut links = Vec::new();
        if page < last {
            links.push(format!("<{}>; rel=\"next\"", page_url(page + 1)));
            links.push(format!("<{}>; rel=\"last\"", page_url(last)));
        }
        if page > 1 {
            links.push(format!("<{}>; rel=\"prev\"", page_url(page - 1)));
            links.push(format!("<{}>; rel=\"first\"", page_url(1)));
        }
        let body = if path.ends_with("/actions/runs") {
            json!({"total_count": items.len(), "workflow_runs": slice})
        } else {
            Value::Array(slice)
        };
        (body, links.join(", "))
    } else if let Some(v) = inner.objects.get(&path) {
        (v.clone(), String::new())
    } else {
        record(&mut inner, 404);
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::from(
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
                    .to_string(),
            ))
            .unwrap();
    };
    let text = body.to_string();
    let etag = format!("\"{:016x}\"", fnv(text.as_bytes()));
    let remaining = 4999usize.saturating_sub(inner.seen.len()).to_string();
    let mut resp = Response::builder()
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", remaining)
        .header("x-ratelimit-reset", reset)
        .header("x-ratelimit-resource", "core")
        .header("etag", etag.clone());
    if !link.is_empty() {
        resp = resp.header("link", link);
    }
    if if_none_match.as_deref() == Some(etag.as_str()) {
        record(&mut inner, 304);
        return resp
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap();
    }
    record(&mut inner, 200);
    resp.status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(text))
        .unwrap()
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
