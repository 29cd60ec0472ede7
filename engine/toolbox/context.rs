//! What builtins read — the stores, the names, "now" — and the helpers they share over
//! their arguments and rows.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::aggregates::Dialect;
use super::directory::Directory;
use crate::store::{Params, QueryStore, Row, StoreError};

/// What builtins may read.
pub struct Ctx<'a> {
    pub relational: &'a dyn QueryStore,
    pub metrics: &'a dyn QueryStore,
    pub directory: &'a Directory,
    pub now: DateTime<Utc>,
    /// The SQL the metrics store's delivery statements are written in.
    pub dialect: Result<Dialect, StoreError>,
}

/// Whom a result is about, in words: a service, a team, or the organisation.
pub fn scope(p: &Params) -> String {
    match (
        p.get("team").and_then(Value::as_str),
        p.get("service").and_then(Value::as_str),
    ) {
        (_, Some(s)) => format!("service {s}"),
        (Some(t), None) => format!("the {t} team"),
        (None, None) => "the organisation".into(),
    }
}

/// An RFC 3339 column; NULL and '' (ClickHouse's MIN of no rows) are None.
pub fn time(r: &Row, k: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match r.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| {
                StoreError::query(format!(
                    "column {k}: \"{s}\" is not an RFC 3339 timestamp: {e}"
                ))
            }),
    }
}
