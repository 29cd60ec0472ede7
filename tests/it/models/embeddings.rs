//! Embeddings and hybrid document search against a fake embeddings server over real HTTP
//! (tests/support/fake_embeddings.rs): batching, retries, Pinecone's wire format, the
//! vector cache across restarts, reciprocal rank fusion finding by meaning what BM25
//! misses, and pgvector on the real PostgreSQL of scripts/servers.sh (skipped visibly when
//! `POSTGRES_HOST` is unset; it uses its own database, `eng_intel_test_embeddings`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eng_intel::dataset;
use eng_intel::embed::{self, Embedder, InputKind, OpenAiEmbedder, Policy};
use eng_intel::settings::Settings;
use eng_intel::store::{self, Bm25Index, DocFilter, DocHit, Documents, HybridIndex, Match};

use crate::support::fake_embeddings::{self, FakeEmbeddings};
use crate::support::{BIN, Vars, require_server, settings};

const PG_DATABASE: &str = "eng_intel_test_embeddings";

/// Quick retries, so that the tests do not wait on backoff.
fn quick() -> Policy {
    Policy {
        retry_base: Duration::from_millis(10),
        max_retries: 2,
        ..Policy::default()
    }
}

fn openai(fake: &FakeEmbeddings, policy: Policy) -> OpenAiEmbedder {
    let s = settings(&[
        ("EMBEDDING_BASE_URL", fake.openai_url().as_str()),
        ("EMBEDDING_API_KEY", "sk-test"),
        ("EMBEDDING_MODEL", "fake-bow"),
    ]);
    OpenAiEmbedder::new(s.embedding.as_ref().unwrap(), policy).unwrap()
}

fn texts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("document number {i} about topic{}", i % 7))
        .collect()
}

#[tokio::test]
async fn openai_batches_at_most_256_inputs_and_keeps_the_order() {
    let fake = FakeEmbeddings::start(&[]).await;
    let e = openai(&fake, quick());
    let input = texts(600);
    let vectors = e.embed(&input, InputKind::Passage).await.unwrap();
    let sizes: Vec<usize> = fake.requests().iter().map(|r| r.inputs()).collect();
    assert_eq!(sizes, [256, 256, 88]);
    assert_eq!(vectors.len(), 600);
    // The fake answers in reverse order: `index` puts each vector back with its text.
    for i in [0, 255, 256, 599] {
        assert_eq!(
            vectors[i],
            fake.vector(&input[i], fake_embeddings::DIMS),
            "text {i}"
        );
    }
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/embeddings");
    assert_eq!(r.body["model"], "fake-bow");
    assert_eq!(r.header("authorization"), Some("Bearer sk-test"));
    assert!(
        r.body.get("dimensions").is_none(),
        "not asked for unless configured"
    );
    assert!(e.embed(&[], InputKind::Query).await.unwrap().is_empty());
    assert_eq!(fake.requests().len(), 3, "no request for no text");
}

#[tokio::test]
async fn configured_dimensions_are_asked_for_and_checked() {
    let fake = FakeEmbeddings::start(&[]).await;
    let s = settings(&[
        ("EMBEDDING_BASE_URL", fake.openai_url()),
        ("EMBEDDING_DIMENSIONS", "64".into()),
    ]);
    let e = OpenAiEmbedder::new(s.embedding.as_ref().unwrap(), quick()).unwrap();
    assert_eq!(e.dimensions(), Some(64));
    let v = e.embed(&texts(2), InputKind::Passage).await.unwrap();
    assert_eq!(v[0].len(), 64);
    assert_eq!(fake.requests()[0].body["dimensions"], 64);
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_server_asks_for() {
    let fake = FakeEmbeddings::start(&[]).await;
    fake.fail_next(429, &[("retry-after", "1")], "slow down");
    let e = openai(&fake, quick());
    let started = Instant::now();
    let v = e.embed(&texts(3), InputKind::Passage).await.unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(fake.requests().len(), 2);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After honoured: waited {waited:?}"
    );

    // 5xx and connection-level trouble are retried too, up to the policy's limit.
    fake.fail_next(503, &[], "overloaded");
    fake.fail_next(500, &[], "boom");
    e.embed(&texts(1), InputKind::Query).await.unwrap();
    assert_eq!(fake.requests().len(), 5);
    for _ in 0..3 {
        fake.fail_next(500, &[], "still broken");
    }
    let err = e.embed(&texts(1), InputKind::Query).await.unwrap_err();
    assert!(err.retryable);
    assert!(
        err.message
            .contains("HTTP 500 Internal Server Error: still broken (after 3 attempts)"),
        "{}",
        err.message
    );
    assert_eq!(fake.requests().len(), 8);
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_says_what_to_check() {
    let fake = FakeEmbeddings::start(&[]).await;
    fake.fail_next(401, &[], "invalid api key");
    let err = openai(&fake, quick())
        .embed(&texts(1), InputKind::Query)
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message
            .ends_with("HTTP 401 Unauthorized: invalid api key (check EMBEDDING_API_KEY)"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("sk-test"), "the key never shows");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = settings(&[("EMBEDDING_BASE_URL", format!("http://127.0.0.1:{port}/v1"))]);
    let e = OpenAiEmbedder::new(s.embedding.as_ref().unwrap(), quick()).unwrap();
    let err = e.embed(&texts(1), InputKind::Query).await.unwrap_err();
    assert!(err.retryable);
    assert!(err.message.contains("cannot connect"), "{}", err.message);
    assert!(
        err.message.contains("(after 3 attempts)"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn pinecone_gets_its_headers_body_and_batches_of_96() {
    let fake = FakeEmbeddings::start(&[]).await;
    let s = settings(&[
        ("PINECONE_API_KEY", "pc-secret".into()),
        ("PINECONE_BASE_URL", fake.base_url.clone()),
    ]);
    let e = embed::from_settings(&s)
        .unwrap()
        .expect("Pinecone is configured");
    assert_eq!(
        (e.model(), e.dimensions()),
        ("llama-text-embed-v2", Some(1024))
    );
    let input = texts(200);
    let vectors = e.embed(&input, InputKind::Passage).await.unwrap();
    assert_eq!(vectors.len(), 200);
    assert_eq!(vectors[150], fake.vector(&input[150], 1024));
    let requests = fake.requests();
    assert_eq!(
        requests.iter().map(|r| r.inputs()).collect::<Vec<_>>(),
        [96, 96, 8]
    );
    let r = &requests[0];
    assert_eq!(r.path, "/embed");
    assert_eq!(r.header("api-key"), Some("pc-secret"));
    assert_eq!(r.header("x-pinecone-api-version"), Some("2025-04"));
    assert_eq!(
        r.body,
        serde_json::json!({
            "model": "llama-text-embed-v2",
            "parameters": {"input_type": "passage", "truncate": "END"},
            "inputs": input[..96].iter().map(|t| serde_json::json!({"text": t})).collect::<Vec<_>>(),
        })
    );
    e.embed(&["who owns billing".to_string()], InputKind::Query)
        .await
        .unwrap();
    assert_eq!(fake.requests()[3].body["parameters"]["input_type"], "query");
}

fn doc(id: i64, kind: &str, title: &str, body: &str) -> (DocHit, String) {
    let hit = DocHit {
        id,
        kind: kind.into(),
        title: title.into(),
        team: None,
        service: None,
        author: "A".into(),
        created_at: format!("2025-01-0{id}T00:00:00Z"),
        score: 0.0,
        snippet: String::new(),
        found_by: None,
    };
    (hit, body.into())
}

fn corpus() -> Vec<(DocHit, String)> {
    vec![
        doc(
            1,
            "postmortem",
            "Postmortem: checkout downtime",
            "Checkout was down for 40 minutes after a bad deploy. The rollback restored service.",
        ),
        doc(
            2,
            "runbook",
            "Runbook: ledger",
            "Restart the ledger. Check balances against the bank feed.",
        ),
        doc(
            3,
            "design_doc",
            "Design: search service",
            "The search service indexes documents. Queries go through the ranking stage.",
        ),
    ]
}

#[tokio::test]
async fn hybrid_search_finds_by_meaning_what_bm25_misses() {
    // The fake's vectors read "outage" as "downtime"; no document says "outage".
    let fake = FakeEmbeddings::start(&[("outage", "downtime")]).await;
    let embedder = Arc::new(openai(&fake, quick()));
    let (index, embedded) = HybridIndex::build(Bm25Index::new(corpus()), embedder, None)
        .await
        .unwrap();
    assert_eq!(embedded, 3);
    let any = DocFilter::default();

    let words_alone = Bm25Index::new(corpus()).search_sync("outage", &any, 5);
    assert!(words_alone.is_empty(), "BM25 cannot know: {words_alone:?}");
    let hits = index.search("outage", &any, 5).await.unwrap();
    assert_eq!(hits[0].id, 1, "{hits:?}");
    assert_eq!(hits[0].found_by, Some(Match::Vector));

    // Words and meaning agree: found by both, and it serializes as `match`.
    let hits = index.search("restart the ledger", &any, 5).await.unwrap();
    assert_eq!((hits[0].id, hits[0].found_by), (2, Some(Match::Both)));
    assert_eq!(hits[0].snippet, "Restart the ledger.");
    let json = serde_json::to_value(&hits[0]).unwrap();
    assert_eq!(json["match"], "both");
    // Fused scores: first place in both lists is 2/61.
    assert!(
        (hits[0].score - 2.0 / 61.0).abs() < 1e-5,
        "{}",
        hits[0].score
    );

    // Filters hold for the vector side too.
    let runbooks = DocFilter {
        kind: Some("runbooks".into()),
        ..Default::default()
    };
    let hits = index.search("outage", &runbooks, 5).await.unwrap();
    assert!(hits.iter().all(|h| h.kind == "runbook"), "{hits:?}");

    // No query words: the kind's documents, newest first, as with BM25 alone.
    let listed = index.search("the", &runbooks, 5).await.unwrap();
    assert_eq!(listed.iter().map(|h| h.id).collect::<Vec<_>>(), [2]);

    // The embeddings server refusing the query leaves words alone, not an error.
    fake.fail_next(400, &[], "bad input");
    let hits = index.search("ledger", &any, 5).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| (h.id, h.found_by)).collect::<Vec<_>>(),
        [(2, Some(Match::Text))]
    );
}

/// The variables of an embedded data dir with the fake as the embeddings server.
fn embedded_vars(dir: &Path, fake: &FakeEmbeddings) -> Vars {
    Vars::new()
        .data_dir(dir)
        .set("EMBEDDING_BASE_URL", fake.openai_url())
        .set("EMBEDDING_MODEL", "fake-bow")
}

/// The settings of an embedded data dir with the fake as the embeddings server.
fn embedded(dir: &Path, fake: &FakeEmbeddings) -> Settings {
    embedded_vars(dir, fake).settings()
}

async fn open(s: &Settings) -> (store::Stores, Vec<String>) {
    let said = Mutex::new(Vec::new());
    let stores = dataset::open(s, &|m| said.lock().unwrap().push(m.to_string()))
        .await
        .unwrap();
    (stores, said.into_inner().unwrap())
}

#[tokio::test]
async fn documents_are_embedded_once_and_the_cache_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEmbeddings::start(&[("outage", "postmortem")]).await;
    let s = embedded(dir.path(), &fake);

    let (stores, said) = open(&s).await;
    assert_eq!(stores.documents.backend(), "hybrid");
    let first = fake.requests();
    let documents = first.iter().map(|r| r.inputs()).sum::<usize>();
    assert!(
        documents > 10,
        "the demo organisation's documents: {documents}"
    );
    assert_eq!(first.len(), documents.div_ceil(256), "batched");
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[1].starts_with(&format!("embedded {documents} documents with fake-bow in ")),
        "{}",
        said[1]
    );
    assert!(dir.path().join("embeddings.sqlite").exists());
    // Postmortems found by meaning ("outage" reads as "postmortem" to the fake).
    let hits = stores
        .documents
        .search("outage", &DocFilter::default(), 3)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.kind == "postmortem" && h.found_by == Some(Match::Vector)),
        "{hits:?}"
    );
    let asked = fake.requests().len();
    drop(stores);

    // A restart embeds nothing and says nothing.
    let (stores, said) = open(&s).await;
    assert_eq!(fake.requests().len(), asked, "no embedding request");
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(stores.documents.backend(), "hybrid");
    drop(stores);

    // A changed document is embedded again, alone.
    let db = store::Sqlite::open(&store::sqlite_path(dir.path()), &dataset::SQLITE_SCHEMA)
        .await
        .unwrap();
    sqlx::query("UPDATE documents SET body = body || ' Reviewed again.' WHERE id = 1")
        .execute(db.pool())
        .await
        .unwrap();
    let (_stores, said) = open(&s).await;
    let after = fake.requests();
    assert_eq!(after.len(), asked + 1);
    assert_eq!(after.last().unwrap().inputs(), 1);
    assert!(
        said[0].starts_with("embedded 1 document with fake-bow"),
        "{said:?}"
    );
}

#[tokio::test]
async fn an_embeddings_server_down_at_start_leaves_bm25_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEmbeddings::start(&[]).await;
    fake.fail_next(401, &[], "invalid api key");
    let (stores, said) = open(&embedded(dir.path(), &fake)).await;
    assert_eq!(stores.documents.backend(), "bm25");
    assert!(
        said.iter().any(
            |m| m.starts_with("warning: document search ranks by words alone (BM25)")
                && m.contains("invalid api key (check EMBEDDING_API_KEY)")
        ),
        "{said:?}"
    );
}

// ── PostgreSQL + pgvector ─────────────────────────────────────────────────────────────

/// The environment's PostgreSQL on this test's own database, created when missing.
async fn pg_settings(dir: &Path, fake: &FakeEmbeddings, extra: &[(&str, &str)]) -> Settings {
    let vars = extra
        .iter()
        .fold(embedded_vars(dir, fake), |v, (k, val)| v.set(k, *val));
    own_database(vars, PG_DATABASE).await
}

/// `vars` with the environment's PostgreSQL on the database `name`, created when missing.
pub(super) async fn own_database(vars: Vars, name: &str) -> Settings {
    let s = vars
        .env_of(&["POSTGRES_"])
        .set("POSTGRES_DATABASE", name)
        .settings();
    let pg = s.postgres.clone().unwrap();
    let admin = sqlx::PgPool::connect(&pg.url().replace(&format!("/{name}?"), "/postgres?"))
        .await
        .unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
    }
    s
}

/// The type of the vectors' column, as `vector(DIMENSIONS)`.
async fn embedding_column(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'document_embeddings'::regclass AND attname = 'embedding'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn pgvector_search_is_hybrid_with_full_text_on_real_postgres() {
    let Some(_servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEmbeddings::start(&[("outage", "postmortem")]).await;
    let s = pg_settings(dir.path(), &fake, &[]).await;
    let pool = sqlx::PgPool::connect(&s.postgres.as_ref().unwrap().url())
        .await
        .unwrap();
    // Start from no vectors (a former run left some).
    let _ = sqlx::query("DROP TABLE IF EXISTS document_embeddings")
        .execute(&pool)
        .await;

    let (stores, said) = open(&s).await;
    assert_eq!(stores.documents.backend(), "pgvector");
    let documents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        fake.requests().iter().map(|r| r.inputs()).sum::<usize>(),
        documents as usize
    );
    assert!(
        said.iter().any(|m| m
            .starts_with(&format!("embedded {documents} documents with fake-bow"))
            && m.ends_with("(vectors kept in PostgreSQL (pgvector))")),
        "{said:?}"
    );
    // The table took the model's dimension, with an HNSW index for cosine distance.
    let column = embedding_column(&pool).await;
    assert_eq!(column, format!("vector({})", fake_embeddings::DIMS));
    let index: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'document_embeddings_hnsw'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        index.contains("USING hnsw (embedding vector_cosine_ops)"),
        "{index}"
    );
    // The planner can answer a nearest-neighbour query from it.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let probe = format!("[{}]", vec!["0.5"; fake_embeddings::DIMS].join(","));
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT document_id FROM document_embeddings ORDER BY embedding <=> '{probe}' LIMIT 5"
    )))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.join("\n").contains("document_embeddings_hnsw"),
        "{plan:?}"
    );
    drop(conn);

    // By meaning: no document has the word, full-text search finds none.
    let by_words: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM documents WHERE to_tsvector('english', title || ' ' || body) @@ websearch_to_tsquery('english', 'outage')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(by_words, 0);
    let any = DocFilter::default();
    let hits = stores.documents.search("outage", &any, 3).await.unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .all(|h| h.kind == "postmortem" && h.found_by == Some(Match::Vector)),
        "{hits:?}"
    );
    // By words and meaning, with the kind filter loosely spelled.
    let runbooks = DocFilter {
        kind: Some("Runbooks".into()),
        ..Default::default()
    };
    let hits = stores
        .documents
        .search("payments-api runbook", &runbooks, 5)
        .await
        .unwrap();
    assert!(hits.iter().all(|h| h.kind == "runbook"), "{hits:?}");
    assert_eq!(hits[0].title, "Runbook: payments-api");
    assert_eq!(hits[0].found_by, Some(Match::Both));
    assert!(!hits[0].snippet.is_empty());
    // Team filter, case-insensitively.
    let team = DocFilter {
        team: Some("payments".into()),
        ..Default::default()
    };
    let hits = stores
        .documents
        .search("deploy rollback", &team, 20)
        .await
        .unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter().all(|h| h.team.as_deref() == Some("Payments")),
        "{hits:?}"
    );
    // No query words: newest first.
    let listed = stores.documents.search("the", &runbooks, 3).await.unwrap();
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    assert!(
        listed
            .iter()
            .all(|h| h.kind == "runbook" && h.found_by.is_none())
    );
    // The same answers through the tool runner's path: health pings it.
    let health = stores.health().await;
    assert!(
        health.iter().any(|(n, r)| n == "pgvector" && r.is_ok()),
        "{health:?}"
    );
    drop(stores);

    // The table is the cache: a restart embeds nothing.
    let asked = fake.requests().len();
    let (_stores, said) = open(&s).await;
    assert_eq!(fake.requests().len(), asked);
    assert!(said.is_empty(), "{said:?}");

    // Another dimension (another setup of the model): the table is rebuilt to fit it.
    let s64 = pg_settings(dir.path(), &fake, &[("EMBEDDING_DIMENSIONS", "64")]).await;
    let (stores, _) = open(&s64).await;
    let column = embedding_column(&pool).await;
    assert_eq!(column, "vector(64)");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM document_embeddings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, documents);
    let hits = stores.documents.search("outage", &any, 1).await.unwrap();
    assert_eq!(hits[0].kind, "postmortem");
}

/// `eng-intel seed` embeds the documents and keeps their vectors: the server that opens the
/// data dir afterwards sends no embedding request for them.
#[tokio::test]
async fn seed_embeds_the_documents_once_for_the_server() {
    let fake = FakeEmbeddings::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["seed", "--data-dir"])
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("EMBEDDING_BASE_URL", fake.openai_url())
        .env("EMBEDDING_MODEL", "fake-bow")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("embedded 50 documents with fake-bow"),
        "{stdout}"
    );
    let at_seed = fake.requests().len();
    assert!(at_seed >= 1);
    let s = embedded(dir.path(), &fake);
    let said = Mutex::new(Vec::new());
    dataset::open(&s, &|m| said.lock().unwrap().push(m.to_string()))
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), at_seed, "nothing embedded again");
    assert!(
        said.lock().unwrap().is_empty(),
        "{:?}",
        said.lock().unwrap()
    );
}
