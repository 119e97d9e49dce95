//! Reciprocal rank fusion: each ranking gives a memory `1 / (K + rank)`; the sums order the
//! results. It needs no calibration between full-text scores and cosines, and a memory both
//! rankings place high beats one that only one of them found.

use std::collections::HashMap;

/// Damps the difference between neighbouring ranks (the value the method was published with).
const K: f64 = 60.0;

/// Fuses rankings of ids (best first) into `(id, score)`, best first, with scores scaled so
/// that first place in every ranking is 1.0. Ties keep the order of the first ranking in which
/// the ids appear.
pub fn fuse(rankings: &[Vec<String>]) -> Vec<(String, f64)> {
    let used = rankings.iter().filter(|r| !r.is_empty()).count();
    if used == 0 {
        return Vec::new();
    }
    let mut scores: HashMap<&str, (f64, usize)> = HashMap::new();
    let mut order = 0usize;
    for ranking in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            let entry = scores.entry(id.as_str()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (K + rank as f64 + 1.0);
        }
    }
    let best = used as f64 / (K + 1.0);
    let mut fused: Vec<(String, f64, usize)> = scores
        .into_iter()
        .map(|(id, (score, first))| (id.to_owned(), score / best, first))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(id, score, _)| (id, score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fuse;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn agreement_beats_a_single_first_place() {
        let fused = fuse(&[ids(&["a", "b", "c"]), ids(&["b", "d"])]);
        let order: Vec<&str> = fused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(order, vec!["b", "a", "d", "c"]);
        assert!(fused[0].1 < 1.0 && fused[0].1 > 0.9);
    }

    #[test]
    fn one_ranking_keeps_its_order_and_first_place_scores_one() {
        let fused = fuse(&[ids(&["x", "y"]), Vec::new()]);
        assert_eq!(fused[0], ("x".to_owned(), 1.0));
        assert_eq!(fused[1].0, "y");
        assert!(fuse(&[Vec::new(), Vec::new()]).is_empty());
    }
}
