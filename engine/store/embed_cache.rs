//! Document vectors kept across restarts, so that a document is embedded once per model:
//! a SQLite file in the data dir (`embeddings.sqlite`, apart from the organisation's data,
//! so a reload keeps it and deleting it only costs a re-embed), keyed by (model, content
//! hash).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sqlx::sqlite::SqlitePool;

use crate::embed::Embedder;

pub struct EmbedCache {
    pool: SqlitePool,
}

/// The cache file inside the data dir.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join("embeddings.sqlite")
}

/// What vectors are cached under: the model, and the dimensions when they were asked for
/// (OpenAI's text-embedding-3 models shorten vectors on request).
pub fn model_key(embedder: &dyn Embedder) -> String {
    match embedder.dimensions() {
        Some(n) => format!("{}@{n}", embedder.model()),
        None => embedder.model().to_string(),
    }
}

/// A stable 128-bit FNV-1a hash of the embedded text, in hex: a changed document gets
/// a new key and is embedded again.
pub fn content_hash(text: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let hash = text
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}

impl EmbedCache {
    pub async fn open(path: &Path) -> anyhow::Result<EmbedCache> {
        let pool = super::sqlite::open_file(path, 2).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS embeddings (\
               model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL, \
               PRIMARY KEY (model, hash))",
        )
        .execute(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot prepare {}: {e}", path.display()))?;
        Ok(EmbedCache { pool })
    }

    /// Every vector cached for `model`, by content hash.
    pub async fn vectors(&self, model: &str) -> anyhow::Result<HashMap<String, Vec<f32>>> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT hash, vector FROM embeddings WHERE model = ?1")
                .bind(model)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, bytes)| {
                let v = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (hash, v)
            })
            .collect())
    }

    /// Stores `model`'s vectors and forgets those of texts no longer in `keep`, in one
    /// transaction.
    pub async fn store(
        &self,
        model: &str,
        new: &[(String, Vec<f32>)],
        keep: &[String],
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for (hash, v) in new {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            sqlx::query(
                "INSERT INTO embeddings (model, hash, vector) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (model, hash) DO UPDATE SET vector = excluded.vector",
            )
            .bind(model)
            .bind(hash)
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        }
        let held: Vec<(String,)> = sqlx::query_as("SELECT hash FROM embeddings WHERE model = ?1")
            .bind(model)
            .fetch_all(&mut *tx)
            .await?;
        for (hash,) in held {
            if !keep.contains(&hash) {
                sqlx::query("DELETE FROM embeddings WHERE model = ?1 AND hash = ?2")
                    .bind(model)
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_stable_and_sensitive() {
        // The FNV-1a 128 test vector for the empty input is its offset basis.
        assert_eq!(content_hash(""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(content_hash("a"), "d228cb696f1a8caf78912b704e4a8964");
        assert_ne!(
            content_hash("ledger runbook"),
            content_hash("ledger runbook.")
        );
    }

    #[tokio::test]
    async fn vectors_round_trip_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EmbedCache::open(&cache_path(dir.path())).await.unwrap();
        let a = (content_hash("a"), vec![1.5, -2.0]);
        let b = (content_hash("b"), vec![0.25, 3.0]);
        cache
            .store("m", &[a.clone(), b.clone()], &[a.0.clone(), b.0.clone()])
            .await
            .unwrap();
        cache
            .store(
                "other",
                std::slice::from_ref(&a),
                std::slice::from_ref(&a.0),
            )
            .await
            .unwrap();
        let held = cache.vectors("m").await.unwrap();
        assert_eq!(held.get(&b.0), Some(&b.1));
        cache
            .store("m", &[], std::slice::from_ref(&b.0))
            .await
            .unwrap();
        let held = cache.vectors("m").await.unwrap();
        assert_eq!(held.keys().collect::<Vec<_>>(), [&b.0]);
        assert_eq!(
            cache.vectors("other").await.unwrap().len(),
            1,
            "other models untouched"
        );
    }
}
