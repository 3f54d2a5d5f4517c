//! Merging per-segment (or per-engine) results into one ranking.

use ahash::AHashMap;
use proxima_engine::Tombstone;

/// One result before merging.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The record id.
    pub id: String,
    /// The version's sequence number.
    pub seq: u64,
    /// Higher is closer.
    pub score: f32,
    /// Where the row lives: (segment position in the view, row), for fetching vectors and metadata.
    pub origin: (usize, u32),
}

/// The top `k` of `candidates`: one per id (the highest sequence wins, even
/// over a closer but older version), none hidden by a tombstone at a later
/// sequence, best score first (ties by id, so results are deterministic).
pub fn merge_candidates(candidates: Vec<Candidate>, tombstones: &[Tombstone], k: usize) -> Vec<Candidate> {
    let hidden: AHashMap<&str, u64> = tombstones.iter().map(|t| (t.id.as_str(), t.seq)).collect();
    let mut newest: AHashMap<String, Candidate> = AHashMap::with_capacity(candidates.len());
    for c in candidates {
        if hidden.get(c.id.as_str()).is_some_and(|&seq| seq >= c.seq) {
            continue;
        }
        match newest.get_mut(&c.id) {
            Some(held) if held.seq >= c.seq => {}
            Some(held) => *held = c,
            None => {
                newest.insert(c.id.clone(), c);
            }
        }
    }
    let mut out: Vec<Candidate> = newest.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    out.truncate(k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, seq: u64, score: f32) -> Candidate {
        Candidate { id: id.into(), seq, score, origin: (0, 0) }
    }

    #[test]
    fn newest_version_wins_and_tombstones_hide_older_ones() {
        let merged = merge_candidates(
            vec![c("a", 1, 0.9), c("a", 5, 0.1), c("b", 2, 0.5), c("d", 9, 0.7), c("c", 3, 0.8)],
            &[Tombstone { id: "c".into(), seq: 4 }, Tombstone { id: "d".into(), seq: 8 }],
            3,
        );
        let got: Vec<(&str, u64)> = merged.iter().map(|m| (m.id.as_str(), m.seq)).collect();
        // a@1 lost to a@5 despite its better score; c is deleted after seq 3; d was re-written after its delete.
        assert_eq!(got, vec![("d", 9), ("b", 2), ("a", 5)]);
    }
}
