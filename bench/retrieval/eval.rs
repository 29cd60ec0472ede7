//! Recall@5 of document search on the questions of `questions.yaml`, phrased without the
//! documents' words, each with its relevant documents read from the data by SQL. Shared
//! by the retrieval bench (bench/retrieval.rs) and the real-model test
//! (tests/it/models/real_minilm.rs).

use eng_intel::store::{DocFilter, Documents, Params, QueryStore};

pub const K: usize = 5;

#[derive(Debug, serde::Deserialize)]
pub struct Question {
    pub q: String,
    /// An SQL condition over documents `d`, teams `t` and services `s`.
    pub relevant: String,
}

pub fn questions() -> Vec<Question> {
    serde_yaml::from_str(include_str!("questions.yaml")).expect("questions.yaml")
}

/// The ids of the documents that `q.relevant` selects; a question must have some.
pub async fn relevant(store: &dyn QueryStore, q: &Question) -> Vec<i64> {
    let sql = format!(
        "SELECT d.id AS id FROM documents d LEFT JOIN teams t ON t.id = d.team_id \
         LEFT JOIN services s ON s.id = d.service_id WHERE {}",
        q.relevant
    );
    let rows = store.query(&sql, &Params::new()).await.expect(&sql);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(!ids.is_empty(), "no relevant document for {:?}", q.q);
    ids
}

/// Each question's recall@K: the share of its relevant documents (at most K of them
/// count) among the first K hits.
pub async fn recalls(docs: &dyn Documents, questions: &[(Question, Vec<i64>)]) -> Vec<f64> {
    let mut out = Vec::new();
    for (q, relevant) in questions {
        let hits = docs.search(&q.q, &DocFilter::default(), K).await.unwrap();
        let found = hits.iter().filter(|h| relevant.contains(&h.id)).count();
        out.push(found as f64 / relevant.len().min(K) as f64);
    }
    out
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}
