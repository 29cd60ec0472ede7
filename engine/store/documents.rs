//! The embedded document store: an in-process BM25 index over the documents table
//! (title counted twice, so a title match outranks a passing mention). `hybrid` fuses its
//! ranking with vector similarity when embeddings are configured.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::Value;

use super::contract::{DocFilter, DocHit, Documents, Params, QueryStore, Row, StoreError};

const K1: f64 = 1.2;
const B: f64 = 0.75;
const STOP: [&str; 24] = [
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "is", "are", "be", "with", "by",
    "at", "it", "this", "that", "from", "as", "our", "we", "about",
];

struct Doc {
    hit: DocHit,
    body: String,
    len: f64,
}

pub struct Bm25Index {
    docs: Vec<Doc>,
    /// term → (doc index, term frequency)
    postings: HashMap<String, Vec<(usize, u32)>>,
    avg_len: f64,
}

/// Lower-case words with a plural "s" dropped; stop words removed.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.len() > 3 && !stem.ends_with('s') => stem.to_string(),
                _ => w,
            }
        })
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// The stored kind a loosely spelled one means.
pub fn normalise_kind(kind: &str) -> String {
    let k = kind.trim().to_lowercase().replace(['-', ' '], "_");
    let k = k.trim_end_matches('s');
    match k {
        "design" | "design_doc" | "design_document" | "doc" => "design_doc".into(),
        "postmortem" | "post_mortem" | "incident_report" => "postmortem".into(),
        "runbook" | "playbook" => "runbook".into(),
        // An import's notes of GitHub releases (the trailing "s" is gone by now).
        "release_note" | "release" | "changelog" => "release_notes".into(),
        k if k.starts_with("onboarding") => "onboarding".into(),
        other => other.into(),
    }
}

impl Bm25Index {
    pub async fn build(relational: &dyn QueryStore) -> Result<Bm25Index, StoreError> {
        let rows = relational
            .query(
                "SELECT d.id, d.kind, d.title, d.body, t.name AS team, s.name AS service, e.name AS author, d.created_at \
                 FROM documents d LEFT JOIN teams t ON t.id = d.team_id LEFT JOIN services s ON s.id = d.service_id \
                 JOIN employees e ON e.id = d.author_id ORDER BY d.id",
                &Params::new(),
            )
            .await?;
        let str_of = |r: &Row, k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let docs = rows
            .iter()
            .map(|r| {
                let hit = DocHit {
                    id: r.get("id").and_then(Value::as_i64).unwrap_or_default(),
                    kind: str_of(r, "kind").unwrap_or_default(),
                    title: str_of(r, "title").unwrap_or_default(),
                    team: str_of(r, "team"),
                    service: str_of(r, "service"),
                    author: str_of(r, "author").unwrap_or_default(),
                    created_at: str_of(r, "created_at").unwrap_or_default(),
                    score: 0.0,
                    snippet: String::new(),
                    found_by: None,
                };
                (hit, str_of(r, "body").unwrap_or_default())
            })
            .collect();
        Ok(Bm25Index::new(docs))
    }

    /// Indexes documents given as (metadata, body).
    pub fn new(docs: Vec<(DocHit, String)>) -> Bm25Index {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut out = Vec::with_capacity(docs.len());
        for (i, (hit, body)) in docs.into_iter().enumerate() {
            let mut terms = tokens(&hit.title);
            terms.extend(tokens(&hit.title));
            terms.extend(tokens(&body));
            let mut tf: HashMap<String, u32> = HashMap::new();
            for t in &terms {
                *tf.entry(t.clone()).or_default() += 1;
            }
            for (t, n) in tf {
                postings.entry(t).or_default().push((i, n));
            }
            out.push(Doc {
                hit,
                body,
                len: terms.len() as f64,
            });
        }
        let avg_len = if out.is_empty() {
            1.0
        } else {
            out.iter().map(|d| d.len).sum::<f64>() / out.len() as f64
        };
        Bm25Index {
            docs: out,
            postings,
            avg_len,
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn search_sync(&self, query: &str, filter: &DocFilter, limit: usize) -> Vec<DocHit> {
        let terms = tokens(query);
        // A kind filter with no query words lists that kind, newest first.
        if terms.is_empty() {
            return self.newest(filter, limit);
        }
        self.ranked(&terms, filter, limit)
            .into_iter()
            .map(|(i, s)| self.hit(i, s, &terms))
            .collect()
    }

    /// The documents `filter` keeps, newest first.
    pub(super) fn newest(&self, filter: &DocFilter, limit: usize) -> Vec<DocHit> {
        let mut all = self.kept(filter);
        all.sort_by(|a, b| {
            self.docs[*b]
                .hit
                .created_at
                .cmp(&self.docs[*a].hit.created_at)
        });
        all.into_iter()
            .take(limit)
            .map(|i| self.hit(i, 0.0, &[]))
            .collect()
    }

    /// The best `limit` documents for `terms` that `filter` keeps: (index, BM25 score).
    pub(super) fn ranked(
        &self,
        terms: &[String],
        filter: &DocFilter,
        limit: usize,
    ) -> Vec<(usize, f64)> {
        let filter = filter.normalised();
        let n = self.docs.len() as f64;
        let mut scores: HashMap<usize, f64> = HashMap::new();
        for t in terms {
            let Some(list) = self.postings.get(t) else {
                continue;
            };
            let idf = ((n - list.len() as f64 + 0.5) / (list.len() as f64 + 0.5) + 1.0).ln();
            for &(i, tf) in list {
                let d = &self.docs[i];
                if !filter.keeps(&d.hit) {
                    continue;
                }
                let tf = f64::from(tf);
                *scores.entry(i).or_default() +=
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * d.len / self.avg_len));
            }
        }
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }

    /// The indices of the documents `filter` keeps.
    pub(super) fn kept(&self, filter: &DocFilter) -> Vec<usize> {
        let filter = filter.normalised();
        (0..self.docs.len())
            .filter(|&i| filter.keeps(&self.docs[i].hit))
            .collect()
    }

    /// The text a document is embedded from: its title, then its body.
    pub(super) fn passage(&self, i: usize) -> String {
        let d = &self.docs[i];
        passage(&d.hit.title, &d.body)
    }

    /// Document `i` as a hit with `score` and the snippet that best matches `terms`.
    pub(super) fn hit(&self, i: usize, score: f64, terms: &[String]) -> DocHit {
        let d = &self.docs[i];
        DocHit {
            score: (score * 1000.0).round() / 1000.0,
            snippet: snippet(&d.body, terms),
            ..d.hit.clone()
        }
    }
}

impl DocFilter {
    /// The same filter with its kind spelled as stored.
    pub fn normalised(&self) -> DocFilter {
        DocFilter {
            kind: self.kind.as_deref().map(normalise_kind),
            ..self.clone()
        }
    }

    /// Whether a document passes (kind as stored, team and service case-insensitively).
    fn keeps(&self, hit: &DocHit) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_deref()
                .is_none_or(|w| have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        self.kind.as_deref().is_none_or(|k| hit.kind == k)
            && same(&self.team, &hit.team)
            && same(&self.service, &hit.service)
    }
}

/// The text a document is embedded from (and hashed for the embedding cache).
pub fn passage(title: &str, body: &str) -> String {
    format!("{title}\n\n{body}")
}

/// The sentence of `body` holding most of `terms` (the earliest of equals), at most 240
/// characters.
pub fn snippet(body: &str, terms: &[String]) -> String {
    let best = body
        .split_inclusive(". ")
        .enumerate()
        .max_by_key(|(i, s)| {
            let words = tokens(s);
            (
                terms.iter().filter(|t| words.contains(t)).count(),
                std::cmp::Reverse(*i),
            )
        })
        .map_or("", |(_, s)| s);
    let mut snippet: String = best.trim().chars().take(240).collect();
    if best.trim().chars().count() > 240 {
        snippet.push('…');
    }
    snippet
}

#[async_trait]
impl Documents for Bm25Index {
    fn backend(&self) -> &'static str {
        "bm25"
    }

    async fn search(
        &self,
        query: &str,
        filter: &DocFilter,
        limit: usize,
    ) -> Result<Vec<DocHit>, StoreError> {
        Ok(self.search_sync(query, filter, limit))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn ranks_by_bm25_and_filters_by_kind() {
        let idx = Bm25Index::new(vec![
            doc(
                1,
                "runbook",
                "Runbook: ledger-service",
                "Restart the ledger. Check balances.",
            ),
            doc(
                2,
                "design_doc",
                "Design: payments-api",
                "Payments call the ledger service for balances.",
            ),
            doc(
                3,
                "runbook",
                "Runbook: payments-api",
                "Roll back payments deployments. Page the on-call.",
            ),
        ]);
        let hits = idx.search_sync("ledger", &DocFilter::default(), 5);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [1, 2]);
        assert!(hits[0].score > hits[1].score);
        let runbooks = idx.search_sync(
            "payments",
            &DocFilter {
                kind: Some("Runbooks".into()),
                ..Default::default()
            },
            5,
        );
        assert_eq!(runbooks.iter().map(|h| h.id).collect::<Vec<_>>(), [3]);
        assert_eq!(runbooks[0].snippet, "Roll back payments deployments.");
        assert!(
            idx.search_sync("kubernetes", &DocFilter::default(), 5)
                .is_empty()
        );
        // No query words: the kind's documents, newest first.
        let all = idx.search_sync(
            "the",
            &DocFilter {
                kind: Some("runbook".into()),
                ..Default::default()
            },
            5,
        );
        assert_eq!(all.iter().map(|h| h.id).collect::<Vec<_>>(), [3, 1]);
    }

    #[test]
    fn tokens_and_kinds() {
        assert_eq!(
            tokens("The Runbooks for payments-api"),
            ["runbook", "payment", "api"]
        );
        assert_eq!(normalise_kind("design docs"), "design_doc");
        assert_eq!(normalise_kind("Post-mortems"), "postmortem");
        assert_eq!(normalise_kind("onboarding guide"), "onboarding");
        assert_eq!(normalise_kind("release_notes"), "release_notes");
        assert_eq!(normalise_kind("Release notes"), "release_notes");
    }
}
