//! The real all-MiniLM-L6-v2, as `eng-intel models fetch` leaves it in the models dir
//! named by `TEST_MODELS_DIR` (.ci/run fetches it into a cache outside the clone and sets
//! it; skipped visibly when unset, failing under CI): its files have the pinned digests,
//! it ranks a paraphrase above an unrelated text, and hybrid search beats BM25 alone on the
//! retrieval questions of bench/retrieval (recall@5).

use std::path::PathBuf;

use eng_intel::embed::fetch::{self, MINILM};
use eng_intel::embed::{Embedder, InputKind, LocalEmbedder, dot};
use eng_intel::store::{Bm25Index, HybridIndex};

use crate::support::{demo_stores, env, skip};

#[path = "../../../bench/retrieval/eval.rs"]
mod eval;

/// The model's directory, or None (skipped) when `TEST_MODELS_DIR` is unset.
fn model_dir() -> Option<PathBuf> {
    let Some(models) = env("TEST_MODELS_DIR") else {
        skip(
            "TEST_MODELS_DIR is not set (MODELS_DIR=DIR eng-intel models fetch, then TEST_MODELS_DIR=DIR)",
        );
        return None;
    };
    let dir = fetch::model_dir(std::path::Path::new(&models), &MINILM);
    fetch::verify_dir(&dir, &MINILM).expect("the model as pinned");
    Some(dir)
}

#[tokio::test]
async fn minilm_understands_paraphrases_and_makes_search_find_by_meaning() {
    let Some(dir) = model_dir() else { return };
    let e = LocalEmbedder::load(&dir, MINILM.name).unwrap();
    assert_eq!(e.dimensions(), Some(384));
    let texts: Vec<String> = [
        "docs about getting new hires up to speed",
        "Onboarding guide for engineers joining the team",
        "Rollback procedure for a failed production deployment",
    ]
    .map(String::from)
    .to_vec();
    let v = e.embed(&texts, InputKind::Passage).await.unwrap();
    let (near, far) = (dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    assert!(near > far + 0.2, "paraphrase {near:.3}, unrelated {far:.3}");

    let data = tempfile::tempdir().unwrap();
    let stores = demo_stores(data.path()).await.stores;
    let relational = stores.relational.as_ref();
    let mut questions = Vec::new();
    for q in eval::questions() {
        let relevant = eval::relevant(relational, &q).await;
        questions.push((q, relevant));
    }
    let bm25 = Bm25Index::build(relational).await.unwrap();
    let text = Bm25Index::build(relational).await.unwrap();
    let (hybrid, embedded) = HybridIndex::build(text, std::sync::Arc::new(e), None)
        .await
        .unwrap();
    assert!(embedded > 40, "{embedded} documents embedded");
    let words = eval::mean(&eval::recalls(&bm25, &questions).await);
    let meaning = eval::mean(&eval::recalls(&hybrid, &questions).await);
    eprintln!(
        "recall@5 over {} questions: BM25 {words:.3}, hybrid {meaning:.3}",
        questions.len()
    );
    assert!(
        meaning >= words + 0.25,
        "BM25 {words:.3}, hybrid {meaning:.3}"
    );
}
