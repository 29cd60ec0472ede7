//! The connections the embedded store reads through: rusqlite's own, kept for the store's
//! life, each with its prepared statements. Queries used to borrow a sqlx connection's
//! handle, which took a round trip to that connection's worker thread to lock and unlock,
//! and prepared every statement anew.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::median;
use crate::store::StoreError;

/// Statements kept prepared per connection: every tool's and builtin's fits.
const PREPARED: usize = 256;

pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// One per connection that may be open at once.
    permits: Semaphore,
}

impl Readers {
    /// Readers of the (existing, migrated) file at `path`, at most `max` at once, each
    /// opened when first needed.
    pub fn new(path: PathBuf, max: usize) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max),
        }
    }

    /// Runs `f` on a reader, on a blocking thread (SQLite's calls block).
    pub async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let db = match readers.idle.lock().expect("readers lock").pop() {
                Some(db) => db,
                None => readers.open()?,
            };
            let out = f(&db);
            readers.idle.lock().expect("readers lock").push(db);
            out
        })
        .await
        .map_err(|e| StoreError::query(format!("sqlite: {e}")))?
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = Connection::open_with_flags(&self.path, flags).map_err(super::direct_error)?;
        db.busy_timeout(Duration::from_secs(10))
            .and_then(|()| {
                // Reads through the page cache's own pages instead of a copy per connection:
                // a large history's aggregates otherwise spend as much time in `pread` as in SQL.
                db.pragma_update(None, "mmap_size", 1_073_741_824)
            })
            .and_then(|()| median::register(&db))
            .map_err(super::direct_error)?;
        db.set_prepared_statement_cache_capacity(PREPARED);
        Ok(db)
    }
}

fn closed() -> StoreError {
    StoreError::unavailable("sqlite: the store is closed")
}
