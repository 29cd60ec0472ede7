//! A circuit breaker in front of a shared thread store (PostgreSQL): after
//! `store::BREAKER_FAILURES` failures in a row, calls fail at once for the cooldown
//! (`STORE_BREAKER_COOLDOWN_S`) instead of each waiting for the connect timeout, then
//! calls probe the store again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    AppendTo, HeldLock, MessagePage, NewMessage, Page, StoreError, StoredMessage, Thread,
    ThreadRead, ThreadStore,
};
use crate::resilience::Breaker;

pub struct Breaking {
    inner: Arc<dyn ThreadStore>,
    breaker: Breaker,
}

impl Breaking {
    pub fn new(inner: Arc<dyn ThreadStore>, failures: u32, cooldown: Duration) -> Self {
        Breaking {
            inner,
            breaker: Breaker::new(failures, cooldown),
        }
    }

    async fn guard<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if let Err(open) = self.breaker.check() {
            return Err(StoreError(open.to_string()));
        }
        let r = call.await;
        match &r {
            Ok(_) => self.breaker.success(),
            Err(_) => self.breaker.failure(),
        }
        r
    }
}

#[async_trait]
impl ThreadStore for Breaking {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.guard(self.inner.ping()).await
    }
    async fn create(&self, title: &str, owner: &str) -> Result<Thread, StoreError> {
        self.guard(self.inner.create(title, owner)).await
    }
    async fn list(&self, limit: i64, offset: i64, owner: Option<&str>) -> Result<Page, StoreError> {
        self.guard(self.inner.list(limit, offset, owner)).await
    }
    async fn get(&self, id: &str) -> Result<Option<Thread>, StoreError> {
        self.guard(self.inner.get(id)).await
    }
    async fn messages(
        &self,
        id: &str,
        last: Option<i64>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.guard(self.inner.messages(id, last)).await
    }
    async fn read(&self, id: &str, page: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
        self.guard(self.inner.read(id, page)).await
    }
    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        self.guard(self.inner.delete(id)).await
    }
    async fn rename(&self, id: &str, title: &str) -> Result<bool, StoreError> {
        self.guard(self.inner.rename(id, title)).await
    }
    async fn append(
        &self,
        id: &str,
        title: &str,
        owner: &str,
        messages: &[NewMessage],
        to: AppendTo,
    ) -> Result<bool, StoreError> {
        self.guard(self.inner.append(id, title, owner, messages, to))
            .await
    }
    async fn lock_across_instances(
        &self,
        id: &str,
    ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
        self.guard(self.inner.lock_across_instances(id)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A store that is down: every call fails, and is counted.
    #[derive(Default)]
    struct Down(AtomicUsize);

    impl Down {
        fn fail<T>(&self) -> Result<T, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(StoreError("connection refused".into()))
        }
    }

    #[async_trait]
    impl ThreadStore for Down {
        fn backend(&self) -> &'static str {
            "postgres"
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.fail()
        }
        async fn create(&self, _: &str, _: &str) -> Result<Thread, StoreError> {
            self.fail()
        }
        async fn list(&self, _: i64, _: i64, _: Option<&str>) -> Result<Page, StoreError> {
            self.fail()
        }
        async fn get(&self, _: &str) -> Result<Option<Thread>, StoreError> {
            self.fail()
        }
        async fn messages(
            &self,
            _: &str,
            _: Option<i64>,
        ) -> Result<Vec<StoredMessage>, StoreError> {
            self.fail()
        }
        async fn read(&self, _: &str, _: MessagePage) -> Result<Option<ThreadRead>, StoreError> {
            self.fail()
        }
        async fn delete(&self, _: &str) -> Result<bool, StoreError> {
            self.fail()
        }
        async fn rename(&self, _: &str, _: &str) -> Result<bool, StoreError> {
            self.fail()
        }
        async fn append(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &[NewMessage],
            _: AppendTo,
        ) -> Result<bool, StoreError> {
            self.fail()
        }
        async fn lock_across_instances(
            &self,
            _: &str,
        ) -> Result<Option<Box<dyn HeldLock>>, StoreError> {
            self.fail()
        }
    }

    #[tokio::test]
    async fn a_down_store_is_not_asked_again_until_the_cooldown_passes() {
        let down = Arc::new(Down::default());
        let store = Breaking::new(down.clone(), 3, Duration::from_secs(3600));
        for _ in 0..3 {
            assert!(store.get("t").await.is_err());
        }
        assert_eq!(down.0.load(Ordering::SeqCst), 3);
        for _ in 0..10 {
            let e = store.lock_across_instances("t").await.err().unwrap();
            assert!(e.0.contains("not tried"), "{e}");
        }
        assert_eq!(
            down.0.load(Ordering::SeqCst),
            3,
            "fails fast, without asking"
        );

        // After the cooldown one call probes the store again.
        let store = Breaking::new(down.clone(), 1, Duration::ZERO);
        assert!(store.ping().await.is_err());
        assert!(store.ping().await.is_err());
        assert_eq!(down.0.load(Ordering::SeqCst), 5);
    }
}
