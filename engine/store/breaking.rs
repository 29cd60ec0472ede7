//! A circuit breaker in front of one server store (PostgreSQL, ClickHouse, Neo4j): after
//! [`FAILURES`] calls in a row find the server unreachable, calls fail at once for the
//! cooldown instead of each waiting for the store timeout, then calls go through again
//! and the first success closes the circuit. A query the server refused is an answer,
//! not an outage: it counts as a success.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::contract::{Graph, Metrics, Params, QueryStore, Relational, Row, StoreError};
use crate::resilience::Breaker;

/// Consecutive unreachable calls that open a store's circuit (the thread store's too).
pub const FAILURES: u32 = 3;

/// A store behind its own breaker; it serves whichever role the store it wraps serves.
pub struct Breaking {
    inner: Arc<dyn QueryStore>,
    breaker: Breaker,
}

impl Breaking {
    pub fn new(inner: Arc<dyn QueryStore>, cooldown: Duration) -> Breaking {
        Breaking {
            inner,
            breaker: Breaker::new(FAILURES, cooldown),
        }
    }

    async fn guard<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if let Err(open) = self.breaker.check() {
            // Not worth retrying: a retry would be refused the same way.
            return Err(StoreError::query(format!(
                "{}: {open}",
                self.inner.backend()
            )));
        }
        let r = call.await;
        match &r {
            Err(e) if e.retryable => self.breaker.failure(),
            _ => self.breaker.success(),
        }
        r
    }
}

#[async_trait]
impl QueryStore for Breaking {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        self.guard(self.inner.query(text, params)).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.guard(self.inner.ping()).await
    }
    async fn query_read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        self.guard(self.inner.query_read_only(text, timeout)).await
    }
}

impl Relational for Breaking {}
impl Metrics for Breaking {}
impl Graph for Breaking {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A server that is down (every call counted), or up but refusing the query.
    struct Server {
        calls: AtomicUsize,
        down: bool,
    }

    #[async_trait]
    impl QueryStore for Server {
        fn backend(&self) -> &'static str {
            "clickhouse"
        }
        async fn query(&self, _: &str, _: &Params) -> Result<Vec<Row>, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err(if self.down {
                StoreError::unavailable("clickhouse: connection refused")
            } else {
                StoreError::query("clickhouse: Code: 47, unknown identifier")
            })
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.query("SELECT 1", &Params::new()).await.map(|_| ())
        }
    }

    fn server(down: bool) -> Arc<Server> {
        Arc::new(Server {
            calls: AtomicUsize::new(0),
            down,
        })
    }

    #[tokio::test]
    async fn a_down_server_is_not_asked_again_until_the_cooldown_passes() {
        let down = server(true);
        let store = Breaking::new(down.clone(), Duration::from_secs(3600));
        for _ in 0..FAILURES {
            assert!(
                store
                    .query("q", &Params::new())
                    .await
                    .unwrap_err()
                    .retryable
            );
        }
        for _ in 0..10 {
            let e = store.ping().await.unwrap_err();
            assert!(
                e.message
                    .starts_with("clickhouse: not tried: it failed 3 times in a row; next try in")
                    && !e.retryable,
                "{e:?}"
            );
        }
        assert_eq!(down.calls.load(Ordering::SeqCst), FAILURES as usize);

        let store = Breaking::new(down.clone(), Duration::ZERO);
        for _ in 0..FAILURES + 2 {
            assert!(store.ping().await.unwrap_err().retryable, "asked again");
        }
    }

    #[tokio::test]
    async fn refused_queries_do_not_open_the_circuit() {
        let up = server(false);
        let store = Breaking::new(up.clone(), Duration::from_secs(3600));
        for _ in 0..FAILURES * 3 {
            assert!(
                !store
                    .ping()
                    .await
                    .unwrap_err()
                    .message
                    .contains("not tried")
            );
        }
        assert_eq!(up.calls.load(Ordering::SeqCst), 3 * FAILURES as usize);
    }
}
