//! GitHub's REST API as a well-behaved client reads it: pages followed by their `Link:
//! <…>; rel="next"` header, conditional requests (`If-None-Match` with the ETag last seen;
//! a 304 costs no rate limit and means "keep what you have"), and both rate limits waited
//! out — the primary one (`X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`) and the
//! secondary one (`Retry-After`, else a minute, as GitHub's documentation asks).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderMap, IF_NONE_MATCH, LINK, USER_AGENT};
use serde_json::Value;

/// The longest wait for a rate limit; longer ones stop the import, which the next run
/// resumes from where it stopped.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// What a request gave.
pub enum Page {
    /// 304: unchanged since the ETag sent.
    NotModified,
    Body {
        body: Value,
        etag: Option<String>,
        next: Option<String>,
    },
}

/// Counts for the summary.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    pub requests: usize,
    pub not_modified: usize,
    /// Rate limits waited out, and how long in all.
    pub rate_limited: usize,
    pub waited: Duration,
}

pub struct Client {
    http: reqwest::Client,
    api: String,
    token: Option<String>,
    pub traffic: Traffic,
}

impl Client {
    pub fn new(api: &str, token: Option<String>) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            api: api.to_string(),
            token,
            traffic: Traffic::default(),
        })
    }

    /// `path` (`/repos/o/r/pulls?…`) under the API's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// GETs `url`, sending `etag` if known, waiting out rate limits.
    pub async fn get(&mut self, url: &str, etag: Option<&str>) -> anyhow::Result<Page> {
        loop {
            let mut req = self
                .http
                .get(url)
                .header(ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header(USER_AGENT, concat!("eng-intel/", env!("CARGO_PKG_VERSION")));
            if let Some(t) = &self.token {
                req = req.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            if let Some(e) = etag {
                req = req.header(IF_NONE_MATCH, e);
            }
            self.traffic.requests += 1;
            let resp = req.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            if status == StatusCode::NOT_MODIFIED {
                self.traffic.not_modified += 1;
                return Ok(Page::NotModified);
            }
            if status.is_success() {
                let body: Value = resp.json().await?;
                return Ok(Page::Body {
                    body,
                    etag: header(&headers, ETAG),
                    next: next_link(&headers),
                });
            }
            let text = resp.text().await.unwrap_or_default();
            let Some(wait) = rate_limit_wait(status, &headers, &text) else {
                anyhow::bail!(
                    "GitHub answered {status} for {url}: {}",
                    text.chars().take(300).collect::<String>()
                );
            };
            if wait > MAX_WAIT {
                anyhow::bail!(
                    "GitHub's rate limit lasts {} more minutes; run the import again then, it resumes where it stopped",
                    wait.as_secs() / 60
                );
            }
            self.traffic.rate_limited += 1;
            self.traffic.waited += wait;
            tokio::time::sleep(wait).await;
        }
    }
}

fn header(h: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    h.get(name)?.to_str().ok().map(str::to_string)
}

/// How long a refused request asks to wait: None when it is not a rate limit.
fn rate_limit_wait(status: StatusCode, h: &HeaderMap, body: &str) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let number = |name: &str| header(h, name).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = number("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if number("x-ratelimit-remaining") == Some(0) {
        let reset = number("x-ratelimit-reset")?;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        // A second more: the reset instant is rounded down.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    (status == StatusCode::TOO_MANY_REQUESTS || body.contains("secondary rate limit"))
        .then_some(Duration::from_secs(60))
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    let link = header(h, LINK)?;
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        rest.split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/x?page=1>; rel=\"prev\", <https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=3")
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://api.github.com/x?page=1>; rel=\"first\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn rate_limits_say_how_long_to_wait_and_other_refusals_do_not() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, ""),
            Some(Duration::from_secs(7))
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (chrono::Utc::now().timestamp() + 30).to_string();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &h, "").unwrap();
        assert!((29..=32).contains(&wait.as_secs()), "{wait:?}");
        let h = HeaderMap::new();
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, "Resource not accessible"),
            None
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &h,
                "You have exceeded a secondary rate limit"
            ),
            Some(Duration::from_secs(60))
        );
    }
}
