//! Rank fusion for hybrid document search: BM25 (or full-text) and vector rankings
//! combined by reciprocal rank fusion, shared by the in-process index (`hybrid`) and
//! PostgreSQL with pgvector (`pgvector`).

use std::collections::HashMap;
use std::hash::Hash;

use super::contract::Match;

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
pub fn round_score(score: f64) -> f64 {
    (score * 100_000.0).round() / 100_000.0
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
