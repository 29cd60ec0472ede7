//! One async mutex per thread id, so two chats on one thread in this process run one
//! after the other (the second sees the first's turn in its history).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct ThreadLocks {
    map: Mutex<Map>,
}

#[derive(Default)]
struct Map {
    entries: HashMap<String, Weak<AsyncMutex<()>>>,
    /// Size after the last pruning; the next prune waits until the map doubles, so
    /// pruning costs O(1) per lock on average.
    kept: usize,
}

impl ThreadLocks {
    /// Waits until no other chat holds `id`; the thread is held until the guard drops.
    pub async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let mutex = {
            let mut map = self.map.lock().expect("thread locks");
            // Entries whose guards and waiters are all gone are dead: drop them now and
            // then, so the map holds little more than the threads with chats in flight.
            if map.entries.len() >= (2 * map.kept).max(64) {
                map.entries.retain(|_, m| m.strong_count() > 0);
                map.kept = map.entries.len();
            }
            match map.entries.get(id).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(AsyncMutex::new(()));
                    map.entries.insert(id.to_string(), Arc::downgrade(&m));
                    m
                }
            }
        };
        mutex.lock_owned().await
    }

    /// Chats holding or awaiting the lock of thread `id` (tests wait on it).
    pub fn chats_on(&self, id: &str) -> usize {
        let map = self.map.lock().expect("thread locks");
        map.entries.get(id).map_or(0, Weak::strong_count)
    }

    /// Threads with a chat holding or awaiting their lock.
    pub fn in_use(&self) -> usize {
        let map = self.map.lock().expect("thread locks");
        map.entries
            .values()
            .filter(|m| m.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn second_waits_for_first_and_entries_are_pruned() {
        let locks = Arc::new(ThreadLocks::default());
        let first = locks.lock("t").await;
        let l2 = locks.clone();
        let second = tokio::spawn(async move { l2.lock("t").await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "second chat must wait");
        let _other = locks.lock("u").await; // another thread is not blocked
        drop(first);
        let g = tokio::time::timeout(Duration::from_secs(2), second)
            .await
            .expect("second acquires once the first is released")
            .expect("task");
        drop(g);
        drop(_other);
        assert_eq!(locks.in_use(), 0);
    }

    #[tokio::test]
    async fn dead_entries_are_pruned() {
        let locks = ThreadLocks::default();
        for i in 0..1_000 {
            drop(locks.lock(&format!("t{i}")).await);
        }
        let held = locks.lock("kept").await;
        let size = locks.map.lock().unwrap().entries.len();
        assert!(size <= 128, "{size} entries for 1 live lock");
        assert_eq!(locks.in_use(), 1);
        drop(held);
    }
}
