//! Optional bearer-token auth: when keys are configured (`API_KEY`, `API_KEYS`,
//! `API_KEYS_FILE`), every `/api` route but health requires `Authorization: Bearer <key>`
//! (the scheme in any case, RFC 7235), and so does `/metrics` unless `METRICS_PUBLIC=1`.
//! The matching key becomes the request's `Caller`: its name owns the threads it creates,
//! and only an admin key sees every thread and reaches `/api/admin/*`.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::settings::Role;

/// Who is calling: the name of the key that matched, and whether it is an admin. Without
/// keys configured everyone is the anonymous admin (the embedded, single-user default).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub admin: bool,
}

impl Caller {
    /// Whether this caller may see a thread owned by `owner`.
    pub fn sees(&self, owner: &str) -> bool {
        self.admin || self.name == owner
    }
    /// The owner filter of a thread list: None (all) for admins.
    pub fn owner_filter(&self) -> Option<&str> {
        (!self.admin).then_some(self.name.as_str())
    }
}

pub async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let keys = &state.settings.api_keys;
    if keys.is_empty() {
        req.extensions_mut().insert(Caller {
            name: String::new(),
            admin: true,
        });
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    // Every key is compared (no early exit), so timing says nothing about which matched.
    let matched = given.and_then(|token| {
        keys.iter().fold(None, |found, k| {
            let eq = constant_time_eq(token.as_bytes(), k.key.expose().as_bytes());
            found.or(eq.then_some(k))
        })
    });
    match matched {
        Some(k) => {
            req.extensions_mut().insert(Caller {
                name: k.name.clone(),
                admin: k.role == Role::Admin,
            });
            next.run(req).await
        }
        None => {
            let detail = if given.is_none() {
                "this route needs `Authorization: Bearer <API_KEY>`"
            } else {
                "the bearer token is not valid"
            };
            let mut res =
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
            res.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
        }
    }
}

/// `/api/admin/*`: an admin key only (after `require_key`).
pub async fn require_admin(req: Request, next: Next) -> Response {
    match req.extensions().get::<Caller>() {
        Some(c) if c.admin => next.run(req).await,
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route needs an admin key",
        )
        .into_response(),
    }
}

/// The token of `Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// `/metrics`: open with `METRICS_PUBLIC=1`, else behind the key like `/api`.
pub async fn metrics_key(state: State<AppState>, req: Request, next: Next) -> Response {
    if state.settings.metrics_public {
        return next.run(req).await;
    }
    require_key(state, req, next).await
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for h in ["Bearer k1", "bearer k1", "BEARER k1", "BeArEr  k1 "] {
            assert_eq!(super::bearer_token(h), Some("k1"), "{h}");
        }
        assert_eq!(super::bearer_token("Basic k1"), None);
        assert_eq!(super::bearer_token("Bearer "), None);
    }

    #[test]
    fn constant_time_eq() {
        assert!(super::constant_time_eq(b"secret", b"secret"));
        assert!(!super::constant_time_eq(b"secret", b"secreT"));
        assert!(!super::constant_time_eq(b"secret", b"secret2"));
        assert!(!super::constant_time_eq(b"", b"x"));
    }
}
