//! From candidates to hits: fusing the legs' rankings, blending in the
//! user's preferences, and taking the top k.

use std::collections::HashMap;

use proxima_hybrid::UserProfile;

use super::legs::Candidate;
use super::request::{QueryHit, ScoreParts};

/// Reciprocal rank fusion's constant: the usual 60, so a rank-1 hit in one
/// list does not outweigh good ranks in both.
const RRF_K: f64 = 60.0;

/// A candidate and its relevance before preferences.
pub(crate) type Scored = (Candidate, f64);

/// Relevance = the vector score.
pub(crate) fn by_vector(candidates: Vec<Candidate>) -> Vec<Scored> {
    candidates.into_iter().map(|c| (f64::from(c.vector.unwrap_or(f32::MIN)), c)).map(|(s, c)| (c, s)).collect()
}

/// Relevance = the path score.
pub(crate) fn by_graph(candidates: Vec<Candidate>) -> Vec<Scored> {
    candidates.into_iter().map(|c| (c.graph.unwrap_or(0.0), c)).map(|(s, c)| (c, s)).collect()
}

/// Relevance = Σ 1 / (60 + rank) over the rankings the candidate is in.
pub(crate) fn rrf(vector: Vec<Candidate>, graph: Vec<Candidate>) -> Vec<Scored> {
    let mut merged = merge(vector, graph);
    for (candidate, score) in &mut merged {
        *score =
            [candidate.vector_rank, candidate.graph_rank].iter().flatten().map(|r| 1.0 / (RRF_K + *r as f64)).sum();
    }
    merged.into_iter().map(|(m, s)| (m.candidate, s)).collect()
}

/// Relevance = (1 − w) × vector scaled to 0..=1 among the candidates + w × path score.
pub(crate) fn weighted(vector: Vec<Candidate>, graph: Vec<Candidate>, graph_weight: f32) -> Vec<Scored> {
    let merged = merge(vector, graph);
    let scale = MinMax::of(merged.iter().filter_map(|(m, _)| m.candidate.vector.map(f64::from)));
    merged
        .into_iter()
        .map(|(m, _)| {
            let score = blend_graph(&m.candidate, &scale, graph_weight);
            (m.candidate, score)
        })
        .collect()
}

/// `hybrid_sequential`: the vector's order, raised for hits linked to an anchor.
pub(crate) fn sequential(candidates: Vec<Candidate>, graph_weight: f32) -> Vec<Scored> {
    let scale = MinMax::of(candidates.iter().filter_map(|c| c.vector.map(f64::from)));
    candidates
        .into_iter()
        .map(|c| {
            let score = blend_graph(&c, &scale, graph_weight);
            (c, score)
        })
        .collect()
}

fn blend_graph(c: &Candidate, vector_scale: &MinMax, graph_weight: f32) -> f64 {
    let w = f64::from(graph_weight);
    let vector = c.vector.map_or(0.0, |v| vector_scale.scale(f64::from(v)));
    (1.0 - w) * vector + w * c.graph.unwrap_or(0.0)
}

/// The top `k` by relevance, blended with the user's preference score when a
/// profile is given: `(1 − blend) × relevance scaled to 0..=1 + blend × preference`.
pub(crate) fn top_k(
    scored: Vec<Scored>,
    profile: Option<&UserProfile>,
    now_ms: u64,
    k: usize,
    include_metadata: bool,
) -> Vec<QueryHit> {
    let scale = MinMax::of(scored.iter().map(|(_, s)| *s));
    let mut hits: Vec<QueryHit> = scored
        .into_iter()
        .map(|(c, relevance)| {
            let (score, policy) = match profile {
                Some(profile) => {
                    let preference = c.metadata.as_ref().map_or(0.0, |m| profile.preference(m, now_ms));
                    let blend = f64::from(profile.policy.blend);
                    ((1.0 - blend) * scale.scale(relevance) + blend * preference, Some(preference))
                }
                None => (relevance, None),
            };
            QueryHit {
                id: c.id,
                score,
                components: ScoreParts { vector: c.vector, graph: c.graph, policy },
                related: c.related,
                metadata: if include_metadata { c.metadata } else { None },
            }
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    hits.truncate(k);
    hits
}

/// A candidate with its rank (1-based) in each leg.
struct Merged {
    candidate: Candidate,
    vector_rank: Option<usize>,
    graph_rank: Option<usize>,
}

fn merge(vector: Vec<Candidate>, graph: Vec<Candidate>) -> Vec<(Merged, f64)> {
    let mut merged: Vec<(Merged, f64)> = Vec::with_capacity(vector.len() + graph.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for (rank, c) in vector.into_iter().enumerate() {
        at.insert(c.id.clone(), merged.len());
        merged.push((Merged { candidate: c, vector_rank: Some(rank + 1), graph_rank: None }, 0.0));
    }
    for (rank, c) in graph.into_iter().enumerate() {
        match at.get(&c.id) {
            Some(&i) => {
                let m = &mut merged[i].0;
                m.graph_rank = Some(rank + 1);
                m.candidate.graph = c.graph;
            }
            None => merged.push((Merged { candidate: c, vector_rank: None, graph_rank: Some(rank + 1) }, 0.0)),
        }
    }
    merged
}

/// Scales values to 0..=1 by the smallest and largest among them (all equal: 1).
struct MinMax {
    low: f64,
    high: f64,
}

impl MinMax {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        values.fold(Self { low: f64::INFINITY, high: f64::NEG_INFINITY }, |m, v| Self {
            low: m.low.min(v),
            high: m.high.max(v),
        })
    }

    fn scale(&self, v: f64) -> f64 {
        if self.high > self.low { (v - self.low) / (self.high - self.low) } else { 1.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, vector: Option<f32>, graph: Option<f64>) -> Candidate {
        Candidate { id: id.into(), vector, graph, ..Candidate::default() }
    }

    #[test]
    fn rrf_rewards_agreement() {
        let vector = vec![c("a", Some(0.9), None), c("b", Some(0.8), None)];
        let graph = vec![c("b", None, Some(0.5)), c("z", None, Some(0.4))];
        let hits = top_k(rrf(vector, graph), None, 0, 3, false);
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "z"]);
        assert_eq!(hits[0].components, ScoreParts { vector: Some(0.8), graph: Some(0.5), policy: None });
        assert!((hits[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-12);
    }

    #[test]
    fn weighted_and_sequential_scale_the_vector() {
        let vector = vec![c("a", Some(0.9), None), c("b", Some(0.5), None)];
        let graph = vec![c("b", None, Some(1.0))];
        let hits = top_k(weighted(vector.clone(), graph, 0.6), None, 0, 2, false);
        assert_eq!(hits[0].id, "b", "0.4 * 0 + 0.6 * 1 beats 0.4 * 1");
        let linked = vec![c("a", Some(0.9), None), c("b", Some(0.5), Some(1.0))];
        assert_eq!(top_k(sequential(linked, 0.0), None, 0, 1, false)[0].id, "a");
    }
}
