//! Hybrid document search: the BM25 ranking and the vector ranking (cosine similarity of
//! the query's embedding to each document's) fused by reciprocal rank fusion, so that a
//! document is found by its words or by its meaning. [`open`] picks where the vectors
//! live: in PostgreSQL with pgvector when the relational store is there, else in process
//! with a cache file in the data dir.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sqlx::PgPool;

use super::contract::{DocFilter, DocHit, Documents, Match, QueryStore, StoreError};
use super::documents::{Bm25Index, tokens};
use super::embed_cache::{EmbedCache, cache_path, content_hash, model_key};
use super::pgvector::PgDocuments;
use super::rank::{CANDIDATES, round_score, rrf};
use crate::embed::{Embedder, InputKind, dot, normalise};

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
pub async fn open(
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
