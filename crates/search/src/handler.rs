//! The `VectorSearchHandler`: validate → plan → execute → merge → report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use proxima_core::{Result, SearchHit, SearchRequest, validate};
use proxima_engine::{ReadView, Segment};
use proxima_index::{Distance, Neighbor, SegmentIndex, flat_search, flat_search_rows};
use serde::Serialize;

use crate::cache::{FilterCache, PayloadCache};
use crate::payload::{FilterSource, RowFilter};
use crate::plan::{self, FilterShape, Method, SegmentPlan};
use crate::{Candidate, IndexCache, merge_candidates};

/// A query against one read view.
#[derive(Clone)]
pub struct SearchContext {
    /// The snapshot searched.
    pub view: Arc<dyn ReadView>,
    /// The query.
    pub request: SearchRequest,
    /// "Now" for expiry checks, unix seconds.
    pub now_unix_secs: u64,
}

impl SearchContext {
    /// A query over `view` at the current time.
    pub fn new(view: Arc<dyn ReadView>, request: SearchRequest) -> Self {
        Self { view, request, now_unix_secs: proxima_core::now_unix_secs() }
    }
}

/// What a search cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PerformanceInfo {
    /// Validation and planning, microseconds.
    pub planning_us: u64,
    /// Executing the plans and merging, microseconds.
    pub execution_us: u64,
    /// Distance computations made.
    pub distance_computations: u64,
    /// Graph nodes or IVF lists walked.
    pub nodes_visited: u64,
    /// Segments searched.
    pub segments_searched: usize,
    /// The plan of each segment.
    pub plans: Vec<SegmentPlan>,
    /// `timeout_ms` ran out: `segments_skipped` segments were not searched.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Segments left unsearched when the time budget ran out.
    #[serde(skip_serializing_if = "is_zero")]
    pub segments_skipped: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Hits, best first, and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SearchResponse {
    /// The hits.
    pub hits: Vec<SearchHit>,
    /// Timing and counters.
    pub performance: PerformanceInfo,
    /// The earliest expiry among the hits' records (unix seconds): the answer
    /// holds until then, unless the collection changes.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub valid_until: Option<u64>,
}

/// Answers searches over read views. Holds loaded indexes between queries.
#[derive(Debug)]
pub struct VectorSearchHandler {
    cache: IndexCache,
    payloads: PayloadCache,
    filters: FilterCache,
    default_accuracy: f32,
}

impl Default for VectorSearchHandler {
    fn default() -> Self {
        Self::new(1 << 30)
    }
}

impl VectorSearchHandler {
    /// A handler keeping up to `index_cache_bytes` of loaded vector indexes,
    /// a quarter of that again of payload indexes and a sixteenth of filter
    /// answers (each cache also holds at most 4,096 entries).
    pub fn new(index_cache_bytes: usize) -> Self {
        Self {
            cache: IndexCache::new(index_cache_bytes),
            payloads: PayloadCache::new(index_cache_bytes / 4),
            filters: FilterCache::new(index_cache_bytes / 16),
            default_accuracy: 0.95,
        }
    }

    /// The recall target used when a request names neither ef nor accuracy.
    pub fn with_default_accuracy(mut self, accuracy: f32) -> Self {
        self.default_accuracy = accuracy;
        self
    }

    /// The loaded-index cache.
    pub fn cache(&self) -> &IndexCache {
        &self.cache
    }

    /// Plans every segment of the view (validation included).
    pub fn plan(&self, ctx: &SearchContext) -> Result<Vec<SegmentPlan>> {
        Ok(self.plan_with_filters(ctx)?.into_iter().map(|(plan, _)| plan).collect())
    }

    /// Bytes of payload indexes held in memory.
    pub fn payload_index_bytes(&self) -> usize {
        self.payloads.bytes()
    }

    /// Each segment's plan, with how its rows are tested against the filter.
    pub(crate) fn plan_with_filters(&self, ctx: &SearchContext) -> Result<Vec<(SegmentPlan, RowFilter)>> {
        let config = ctx.view.config();
        validate::search_request(&ctx.request, config)?;
        let filter = ctx.request.filter.as_ref();
        let text = filter.map(|f| serde_json::to_string(f).unwrap_or_default());
        let keyed = filter.zip(text.as_deref());
        Ok(ctx
            .view
            .segments()
            .iter()
            .enumerate()
            .map(|(i, segment)| {
                let rows = RowFilter::resolve((&self.payloads, &self.filters), config, &**segment, keyed);
                let live = segment.live().count_ones();
                let shape = match &rows {
                    RowFilter::Rows(matching) => {
                        let matching = &**matching;
                        let count = rows.live_matches(&**segment, live).unwrap_or_default();
                        FilterShape {
                            live_rows: live,
                            selectivity: if live == 0 { 0.0 } else { count as f64 / live as f64 },
                            matching_rows: Some(count),
                            rows_to_test: matching.len() as usize,
                            test_cost: plan::BITMAP_COST,
                            source: FilterSource::PayloadIndex,
                        }
                    }
                    other => FilterShape {
                        live_rows: live,
                        selectivity: plan::estimate_selectivity(&**segment, filter, ctx.now_unix_secs),
                        matching_rows: None,
                        rows_to_test: match other {
                            RowFilter::Candidates(candidates) => candidates.len() as usize,
                            _ => segment.len(),
                        },
                        test_cost: plan::FILTER_COST,
                        source: other.source(),
                    },
                };
                (plan::plan_segment(i, &**segment, &ctx.request, shape, self.default_accuracy), rows)
            })
            .collect())
    }

    /// Runs a search.
    pub fn execute_search(&self, ctx: &SearchContext) -> Result<SearchResponse> {
        let started = Instant::now();
        // Planning validates the request before anything else reads it.
        let plans = self.plan_with_filters(ctx)?;
        let planning_us = started.elapsed().as_micros() as u64;
        self.execute_planned(ctx, plans, planning_us, BTreeMap::new())
    }

    /// Runs planned searches of each segment; `given` holds the neighbours of
    /// segments already searched (by a batch), by segment.
    pub(crate) fn execute_planned(
        &self,
        ctx: &SearchContext,
        plans: Vec<(SegmentPlan, RowFilter)>,
        planning_us: u64,
        mut given: BTreeMap<usize, Vec<Neighbor>>,
    ) -> Result<SearchResponse> {
        let started = Instant::now();
        let config = ctx.view.config();
        // The query is compared in stored form (unit length under cosine).
        let mut query = ctx.request.vector.clone();
        config.metric.prepare(&mut query)?;
        let executing = Instant::now();
        let mut performance = PerformanceInfo { planning_us, ..PerformanceInfo::default() };
        let distance = Distance::new(config.metric);
        let mut candidates = Vec::new();
        let deadline = ctx.request.timeout_ms.map(|ms| started + std::time::Duration::from_millis(ms));
        for (plan, rows) in &plans {
            let segment = &ctx.view.segments()[plan.segment];
            if plan.live_rows == 0
                || plan.selectivity == 0.0 && ctx.request.filter.is_none()
                || plan.matching_rows == Some(0)
            {
                continue;
            }
            // Checked between segments: a segment once started is finished.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                performance.partial = true;
                performance.segments_skipped += 1;
                continue;
            }
            performance.segments_searched += 1;
            let found = match given.remove(&plan.segment) {
                Some(found) => {
                    performance.distance_computations += segment.len() as u64;
                    found
                }
                None => self.search_segment(ctx, &**segment, (plan, rows), &distance, &query, &mut performance)?,
            };
            candidates.extend(found.into_iter().map(|n| Candidate {
                id: segment.id(n.row as usize).to_string(),
                seq: segment.seq(n.row as usize),
                score: n.score(),
                origin: (plan.segment, n.row),
            }));
        }
        let merged = merge_candidates(candidates, ctx.view.tombstones(), ctx.request.k);
        let valid_until =
            merged.iter().filter_map(|c| ctx.view.segments()[c.origin.0].expires_at(c.origin.1 as usize)).min();
        let hits = merged
            .into_iter()
            .map(|c| {
                let segment = &ctx.view.segments()[c.origin.0];
                let row = c.origin.1 as usize;
                SearchHit {
                    id: c.id,
                    score: c.score,
                    seq: c.seq,
                    vector: ctx.request.include_vector.then(|| segment.vector(row).to_vec()),
                    metadata: ctx.request.include_metadata.then(|| segment.metadata(row).clone()),
                }
            })
            .collect();
        performance.execution_us = executing.elapsed().as_micros() as u64;
        performance.plans = plans.into_iter().map(|(plan, _)| plan).collect();
        Ok(SearchResponse { hits, performance, valid_until })
    }

    fn search_segment(
        &self,
        ctx: &SearchContext,
        segment: &dyn Segment,
        (plan, rows): (&SegmentPlan, &RowFilter),
        distance: &Distance,
        query: &[f32],
        performance: &mut PerformanceInfo,
    ) -> Result<Vec<Neighbor>> {
        let k = ctx.request.k;
        let (dimension, vectors, live) = (segment.dimension(), segment.vectors(), segment.live());
        let filter = ctx.request.filter.as_ref();
        let now = ctx.now_unix_secs;
        let evaluate = |r: usize| filter.is_none_or(|f| f.matches(segment.metadata(r)));
        let accept = |row: u32| {
            let r = row as usize;
            live.get(r)
                && segment.expires_at(r).is_none_or(|t| t > now)
                && match rows {
                    RowFilter::Unfiltered => true,
                    RowFilter::Rows(matching) => matching.contains(row),
                    RowFilter::Candidates(candidates) => candidates.contains(row) && evaluate(r),
                    RowFilter::Evaluate => evaluate(r),
                }
        };
        let filtered_flat = |performance: &mut PerformanceInfo| {
            let matching: Vec<u32> = match rows {
                RowFilter::Rows(named) | RowFilter::Candidates(named) => named.iter().filter(|&r| accept(r)).collect(),
                RowFilter::Unfiltered | RowFilter::Evaluate => {
                    (0..segment.len() as u32).filter(|&r| accept(r)).collect()
                }
            };
            performance.distance_computations += matching.len() as u64;
            flat_search_rows(distance, vectors, dimension, query, k, matching)
        };
        let found = match plan.method {
            Method::Flat => {
                performance.distance_computations += segment.len() as u64;
                flat_search(distance, vectors, dimension, query, k, accept)
            }
            Method::FilteredFlat => filtered_flat(performance),
            Method::Hnsw { ef, .. } | Method::Ivf { nprobe: ef } => {
                let bytes = segment.index_bytes().unwrap_or_default();
                let index = self.cache.get_or_load(&ctx.view.config().name, segment.segment_id(), bytes)?;
                let (found, stats) = match (&*index, plan.method) {
                    (SegmentIndex::Hnsw(graph), Method::Hnsw { selective: true, .. }) => {
                        graph.search_selective(vectors, query, k, ef, &accept)
                    }
                    (SegmentIndex::Hnsw(graph), _) => graph.search(vectors, query, k, ef, &accept),
                    (SegmentIndex::Ivf(ivf), _) => ivf.search(vectors, query, k, ef, &accept),
                };
                performance.distance_computations += stats.distance_computations;
                performance.nodes_visited += stats.nodes_visited;
                // Fewer than k means the walk ran out of matches it could reach;
                // an exact pass over the matches guarantees k whenever k exist.
                if found.len() < k && found.len() < plan.live_rows { filtered_flat(performance) } else { found }
            }
        };
        Ok(found)
    }
}
