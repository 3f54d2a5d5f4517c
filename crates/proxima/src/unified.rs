//! `unified_search`: one query sent concurrently to every engine holding part
//! of a collection, the answers merged into one ranking. An engine that fails
//! or runs out of time leaves the answer partial (and says so), not an error.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use proxima_core::{Error, Result, SearchHit, SearchRequest};
use proxima_search::{PerformanceInfo, SearchContext, SearchResponse};
use serde::{Deserialize, Serialize};

use crate::Proxima;

/// How per-engine rankings become one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// Each hit's score times its engine's weight (engines not named weigh 1).
    ScoreWeighted {
        /// Weight per engine name.
        #[serde(default)]
        weights: BTreeMap<String, f32>,
    },
    /// Reciprocal rank fusion: the sum over engines of `1 / (k + rank)`, rank from 1.
    ReciprocalRankFusion {
        /// The damping constant; 60 in the original paper.
        k: u32,
    },
    /// An id's best score over the engines that returned it.
    Max,
}

impl Default for MergeStrategy {
    fn default() -> Self {
        MergeStrategy::ScoreWeighted { weights: BTreeMap::new() }
    }
}

/// Where a search goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchStrategy {
    /// Only the collection's home engine (its only one unless partitioned).
    Single,
    /// Every engine holding part of the collection, concurrently.
    CrossEngine {
        /// How the rankings are merged.
        merge_strategy: MergeStrategy,
        /// Ask at most this many engines (in partition order); the rest are skipped.
        max_engines: Option<usize>,
        /// Give up on an engine after this long.
        timeout_ms: Option<u64>,
    },
}

impl Default for SearchStrategy {
    fn default() -> Self {
        SearchStrategy::CrossEngine { merge_strategy: MergeStrategy::default(), max_engines: None, timeout_ms: None }
    }
}

/// How one engine's part of a search went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum EngineOutcome {
    /// It answered.
    Answered {
        /// The engine.
        engine: String,
        /// Hits it returned.
        hits: usize,
        /// How long it took, milliseconds.
        took_ms: f64,
    },
    /// It did not answer within the timeout.
    TimedOut {
        /// The engine.
        engine: String,
    },
    /// It failed.
    Failed {
        /// The engine.
        engine: String,
        /// Why.
        error: String,
    },
    /// It was not asked (`max_engines`, or the `Single` strategy).
    Skipped {
        /// The engine.
        engine: String,
    },
}

/// The merged hits, and whether every engine holding the collection contributed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UnifiedSearchResponse {
    /// Hits, best first; `score` is the merged score.
    pub hits: Vec<SearchHit>,
    /// True when an engine holding part of the collection did not contribute.
    pub partial: bool,
    /// One entry per engine holding part of the collection.
    pub engines: Vec<EngineOutcome>,
    /// The engines' work added up (times: the slowest engine's).
    pub performance: PerformanceInfo,
}

impl Proxima {
    /// Searches every engine holding part of `collection` under `strategy`.
    /// Fails only when the request is invalid or no engine answered.
    pub async fn unified_search(
        &self,
        collection: &str,
        request: SearchRequest,
        strategy: &SearchStrategy,
    ) -> Result<UnifiedSearchResponse> {
        let engine_before = self.collection(collection).await?.engine;
        match self.unified_search_once(collection, request.clone(), strategy).await {
            // The collection moved to another engine between routing and reading: follow it once.
            Err(e)
                if e.kind() == proxima_core::ErrorKind::NotFound
                    && self.collection(collection).await.is_ok_and(|c| c.engine != engine_before) =>
            {
                self.unified_search_once(collection, request, strategy).await
            }
            other => other,
        }
    }

    async fn unified_search_once(
        &self,
        collection: &str,
        request: SearchRequest,
        strategy: &SearchStrategy,
    ) -> Result<UnifiedSearchResponse> {
        let (holders, config) = self.holders(collection).await?;
        proxima_core::validate::search_request(&request, &config)?;
        let (merge, max_engines, timeout) = match strategy {
            SearchStrategy::Single => (MergeStrategy::default(), 1, None),
            SearchStrategy::CrossEngine { merge_strategy, max_engines, timeout_ms } => (
                merge_strategy.clone(),
                max_engines.unwrap_or(usize::MAX).max(1),
                timeout_ms.map(Duration::from_millis),
            ),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (position, (name, engine)) in holders.iter().enumerate().take(max_engines) {
            let (name, engine, request) = (name.clone(), engine.clone(), request.clone());
            let (handler, collection) = (self.search_handler(), collection.to_string());
            tasks.spawn(async move {
                let started = Instant::now();
                let work = async {
                    let view = engine.read_view(&collection).await?;
                    // Ranking is CPU work; it keeps running after a timeout, but its answer is dropped.
                    tokio::task::spawn_blocking(move || handler.execute_search(&SearchContext::new(view, request)))
                        .await
                        .map_err(|e| Error::internal(format!("search task failed: {e}")))?
                };
                let answer = match timeout {
                    Some(limit) => tokio::time::timeout(limit, work).await.ok(),
                    None => Some(work.await),
                };
                (position, name, started.elapsed(), answer)
            });
        }
        let mut outcomes: Vec<Option<EngineOutcome>> = vec![None; holders.len()];
        let mut rankings: Vec<(String, Vec<SearchHit>)> = Vec::new();
        let mut first_error = None;
        let mut performance = PerformanceInfo::default();
        while let Some(joined) = tasks.join_next().await {
            let (position, engine, took, answer) =
                joined.map_err(|e| Error::internal(format!("search task failed: {e}")))?;
            outcomes[position] = Some(match answer {
                Some(Ok(response)) => {
                    let hits = response.hits.len();
                    add_performance(&mut performance, response.performance);
                    rankings.push((engine.clone(), response.hits));
                    EngineOutcome::Answered { engine, hits, took_ms: took.as_secs_f64() * 1e3 }
                }
                Some(Err(e)) => {
                    let error = e.to_string();
                    first_error.get_or_insert(e);
                    EngineOutcome::Failed { engine, error }
                }
                None => EngineOutcome::TimedOut { engine },
            });
        }
        if rankings.is_empty() {
            return Err(first_error
                .unwrap_or_else(|| Error::unavailable(format!("no engine holding `{collection}` answered in time"))));
        }
        // Rankings arrive in completion order; merge them in partition order so ties break the same way each time.
        rankings.sort_by_key(|(engine, _)| holders.iter().position(|(n, _)| n == engine));
        let engines: Vec<EngineOutcome> = outcomes
            .into_iter()
            .zip(&holders)
            .map(|(o, (name, _))| o.unwrap_or_else(|| EngineOutcome::Skipped { engine: name.clone() }))
            .collect();
        let partial = engines.iter().any(|o| !matches!(o, EngineOutcome::Answered { .. }));
        Ok(UnifiedSearchResponse { hits: merge_rankings(rankings, &merge, request.k), partial, engines, performance })
    }

    /// `search` on a partitioned collection: every engine must answer.
    pub(crate) async fn search_partitioned(&self, collection: &str, request: SearchRequest) -> Result<SearchResponse> {
        let response = self.unified_search(collection, request, &SearchStrategy::default()).await?;
        if let Some(missing) = response.engines.iter().find(|o| !matches!(o, EngineOutcome::Answered { .. })) {
            return Err(Error::unavailable(format!("a partition of `{collection}` did not answer: {missing:?}")));
        }
        Ok(SearchResponse { hits: response.hits, performance: response.performance, valid_until: None })
    }
}

fn add_performance(total: &mut PerformanceInfo, part: PerformanceInfo) {
    total.planning_us = total.planning_us.max(part.planning_us);
    total.execution_us = total.execution_us.max(part.execution_us);
    total.distance_computations += part.distance_computations;
    total.nodes_visited += part.nodes_visited;
    total.segments_searched += part.segments_searched;
    total.plans.extend(part.plans);
}

/// Merges per-engine rankings: per id only the newest version counts (highest
/// sequence number), then `strategy` scores what remains; best `k` first.
pub fn merge_rankings(rankings: Vec<(String, Vec<SearchHit>)>, strategy: &MergeStrategy, k: usize) -> Vec<SearchHit> {
    let newest: HashMap<&str, u64> = rankings.iter().flat_map(|(_, hits)| hits).fold(HashMap::new(), |mut m, h| {
        let seq = m.entry(h.id.as_str()).or_insert(h.seq);
        *seq = (*seq).max(h.seq);
        m
    });
    let mut merged: HashMap<String, SearchHit> = HashMap::new();
    for (engine, hits) in &rankings {
        for (rank, hit) in hits.iter().enumerate().filter(|(_, h)| newest[h.id.as_str()] == h.seq) {
            let score = match strategy {
                MergeStrategy::ScoreWeighted { weights } => hit.score * weights.get(engine).copied().unwrap_or(1.0),
                MergeStrategy::ReciprocalRankFusion { k } => 1.0 / (*k as f32 + rank as f32 + 1.0),
                MergeStrategy::Max => hit.score,
            };
            match merged.get_mut(&hit.id) {
                None => {
                    merged.insert(hit.id.clone(), SearchHit { score, ..hit.clone() });
                }
                Some(existing) => match strategy {
                    MergeStrategy::ReciprocalRankFusion { .. } => existing.score += score,
                    _ => existing.score = existing.score.max(score),
                },
            }
        }
    }
    let mut hits: Vec<SearchHit> = merged.into_values().collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, score: f32, seq: u64) -> SearchHit {
        SearchHit { id: id.into(), score, seq, vector: None, metadata: None }
    }

    #[test]
    fn newest_version_wins_then_strategy_ranks() {
        let rankings = vec![
            ("a".to_string(), vec![hit("x", 0.9, 1), hit("y", 0.5, 7)]),
            ("b".to_string(), vec![hit("x", 0.2, 5), hit("z", 0.4, 2)]),
        ];
        // The stale x (seq 1) on engine a is ignored although it scores higher.
        let max = merge_rankings(rankings.clone(), &MergeStrategy::Max, 10);
        let ids: Vec<(&str, f32)> = max.iter().map(|h| (h.id.as_str(), h.score)).collect();
        assert_eq!(ids, vec![("y", 0.5), ("z", 0.4), ("x", 0.2)]);
        assert_eq!(max[2].seq, 5);

        let weighted = MergeStrategy::ScoreWeighted { weights: [("b".to_string(), 10.0)].into() };
        let ids: Vec<String> = merge_rankings(rankings.clone(), &weighted, 2).into_iter().map(|h| h.id).collect();
        assert_eq!(ids, vec!["z", "x"]);

        let rrf = merge_rankings(rankings, &MergeStrategy::ReciprocalRankFusion { k: 60 }, 10);
        let ids: Vec<&str> = rrf.iter().map(|h| h.id.as_str()).collect();
        // x is rank 1 on b, y rank 2 on a, z rank 2 on b: 1/61 > 1/62 = 1/62, ties by id.
        assert_eq!(ids, vec!["x", "y", "z"]);
        assert!((rrf[0].score - 1.0 / 61.0).abs() < 1e-7);
    }
}
