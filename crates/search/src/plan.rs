//! Choosing how to search each segment: a small cost model over rows, filter
//! selectivity and the index the segment carries.

use proxima_core::{Filter, SearchRequest};
use proxima_engine::Segment;
use proxima_index::IndexSummary;
use serde::Serialize;

pub use crate::payload::FilterSource;

/// Segments with fewer rows are scanned exactly even when indexed: at this size
/// a scan costs less than walking a graph.
pub const FLAT_MAX_ROWS: usize = 2_000;
/// Rows sampled to estimate a filter's selectivity.
const SELECTIVITY_SAMPLE: usize = 512;
/// Below this filter selectivity the graph walk keeps every reached node in its
/// beam (`Hnsw::search_selective`); above it, only accepted nodes. Measured on
/// GloVe-50 with a 20% range: the accepted-only walk at ef × √s reached the
/// same recall as the selective one at ef / √s in 0.8 of its time.
const SELECTIVE_BELOW: f64 = 0.1;
/// Relative cost of evaluating a filter on one row's metadata, in units of one
/// 50-d distance computation (measured: ~40 ns against ~10 ns).
pub(crate) const FILTER_COST: f64 = 4.0;
/// Relative cost of testing a row in a payload-index bitmap.
pub(crate) const BITMAP_COST: f64 = 0.2;

/// How one segment is searched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Method {
    /// Score every row, checking liveness and the filter on rows that could enter the top k.
    Flat,
    /// Find the rows the filter matches, then score only those.
    FilteredFlat,
    /// Walk the segment's graph with this beam width.
    Hnsw {
        /// Beam width.
        ef: usize,
        /// Whether the beam holds every node reached (for filters that reject
        /// most rows) rather than only accepted ones.
        selective: bool,
    },
    /// Probe this many lists of the segment's inverted file.
    Ivf {
        /// Lists probed.
        nprobe: usize,
    },
}

impl Method {
    /// The method's name, as plans are serialised.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Flat => "flat",
            Method::FilteredFlat => "filtered_flat",
            Method::Hnsw { .. } => "hnsw",
            Method::Ivf { .. } => "ivf",
        }
    }
}

/// The plan for one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SegmentPlan {
    /// The segment's position in the read view.
    pub segment: usize,
    /// How it is searched.
    pub method: Method,
    /// Rows in the segment.
    pub rows: usize,
    /// Live rows.
    pub live_rows: usize,
    /// Share of live rows the filter (and expiry) lets through: exact when
    /// the payload index answered the filter, estimated from a sample otherwise.
    pub selectivity: f64,
    /// Live rows the filter matches, counted from the payload index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching_rows: Option<u64>,
    /// How rows are tested against the filter.
    pub filter: FilterSource,
    /// Estimated distance computations.
    pub estimated_computations: u64,
    /// Why this method.
    pub reason: &'static str,
}

/// The HNSW beam width for a recall target, never below k. Calibrated on one
/// 390,000-row GloVe-50 graph (m = 16, docs/benchmarks.md), the hardest case
/// a segment meets: there ef 80 / 120 / 200 / 400 reach 0.933 / 0.960 /
/// 0.981 / 0.995, so each target takes the first width that reached it.
/// Smaller segments, merged, land above their targets.
pub fn ef_for_accuracy(accuracy: f32, k: usize) -> usize {
    const TABLE: [(f32, usize); 6] = [(0.80, 32), (0.90, 64), (0.95, 120), (0.98, 200), (0.99, 320), (0.999, 1_000)];
    let ef = TABLE.iter().find(|(a, _)| accuracy <= *a).map_or(1_600, |(_, ef)| *ef);
    ef.max(k)
}

/// The IVF lists to probe for a recall target, out of `nlist`.
pub fn nprobe_for_accuracy(accuracy: f32, nlist: usize) -> usize {
    const TABLE: [(f32, f64); 5] = [(0.80, 0.008), (0.90, 0.016), (0.95, 0.03), (0.99, 0.08), (0.999, 0.25)];
    let share = TABLE.iter().find(|(a, _)| accuracy <= *a).map_or(1.0, |(_, s)| *s);
    ((nlist as f64 * share).ceil() as usize).clamp(1, nlist.max(1))
}

/// Estimated distance computations of one HNSW search (calibrated on GloVe-50).
pub(crate) fn hnsw_computations(ef: usize, m: usize, rows: usize) -> u64 {
    let levels = (rows.max(2) as f64).ln() / (m.max(2) as f64).ln();
    ((ef as f64 * m as f64 * 1.3) + levels * m as f64 * 4.0) as u64
}

/// The share of live, unexpired rows `filter` matches, from an evenly spaced sample.
pub(crate) fn estimate_selectivity(segment: &dyn Segment, filter: Option<&Filter>, now: u64) -> f64 {
    let live = segment.live();
    let len = segment.len();
    if len == 0 {
        return 0.0;
    }
    let has_expiry = (0..len.min(64)).any(|r| segment.expires_at(r).is_some());
    if filter.is_none() && !has_expiry {
        return 1.0;
    }
    let step = (len / SELECTIVITY_SAMPLE).max(1);
    let (mut seen, mut matched) = (0usize, 0usize);
    for row in (0..len).step_by(step).filter(|&r| live.get(r)) {
        seen += 1;
        if segment.expires_at(row).is_none_or(|t| t > now) && filter.is_none_or(|f| f.matches(segment.metadata(row))) {
            matched += 1;
        }
    }
    if seen == 0 {
        return 0.0;
    }
    // Half a match when none were seen: "rare", not "impossible".
    (matched as f64).max(0.5) / seen as f64
}

/// What the planner knows of a segment's filter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterShape {
    /// Live rows of the segment.
    pub(crate) live_rows: usize,
    /// Share of live rows it lets through.
    pub(crate) selectivity: f64,
    /// Live rows it matches, when counted exactly.
    pub(crate) matching_rows: Option<u64>,
    /// Rows a filtered scan must test (all of them, or the index's candidates).
    pub(crate) rows_to_test: usize,
    /// Cost of one test, in distance computations.
    pub(crate) test_cost: f64,
    /// Where the answer comes from.
    pub(crate) source: FilterSource,
}

/// Plans one segment.
pub(crate) fn plan_segment(
    position: usize,
    segment: &dyn Segment,
    request: &SearchRequest,
    shape: FilterShape,
    default_accuracy: f32,
) -> SegmentPlan {
    let rows = segment.len();
    let live_rows = shape.live_rows;
    let selectivity = shape.selectivity;
    let filter_cost = shape.test_cost;
    let filtered = selectivity < 1.0;
    let flat_cost = rows as f64 * if filtered { 1.0 + filter_cost * 0.1 } else { 1.0 };
    let filtered_flat_cost = shape.rows_to_test as f64 * filter_cost + live_rows as f64 * selectivity;
    let mut plan = SegmentPlan {
        segment: position,
        method: Method::Flat,
        rows,
        live_rows,
        selectivity,
        matching_rows: shape.matching_rows,
        filter: shape.source,
        estimated_computations: rows as u64,
        reason: "unsealed rows are scanned exactly",
    };
    let accuracy = request.accuracy.unwrap_or(default_accuracy);
    let summary = segment.index_bytes().and_then(IndexSummary::peek).filter(|s| match s {
        IndexSummary::Hnsw { len, .. } | IndexSummary::Ivf { len, .. } => *len == rows,
    });
    let (index_method, index_cost) = match summary {
        // The index named the matching rows: ranking only them is exact and beats any scan.
        _ if shape.source == FilterSource::PayloadIndex
            && filtered
            && (summary.is_none() || rows < FLAT_MAX_ROWS || !segment.sealed()) =>
        {
            plan.method = Method::FilteredFlat;
            plan.estimated_computations = shape.matching_rows.unwrap_or_default();
            plan.reason = "the payload index names the matching rows; no vector index is worth walking here";
            return plan;
        }
        _ if !segment.sealed() => return plan,
        None => {
            plan.reason = "the segment has no index";
            return plan;
        }
        _ if rows < FLAT_MAX_ROWS => {
            plan.reason = "small segment: an exact scan is cheaper than the index";
            return plan;
        }
        // No beam keeps a recall of 1 (a graph with many deleted nodes least of all).
        _ if request.ef.is_none() && request.nprobe.is_none() && accuracy >= 1.0 => {
            if filtered {
                plan.method = Method::FilteredFlat;
                plan.estimated_computations = (live_rows as f64 * selectivity) as u64;
            }
            plan.reason = "accuracy 1.0 is kept only by an exact scan";
            return plan;
        }
        Some(IndexSummary::Hnsw { m, .. }) => {
            let selective = filtered && selectivity < SELECTIVE_BELOW;
            let ef = match request.ef {
                Some(ef) => ef as usize,
                // A selective walk meets accepted nodes at rate s; measured on
                // GloVe-50 at s = 10%, it needs ~1/sqrt(s) times the beam for the same recall.
                None if selective => (ef_for_accuracy(accuracy, request.k) as f64 / selectivity.sqrt()) as usize,
                // An accepted-only beam is made of matches alone, so a narrower one
                // keeps the recall (0.965 at s = 20% and ef 53 on GloVe-50).
                None if filtered => (ef_for_accuracy(accuracy, request.k) as f64 * selectivity.sqrt()) as usize,
                None => ef_for_accuracy(accuracy, request.k),
            };
            let ef = ef.clamp(request.k, 100_000);
            let cost = hnsw_computations(ef, m, rows) as f64;
            let cost = match () {
                // Every node reached is scored; only those that would enter the top k are checked.
                _ if selective => cost * (1.0 + filter_cost * 0.3),
                // Only accepted nodes enter the beam, so the walk reaches ~1/s times more.
                _ if filtered => cost / selectivity.max(1e-6) * (1.0 + filter_cost),
                _ => cost,
            };
            (Method::Hnsw { ef, selective }, cost)
        }
        Some(IndexSummary::Ivf { nlist, .. }) => {
            let nprobe = request.nprobe.map_or_else(|| nprobe_for_accuracy(accuracy, nlist), |n| n as usize);
            (Method::Ivf { nprobe }, nlist as f64 + rows as f64 * nprobe as f64 / nlist as f64)
        }
    };
    // A filter passing a share s of rows makes the walk reach ~1/s times more
    // nodes before it holds enough matches, and each of them is checked.
    if filtered && filtered_flat_cost < index_cost {
        plan.method = Method::FilteredFlat;
        plan.estimated_computations = (live_rows as f64 * selectivity) as u64;
        plan.reason = "the filter is selective: scanning its matches is cheaper than the index";
    } else if !filtered && flat_cost < index_cost {
        plan.reason = "an exact scan is cheaper than the index at this ef";
    } else {
        plan.method = index_method;
        plan.estimated_computations = match index_method {
            Method::Hnsw { selective: true, .. } => (index_cost / (1.0 + filter_cost * 0.3)) as u64,
            Method::Hnsw { .. } if filtered => (index_cost / (1.0 + filter_cost)) as u64,
            _ => index_cost as u64,
        };
        plan.reason = "index search";
    }
    plan
}
