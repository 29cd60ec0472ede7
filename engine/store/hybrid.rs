//! Hybrid document search: the BM25 ranking and the vector ranking (cosine similarity of
//! the query's embedding to each document's) fused by reciprocal rank fusion, so that a
//! document is found by its words or by its meaning. [`open`] picks where the vectors
//! live: in PostgreSQL with pgvector when the relational store is there, else in process
//! with a cache file in the data dir.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sqlx::PgPool;

use super::documents::{Bm25Index, DocFilter, DocHit, Match, tokens};
use super::embed_cache::{EmbedCache, cache_path, content_hash, model_key};
use super::pgvector::PgDocuments;
use super::{Documents, QueryStore, StoreError};
use crate::embed::{Embedder, InputKind, dot, normalise};

/// The RRF constant: 1/(k + rank) flattens the head of each list, so agreement between
/// the two rankings counts for more than first place in one.
pub const RRF_K: f64 = 60.0;
/// How deep each ranking goes before fusion (more when a search asks for more).
pub const CANDIDATES: usize = 50;

/// Reciprocal rank fusion of two rankings, best first: each document scores the sum of
/// 1/(k + rank) over the lists it is in (rank from 1). Ties go to the better single rank,
/// then to the smaller id.
pub fn rrf<T: Copy + Eq + Hash + Ord>(
    text: &[T],
    vector: &[T],
    limit: usize,
) -> Vec<(T, f64, Match)> {
    // id → (score, best rank, in text, in vector)
    let mut fused: HashMap<T, (f64, usize, bool, bool)> = HashMap::new();
    for (list, is_text) in [(text, true), (vector, false)] {
        for (i, id) in list.iter().enumerate() {
            let e = fused.entry(*id).or_insert((0.0, usize::MAX, false, false));
            e.0 += 1.0 / (RRF_K + (i + 1) as f64);
            e.1 = e.1.min(i + 1);
            if is_text {
                e.2 = true;
            } else {
                e.3 = true;
            }
        }
    }
    let mut out: Vec<(T, f64, usize, Match)> = fused
        .into_iter()
        .map(|(id, (score, best, t, v))| {
            let m = match (t, v) {
                (true, true) => Match::Both,
                (true, false) => Match::Text,
                _ => Match::Vector,
            };
            (id, score, best, m)
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    out.into_iter()
        .take(limit)
        .map(|(id, score, _, m)| (id, score, m))
        .collect()
}

/// An RRF score is around 1/60: five decimals keep the order readable.
pub(super) fn round_score(score: f64) -> f64 {
    (score * 100_000.0).round() / 100_000.0
}

/// The in-process hybrid index: BM25 plus one unit vector per document.
pub struct HybridIndex {
    text: Bm25Index,
    /// Normalised, in the BM25 index's document order.
    vectors: Vec<Vec<f32>>,
    embedder: Arc<dyn Embedder>,
}

impl HybridIndex {
    /// Embeds every document of `text` (as a passage) that `cache` does not hold yet and
    /// caches the new vectors. Returns the index and how many documents were embedded.
    pub async fn build(
        text: Bm25Index,
        embedder: Arc<dyn Embedder>,
        cache: Option<&EmbedCache>,
    ) -> anyhow::Result<(HybridIndex, usize)> {
        let key = model_key(embedder.as_ref());
        let passages: Vec<String> = (0..text.len()).map(|i| text.passage(i)).collect();
        let hashes: Vec<String> = passages.iter().map(|p| content_hash(p)).collect();
        let mut held = match cache {
            Some(c) => c.vectors(&key).await?,
            None => HashMap::new(),
        };
        // A cached vector of another length is from another setup of the model.
        let expected = embedder
            .dimensions()
            .or_else(|| held.values().next().map(Vec::len));
        held.retain(|_, v| expected.is_none_or(|n| v.len() == n));
        // Each distinct text once (two documents may read the same).
        let mut wanted = std::collections::HashSet::new();
        let missing: Vec<usize> = (0..passages.len())
            .filter(|&i| !held.contains_key(&hashes[i]) && wanted.insert(&hashes[i]))
            .collect();
        let texts: Vec<String> = missing.iter().map(|&i| passages[i].clone()).collect();
        let fresh = embedder.embed(&texts, InputKind::Passage).await?;
        let new: Vec<(String, Vec<f32>)> = missing
            .iter()
            .map(|&i| hashes[i].clone())
            .zip(fresh)
            .collect();
        if let Some(c) = cache {
            c.store(&key, &new, &hashes).await?;
        }
        let embedded = new.len();
        held.extend(new);
        let vectors = hashes
            .iter()
            .map(|h| {
                let mut v = held.get(h).cloned().unwrap_or_default();
                normalise(&mut v);
                v
            })
            .collect::<Vec<_>>();
        let dims = vectors.first().map_or(0, Vec::len);
        if let Some(i) = vectors.iter().position(|v| v.len() != dims) {
            anyhow::bail!(
                "document vectors differ in length ({} and {dims}): delete the embedding cache and restart",
                vectors[i].len()
            );
        }
        Ok((
            HybridIndex {
                text,
                vectors,
                embedder,
            },
            embedded,
        ))
    }

    /// The query's unit vector, or why there is none (the search then ranks by words).
    async fn query_vector(&self, query: &str) -> Result<Vec<f32>, String> {
        let dims = self.vectors.first().map_or(0, Vec::len);
        let mut v = self.embedder.embed_query(query, dims).await?;
        normalise(&mut v);
        Ok(v)
    }

    pub async fn search_hybrid(
        &self,
        query: &str,
        filter: &DocFilter,
        limit: usize,
    ) -> Vec<DocHit> {
        let terms = tokens(query);
        if terms.is_empty() {
            return self.text.newest(filter, limit);
        }
        let depth = CANDIDATES.max(limit);
        let text = self.text.ranked(&terms, filter, depth);
        let q = match self.query_vector(query).await {
            Ok(q) => q,
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed the query; documents ranked by their words alone");
                return text
                    .into_iter()
                    .take(limit)
                    .map(|(i, s)| DocHit {
                        found_by: Some(Match::Text),
                        ..self.text.hit(i, s, &terms)
                    })
                    .collect();
            }
        };
        let mut near: Vec<(usize, f32)> = self
            .text
            .kept(filter)
            .into_iter()
            .map(|i| (i, dot(&q, &self.vectors[i])))
            .collect();
        near.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        near.truncate(depth);
        let text: Vec<usize> = text.into_iter().map(|(i, _)| i).collect();
        let near: Vec<usize> = near.into_iter().map(|(i, _)| i).collect();
        rrf(&text, &near, limit)
            .into_iter()
            .map(|(i, score, m)| DocHit {
                score: round_score(score),
                found_by: Some(m),
                ..self.text.hit(i, 0.0, &terms)
            })
            .collect()
    }
}

#[async_trait]
impl Documents for HybridIndex {
    fn backend(&self) -> &'static str {
        "hybrid"
    }

    async fn search(
        &self,
        query: &str,
        filter: &DocFilter,
        limit: usize,
    ) -> Result<Vec<DocHit>, StoreError> {
        Ok(self.search_hybrid(query, filter, limit).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The document store when an embedder is configured: PostgreSQL with pgvector when the
/// relational store is PostgreSQL (`pg`), else the in-process hybrid index with vectors
/// cached in the data dir. Says how many documents it embedded; when embedding fails it
/// says why and gives `None`, leaving BM25 alone.
pub(super) async fn open(
    embedder: Arc<dyn Embedder>,
    pg: Option<PgPool>,
    data_dir: &Path,
    relational: &dyn QueryStore,
    announce: &dyn Fn(&str),
) -> anyhow::Result<Option<Arc<dyn Documents>>> {
    let started = Instant::now();
    let model = embedder.model().to_string();
    let opened: anyhow::Result<(Arc<dyn Documents>, usize, String)> = async {
        match pg {
            Some(pool) => {
                let (docs, n) = PgDocuments::open(pool, embedder).await?;
                Ok((
                    Arc::new(docs) as Arc<dyn Documents>,
                    n,
                    "PostgreSQL (pgvector)".to_string(),
                ))
            }
            None => {
                let path = cache_path(data_dir);
                let cache = EmbedCache::open(&path).await?;
                let text = Bm25Index::build(relational).await?;
                let (index, n) = HybridIndex::build(text, embedder, Some(&cache)).await?;
                Ok((
                    Arc::new(index) as Arc<dyn Documents>,
                    n,
                    path.display().to_string(),
                ))
            }
        }
    }
    .await;
    match opened {
        Ok((docs, embedded, place)) => {
            if embedded > 0 {
                let noun = if embedded == 1 {
                    "document"
                } else {
                    "documents"
                };
                announce(&format!(
                    "embedded {embedded} {noun} with {model} in {:.1} s (vectors kept in {place})",
                    started.elapsed().as_secs_f64()
                ));
            }
            Ok(Some(docs))
        }
        Err(e) => {
            announce(&format!(
                "warning: document search ranks by words alone (BM25): cannot embed the documents with {model}: {e:#}"
            ));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement_and_says_what_found_each() {
        let fused = rrf(&[1, 2, 3], &[3, 1, 4], 10);
        let ids: Vec<i32> = fused.iter().map(|f| f.0).collect();
        // 1: 1/61 + 1/62, 3: 1/63 + 1/61, 2: 1/62, 4: 1/63.
        assert_eq!(ids, [1, 3, 2, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
        let found: Vec<Match> = fused.iter().map(|f| f.2).collect();
        assert_eq!(
            found,
            [Match::Both, Match::Both, Match::Text, Match::Vector]
        );
        // Equal scores: the better single rank first, then the smaller id.
        assert_eq!(rrf(&[7, 8], &[8, 7], 1)[0].0, 7);
        assert_eq!(
            rrf(&[5], &[9], 2).iter().map(|f| f.0).collect::<Vec<_>>(),
            [5, 9]
        );
        assert!(rrf::<i32>(&[], &[], 3).is_empty());
    }
}
