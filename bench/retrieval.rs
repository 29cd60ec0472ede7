//! Document search with the local embedder (all-MiniLM-L6-v2 on the CPU): recall@5 of BM25
//! alone and of hybrid search on the questions of bench/retrieval/questions.yaml, query
//! latency (embedding a query; a whole hybrid search; a BM25 search) and indexing
//! throughput (documents embedded per second). Needs the model in MODELS_DIR (default
//! data/models): `eng-intel models fetch`.
//!
//! ```sh
//! MODELS_DIR=/var/tmp/eng-intel-models cargo bench --bench retrieval
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use eng_intel::dataset;
use eng_intel::embed::fetch::{self, MINILM};
use eng_intel::embed::{Embedder, InputKind, LocalEmbedder};
use eng_intel::settings::Settings;
use eng_intel::store::{Bm25Index, DocFilter, Documents, HybridIndex, Params, passage};

#[path = "retrieval/eval.rs"]
mod eval;

/// Timed passes over the corpus, and over the questions.
const INDEX_RUNS: usize = 5;
const QUERY_RUNS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = fetch::model_dir(&Settings::from_env().models_dir(), &MINILM);
    let started = Instant::now();
    let embedder = match LocalEmbedder::load(&dir, MINILM.name) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!(
                "{}; `eng-intel models fetch` puts the model there",
                e.message
            );
            std::process::exit(2);
        }
    };
    println!("model loaded in {:.2} s", started.elapsed().as_secs_f64());
    let data = tempfile::tempdir().unwrap();
    let s = Settings::from_lookup(|k| (k == "DATA_DIR").then(|| data.path().display().to_string()));
    let stores = dataset::open(&s, &|_| {}).await.unwrap();
    let relational = stores.relational.as_ref();

    // Indexing: every document's title and body embedded as a passage, nothing cached.
    let rows = relational
        .query("SELECT title, body FROM documents", &Params::new())
        .await
        .unwrap();
    let passages: Vec<String> = rows
        .iter()
        .map(|r| passage(r["title"].as_str().unwrap(), r["body"].as_str().unwrap()))
        .collect();
    let mut rates = Vec::new();
    for _ in 0..INDEX_RUNS {
        let t = Instant::now();
        embedder.embed(&passages, InputKind::Passage).await.unwrap();
        rates.push(passages.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "indexing: {} documents, median {:.1} documents/s over {INDEX_RUNS} runs (min {:.1}, max {:.1})",
        passages.len(),
        median(&mut rates.clone()),
        rates.iter().copied().fold(f64::MAX, f64::min),
        rates.iter().copied().fold(0.0, f64::max),
    );

    let mut questions = Vec::new();
    for q in eval::questions() {
        let relevant = eval::relevant(relational, &q).await;
        questions.push((q, relevant));
    }
    let bm25 = Bm25Index::build(relational).await.unwrap();
    let text = Bm25Index::build(relational).await.unwrap();
    let (hybrid, _) = HybridIndex::build(text, embedder.clone(), None)
        .await
        .unwrap();

    let words = eval::recalls(&bm25, &questions).await;
    let meaning = eval::recalls(&hybrid, &questions).await;
    println!(
        "recall@{} over {} questions: BM25 {:.3}, hybrid {:.3}",
        eval::K,
        questions.len(),
        eval::mean(&words),
        eval::mean(&meaning)
    );
    let (won, lost) = words.iter().zip(&meaning).fold((0, 0), |(w, l), (a, b)| {
        (w + usize::from(b > a), l + usize::from(b < a))
    });
    println!("hybrid better on {won} questions, worse on {lost}");
    if std::env::var_os("RETRIEVAL_VERBOSE").is_some() {
        for ((q, _), (a, b)) in questions.iter().zip(words.iter().zip(&meaning)) {
            println!("  {a:.2} → {b:.2}  {}", q.q);
        }
    }

    // Latency, sequential, over every question QUERY_RUNS times.
    let texts: Vec<&str> = questions.iter().map(|(q, _)| q.q.as_str()).collect();
    let mut embed_ms = Vec::new();
    let mut hybrid_ms = Vec::new();
    let mut bm25_ms = Vec::new();
    let f = DocFilter::default();
    for _ in 0..QUERY_RUNS {
        for q in &texts {
            embed_ms.push(timed(embedder.embed_query(q, 384)).await);
            hybrid_ms.push(timed(hybrid.search(q, &f, 5)).await);
            bm25_ms.push(timed(bm25.search(q, &f, 5)).await);
        }
    }
    for (what, xs) in [
        ("embed a query", &mut embed_ms),
        ("hybrid search", &mut hybrid_ms),
        ("BM25 search", &mut bm25_ms),
    ] {
        let p50 = median(xs);
        xs.sort_by(f64::total_cmp);
        let p99 = xs[(xs.len() * 99 / 100).min(xs.len() - 1)];
        println!(
            "{what}: p50 {p50:.2} ms, p99 {p99:.2} ms ({} queries)",
            xs.len()
        );
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> f64 {
    let t = Instant::now();
    std::hint::black_box(f.await);
    ms(t.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
