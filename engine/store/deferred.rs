//! A server store that may be down when the service starts: it is opened (connected, its
//! schema created, loaded when empty: whatever `open` does) by the first call, and by
//! each call after a failed opening, so a server that comes back is taken into service
//! without a restart. The opening runs as a task of its own: a caller that gives up
//! (health's 1 s) does not cut a slow first load short, and the next caller joins it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::contract::{Graph, Metrics, Params, QueryStore, Relational, Row, StoreError};

type Opened = Result<Arc<dyn QueryStore>, StoreError>;
/// How to open the store; run again after a failure.
pub type Open = Box<dyn Fn() -> BoxFuture<'static, Opened> + Send + Sync>;

pub struct Deferred {
    backend: &'static str,
    open: Open,
    state: Mutex<State>,
}

enum State {
    Closed,
    Opening(Shared<BoxFuture<'static, Opened>>),
    Open(Arc<dyn QueryStore>),
}

impl Deferred {
    /// A store for `backend` (the key of a tool's `query:` map it will read) that `open`
    /// opens; nothing is tried until [`Deferred::store`] is called.
    pub fn new(backend: &'static str, open: Open) -> Deferred {
        Deferred {
            backend,
            open,
            state: Mutex::new(State::Closed),
        }
    }

    /// The opened store, opening it first if need be.
    pub async fn store(&self) -> Opened {
        let opening = {
            let mut state = self.state.lock().expect("deferred store lock");
            match &*state {
                State::Open(store) => return Ok(store.clone()),
                State::Opening(f) => f.clone(),
                State::Closed => {
                    let task = tokio::spawn((self.open)());
                    let f = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(StoreError::unavailable(format!("opening failed: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    *state = State::Opening(f.clone());
                    f
                }
            }
        };
        let opened = opening.clone().await;
        let mut state = self.state.lock().expect("deferred store lock");
        if let State::Opening(f) = &*state
            && f.ptr_eq(&opening)
        {
            *state = match &opened {
                Ok(store) => State::Open(store.clone()),
                Err(_) => State::Closed,
            };
        }
        opened
    }
}

#[async_trait]
impl QueryStore for Deferred {
    fn backend(&self) -> &'static str {
        self.backend
    }
    async fn query(&self, text: &str, params: &Params) -> Result<Vec<Row>, StoreError> {
        self.store().await?.query(text, params).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.store().await?.ping().await
    }
    async fn query_read_only(&self, text: &str, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        self.store().await?.query_read_only(text, timeout).await
    }
}

impl Relational for Deferred {}
impl Metrics for Deferred {}
impl Graph for Deferred {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// A server that answers.
    struct Up;

    #[async_trait]
    impl QueryStore for Up {
        fn backend(&self) -> &'static str {
            "clickhouse"
        }
        async fn query(&self, _: &str, _: &Params) -> Result<Vec<Row>, StoreError> {
            Ok(vec![])
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// Opens a store once `up` is set, counting the attempts; each takes a while.
    fn deferred(up: Arc<AtomicBool>, tries: Arc<AtomicUsize>) -> Deferred {
        Deferred::new(
            "clickhouse",
            Box::new(move || {
                let (up, tries) = (up.clone(), tries.clone());
                async move {
                    tries.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if up.load(Ordering::SeqCst) {
                        Ok(Arc::new(Up) as Arc<dyn QueryStore>)
                    } else {
                        Err(StoreError::unavailable("clickhouse: connection refused"))
                    }
                }
                .boxed()
            }),
        )
    }

    #[tokio::test]
    async fn opens_when_the_server_comes_back_and_callers_share_one_opening() {
        let (up, tries) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let store = deferred(up.clone(), Arc::clone(&tries));
        let e = store.ping().await.unwrap_err();
        assert_eq!(e.message, "clickhouse: connection refused");
        assert!(e.retryable);
        assert!(store.ping().await.is_err());
        assert_eq!(
            tries.load(Ordering::SeqCst),
            2,
            "each call after a failure tries"
        );

        up.store(true, Ordering::SeqCst);
        // A caller that gives up does not cancel the opening; the next one joins it.
        assert!(
            tokio::time::timeout(Duration::from_millis(5), store.ping())
                .await
                .is_err()
        );
        let (a, b) = tokio::join!(store.ping(), store.ping());
        assert!(a.is_ok() && b.is_ok());
        assert!(store.ping().await.is_ok());
        assert_eq!(tries.load(Ordering::SeqCst), 3, "opened once");
    }
}
