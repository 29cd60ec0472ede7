//! Document search on PostgreSQL with pgvector: each document's vector in
//! `document_embeddings` (created when documents are first embedded, since `vector(N)`
//! takes the model's dimension, with an HNSW index for cosine distance), searched with
//! `<=>` and fused by reciprocal rank with PostgreSQL full-text search
//! (`websearch_to_tsquery`, ranked by `ts_rank_cd`).
//!
//! The table is its own cache: a row holds the hash of the text it was embedded from, so
//! an open embeds only new and changed documents, and several instances share the work
//! (an advisory lock makes the second wait for the first).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgPool, Postgres as Pg, Transaction};

use super::contract::{DocFilter, DocHit, Documents, StoreError};
use super::documents::{passage, snippet, tokens};
use super::embed_cache::{content_hash, model_key};
use super::postgres::pg_error;
use super::rank::{CANDIDATES, round_score, rrf};
use crate::embed::{Embedder, InputKind};

pub struct PgDocuments {
    pool: PgPool,
    embedder: Arc<dyn Embedder>,
    /// The `model` column's value (the model, and its dimensions when asked for).
    model: String,
    /// The vectors' dimension; `None` while there is nothing embedded (no documents).
    dims: Option<usize>,
    /// pgvector ≥ 0.8: an HNSW scan with filters keeps going until it has enough rows.
    iterative_scan: bool,
}

/// The documents with the team and service names that filters test.
const FROM: &str = "documents d LEFT JOIN teams t ON t.id = d.team_id \
                    LEFT JOIN services s ON s.id = d.service_id";
const TSVECTOR: &str = "to_tsvector('english', d.title || ' ' || d.body)";

/// The kind, team and service filters with their parameters from `$first` on (NULL: any).
fn filter_sql(first: usize) -> String {
    let (k, t, s) = (first, first + 1, first + 2);
    format!(
        "(${k}::text IS NULL OR d.kind = ${k}) AND (${t}::text IS NULL OR lower(t.name) = lower(${t})) \
         AND (${s}::text IS NULL OR lower(s.name) = lower(${s}))"
    )
}

/// A vector in pgvector's text form, `[x,y,…]`.
fn vector_text(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(f32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// The query's words joined by `or`: websearch_to_tsquery reads plain words as AND, and a
/// document holding some of them should still rank (as with BM25).
fn any_of_words(query: &str) -> String {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" or ")
}

impl PgDocuments {
    /// Brings `document_embeddings` up to date for the embedder's model and returns the
    /// store with how many documents were embedded now.
    pub async fn open(
        pool: PgPool,
        embedder: Arc<dyn Embedder>,
    ) -> anyhow::Result<(PgDocuments, usize)> {
        let model = model_key(embedder.as_ref());
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('eng-intel document_embeddings'))")
            .execute(&mut *tx)
            .await?;
        let version = pgvector_version(&mut tx).await?;
        let docs: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, title, body FROM documents ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        let docs: Vec<(i64, String, String)> = docs
            .into_iter()
            .map(|(id, title, body)| {
                let text = passage(&title, &body);
                (id, content_hash(&text), text)
            })
            .collect();
        let want = embedder.dimensions();
        let mut table = table_dims(&mut tx).await?;
        if table.is_some_and(|t| want.is_some_and(|w| w != t)) {
            drop_table(&mut tx).await?;
            table = None;
        }
        let held: HashMap<i64, String> = if table.is_some() {
            sqlx::query_as(
                "SELECT document_id, content_hash FROM document_embeddings WHERE model = $1",
            )
            .bind(&model)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
        } else {
            HashMap::new()
        };
        let mut missing: Vec<&(i64, String, String)> = docs
            .iter()
            .filter(|(id, hash, _)| held.get(id) != Some(hash))
            .collect();
        let texts =
            |m: &[&(i64, String, String)]| m.iter().map(|d| d.2.clone()).collect::<Vec<_>>();
        let mut vectors = embedder.embed(&texts(&missing), InputKind::Passage).await?;
        let dims = want.or(vectors.first().map(Vec::len)).or(table);
        if table.is_some() && table != dims {
            // Vectors of another length than the table's: it held another model.
            drop_table(&mut tx).await?;
            if missing.len() < docs.len() {
                missing = docs.iter().collect();
                vectors = embedder.embed(&texts(&missing), InputKind::Passage).await?;
            }
        }
        if let Some(n) = dims {
            create_table(&mut tx, n).await?;
        }
        for (d, v) in missing.iter().zip(&vectors) {
            sqlx::query(
                "INSERT INTO document_embeddings (document_id, model, content_hash, embedding) \
                 VALUES ($1, $2, $3, CAST($4 AS vector)) ON CONFLICT (document_id, model) \
                 DO UPDATE SET content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding",
            )
            .bind(d.0)
            .bind(&model)
            .bind(&d.1)
            .bind(vector_text(v))
            .execute(&mut *tx)
            .await?;
        }
        if dims.is_some() {
            let ids: Vec<i64> = docs.iter().map(|d| d.0).collect();
            sqlx::query(
                "DELETE FROM document_embeddings WHERE model = $1 AND document_id <> ALL($2)",
            )
            .bind(&model)
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let iterative_scan = version_at_least(&version, (0, 8));
        Ok((
            PgDocuments {
                pool,
                embedder,
                model,
                dims,
                iterative_scan,
            },
            missing.len(),
        ))
    }

    /// The query's vector in pgvector's text form, or why there is none.
    async fn query_vector(&self, query: &str) -> Result<String, String> {
        let dims = self.dims.ok_or("no document is embedded")?;
        let v = self.embedder.embed_query(query, dims).await?;
        Ok(vector_text(&v))
    }

    /// Ids of the documents whose words match, best first.
    async fn by_words(
        &self,
        query: &str,
        f: &DocFilter,
        depth: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = format!(
            "SELECT d.id FROM {FROM} WHERE {TSVECTOR} @@ websearch_to_tsquery('english', $1) AND {} \
             ORDER BY ts_rank_cd({TSVECTOR}, websearch_to_tsquery('english', $1)) DESC, d.id LIMIT $5",
            filter_sql(2)
        );
        sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(any_of_words(query))
            .bind(&f.kind)
            .bind(&f.team)
            .bind(&f.service)
            .bind(depth as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)
    }

    /// Ids of the documents nearest to the query vector, nearest first.
    async fn by_meaning(
        &self,
        vector: &str,
        f: &DocFilter,
        depth: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = format!(
            "SELECT e.document_id FROM document_embeddings e JOIN {FROM} ON d.id = e.document_id \
             WHERE e.model = $1 AND {} ORDER BY e.embedding <=> CAST($5 AS vector) LIMIT $6",
            filter_sql(2)
        );
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        if self.iterative_scan {
            // Filters drop rows after the index scan; without this it may stop short.
            sqlx::query("SET LOCAL hnsw.iterative_scan = strict_order")
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
        }
        let ids = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&self.model)
            .bind(&f.kind)
            .bind(&f.team)
            .bind(&f.service)
            .bind(vector)
            .bind(depth as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(ids)
    }

    /// The documents `ids`, or the newest that `f` keeps when `ids` is None.
    async fn documents(
        &self,
        ids: Option<&[i64]>,
        f: &DocFilter,
        limit: usize,
    ) -> Result<Vec<(DocHit, String)>, StoreError> {
        let columns = "SELECT d.id, d.kind, d.title, d.body, t.name AS team, s.name AS service, \
                       a.name AS author, d.created_at";
        let sql = match ids {
            Some(_) => format!(
                "{columns} FROM {FROM} JOIN employees a ON a.id = d.author_id WHERE d.id = ANY($1)"
            ),
            None => format!(
                "{columns} FROM {FROM} JOIN employees a ON a.id = d.author_id WHERE {} \
                 ORDER BY d.created_at DESC, d.id LIMIT $4",
                filter_sql(1)
            ),
        };
        type Doc = (
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let q = sqlx::query_as::<_, Doc>(AssertSqlSafe(sql));
        let q = match ids {
            Some(ids) => q.bind(ids.to_vec()),
            None => q
                .bind(&f.kind)
                .bind(&f.team)
                .bind(&f.service)
                .bind(limit as i64),
        };
        let rows = q.fetch_all(&self.pool).await.map_err(pg_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, title, body, team, service, author, created_at)| {
                    let hit = DocHit {
                        id,
                        kind,
                        title,
                        team,
                        service,
                        author,
                        created_at,
                        score: 0.0,
                        snippet: String::new(),
                        found_by: None,
                    };
                    (hit, body)
                },
            )
            .collect())
    }
}

#[async_trait]
impl Documents for PgDocuments {
    fn backend(&self) -> &'static str {
        "pgvector"
    }

    async fn search(
        &self,
        query: &str,
        filter: &DocFilter,
        limit: usize,
    ) -> Result<Vec<DocHit>, StoreError> {
        let f = filter.normalised();
        let terms = tokens(query);
        // A kind filter with no query words lists that kind, newest first.
        if terms.is_empty() {
            let docs = self.documents(None, &f, limit).await?;
            return Ok(docs
                .into_iter()
                .map(|(hit, body)| DocHit {
                    snippet: snippet(&body, &[]),
                    ..hit
                })
                .collect());
        }
        let depth = CANDIDATES.max(limit);
        let text = self.by_words(query, &f, depth).await?;
        let near = match self.query_vector(query).await {
            Ok(v) => self.by_meaning(&v, &f, depth).await?,
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed the query; documents ranked by their words alone");
                Vec::new()
            }
        };
        let fused = rrf(&text, &near, limit);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        let mut docs: HashMap<i64, (DocHit, String)> = self
            .documents(Some(&ids), &f, limit)
            .await?
            .into_iter()
            .map(|d| (d.0.id, d))
            .collect();
        Ok(fused
            .into_iter()
            .filter_map(|(id, score, found)| {
                let (hit, body) = docs.remove(&id)?;
                Some(DocHit {
                    score: round_score(score),
                    snippet: snippet(&body, &terms),
                    found_by: Some(found),
                    ..hit
                })
            })
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(pg_error)
    }
}

/// The installed pgvector version, installing the extension when the migration could not.
async fn pgvector_version(tx: &mut Transaction<'_, Pg>) -> anyhow::Result<String> {
    let installed =
        || sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    if let Some(v) = installed().fetch_optional(&mut **tx).await? {
        return Ok(v);
    }
    sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
        .execute(&mut **tx)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the pgvector extension is not available in this PostgreSQL ({e}); install it, \
                 or unset EMBEDDING_BASE_URL and PINECONE_API_KEY"
            )
        })?;
    Ok(installed().fetch_one(&mut **tx).await?)
}

/// The dimension of `document_embeddings.embedding`, when the table exists.
async fn table_dims(tx: &mut Transaction<'_, Pg>) -> anyhow::Result<Option<usize>> {
    let t: Option<String> = sqlx::query_scalar(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = to_regclass('document_embeddings') AND a.attname = 'embedding'",
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(t.and_then(|t| t.strip_prefix("vector(")?.strip_suffix(')')?.parse().ok()))
}

async fn drop_table(tx: &mut Transaction<'_, Pg>) -> anyhow::Result<()> {
    sqlx::query("DROP TABLE IF EXISTS document_embeddings")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The vectors of one dimension, any number of models, and the HNSW index on them.
async fn create_table(tx: &mut Transaction<'_, Pg>, dims: usize) -> anyhow::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS document_embeddings (\
           document_id BIGINT NOT NULL, model TEXT NOT NULL, content_hash TEXT NOT NULL, \
           embedding vector({dims}) NOT NULL, PRIMARY KEY (document_id, model))"
    )))
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "CREATE INDEX IF NOT EXISTS document_embeddings_hnsw ON document_embeddings \
         USING hnsw (embedding vector_cosine_ops)",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether a version like "0.8.6" is at least `(major, minor)`.
fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_pieces() {
        assert_eq!(vector_text(&[0.5, -1.0, 2.0]), "[0.5,-1,2]");
        assert_eq!(
            any_of_words("on-call rota, payments?"),
            "on or call or rota or payments"
        );
        assert!(version_at_least("0.8.6", (0, 8)));
        assert!(!version_at_least("0.7.4", (0, 8)));
        assert!(filter_sql(2).starts_with("($2::text IS NULL OR d.kind = $2)"));
    }
}
