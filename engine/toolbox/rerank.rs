//! `rerank_passages`, the RAG pipeline's second step: retrieval casts a wide net (BM25,
//! or BM25 fused with vectors); the reranker reads each candidate's title and best
//! passage against the question and keeps the few that cover it best, numbered for
//! citation.
//!
//! The score is lexical and deterministic: the share of the question's distinct terms the
//! title and passage contain (title terms count double), with the retrieval rank as the
//! tie-breaker, so that a document matching every term once beats one repeating a
//! single term. Passages covering none of the question's subject words, or under half
//! the best one's score, are dropped.

use serde_json::{Value, json};

use crate::store::{Params, StoreError, tokens};

/// Words of the question's form, not its subject: a passage matching only these is no match.
const QUESTION_WORDS: [&str; 16] = [
    "what", "how", "who", "which", "when", "where", "why", "do", "does", "did", "can", "i", "you",
    "my", "me", "there",
];

pub fn rerank(p: &Params) -> Result<Value, StoreError> {
    let query = p.get("query").and_then(Value::as_str).unwrap_or_default();
    let top = p.get("top").and_then(Value::as_u64).unwrap_or(4) as usize;
    let docs = match p.get("documents") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => serde_json::from_str::<Vec<Value>>(s).map_err(|e| {
            StoreError::query(format!("documents is not a JSON list of search hits: {e}"))
        })?,
        _ => vec![],
    };
    let mut terms: Vec<String> = tokens(query)
        .into_iter()
        .filter(|t| !QUESTION_WORDS.contains(&t.as_str()))
        .collect();
    terms.sort();
    terms.dedup();
    let text = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut scored: Vec<(f64, usize, Value)> = docs
        .into_iter()
        .enumerate()
        .map(|(rank, d)| {
            let title = tokens(&text(&d, "title"));
            let passage = tokens(&text(&d, "snippet"));
            let covered = |words: &[String]| terms.iter().filter(|t| words.contains(t)).count();
            let score = if terms.is_empty() {
                0.0
            } else {
                (2.0 * covered(&title) as f64 + covered(&passage) as f64)
                    / (3.0 * terms.len() as f64)
            };
            (score, rank, d)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    // Passages far behind the best one only add noise to the answer.
    let floor = scored.first().map_or(0.0, |s| s.0 / 2.0);
    Ok(Value::Array(
        scored
            .into_iter()
            .filter(|s| s.0 > 0.0 && s.0 >= floor)
            .take(top)
            .enumerate()
            .map(|(i, (score, rank, mut d))| {
                if let Some(o) = d.as_object_mut() {
                    o.insert("cite".into(), json!(i + 1));
                    o.insert("relevance".into(), json!((score * 1000.0).round() / 1000.0));
                    o.insert("retrieval_rank".into(), json!(rank + 1));
                }
                d
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(title: &str, snippet: &str) -> Value {
        json!({ "title": title, "snippet": snippet })
    }

    #[test]
    fn covering_the_question_beats_repeating_one_term() {
        let mut p = Params::new();
        p.insert("query".into(), json!("ledger rollback runbook"));
        p.insert(
            "documents".into(),
            json!([
                hit(
                    "Ledger design",
                    "The ledger stores ledger entries in the ledger."
                ),
                hit("Ledger rollback runbook", "Roll back the ledger service."),
            ]),
        );
        let out = rerank(&p).unwrap();
        assert_eq!(out[0]["title"], "Ledger rollback runbook");
        assert_eq!(out[0]["cite"], 1);
        assert_eq!(out[0]["retrieval_rank"], 2);
        // The other covers one term of three: under half the best, so it is dropped.
        assert_eq!(out.as_array().unwrap().len(), 1);
    }
}
