//! `estimate_query`: what a search would cost, without reading a vector.

use serde::Serialize;

use crate::plan::Method;
use crate::{SearchContext, VectorSearchHandler};

/// Nanoseconds per distance computation per dimension, plus a fixed part:
/// ~10 ns at 50-d with AVX2 (benches/kernels.rs), a little more in a graph walk's cache misses.
const NS_PER_DIMENSION: f64 = 0.2;
const NS_PER_COMPUTATION: f64 = 25.0;

/// The answer of [`VectorSearchHandler::estimate_query`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct QueryEstimate {
    /// Whether the query would be accepted.
    pub valid: bool,
    /// Why not, when it would not.
    pub errors: Vec<String>,
    /// Relative cost in 0..=1: the share of an exhaustive scan of every row.
    pub cost: f64,
    /// Estimated distance computations.
    pub estimated_distance_computations: u64,
    /// Estimated graph nodes or lists visited.
    pub estimated_nodes_visited: u64,
    /// Whether each segment will be asked for more than it can usefully give (k over its live rows or over 1,000).
    pub will_over_fetch: bool,
    /// Advice, in words.
    pub recommendations: Vec<String>,
    /// Estimated duration, milliseconds.
    pub estimated_duration_ms: f64,
    /// Live rows the filter matches, counted exactly from the payload
    /// indexes; absent without a filter or when some rows are evaluated instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_rows: Option<u64>,
    /// Segments by the method that would search them (`flat`, `filtered_flat`, `hnsw`, `ivf`).
    #[serde(default)]
    pub methods: std::collections::BTreeMap<String, usize>,
}

impl VectorSearchHandler {
    /// Estimates a search from the view's shape, its index headers and a metadata sample.
    pub fn estimate_query(&self, ctx: &SearchContext) -> QueryEstimate {
        let plans = match self.plan(ctx) {
            Ok(plans) => plans,
            Err(e) => {
                return QueryEstimate {
                    valid: false,
                    errors: vec![e.to_string()],
                    cost: 0.0,
                    estimated_distance_computations: 0,
                    estimated_nodes_visited: 0,
                    will_over_fetch: false,
                    recommendations: Vec::new(),
                    estimated_duration_ms: 0.0,
                    matching_rows: None,
                    methods: Default::default(),
                };
            }
        };
        let k = ctx.request.k;
        let rows: usize = plans.iter().map(|p| p.rows).sum();
        let live: usize = plans.iter().map(|p| p.live_rows).sum();
        let computations: u64 = plans.iter().map(|p| p.estimated_computations).sum();
        let nodes: u64 = plans
            .iter()
            .map(|p| match p.method {
                Method::Hnsw { ef, .. } => ef as u64,
                Method::Ivf { nprobe } => nprobe as u64,
                _ => 0,
            })
            .sum();
        let mut recommendations = Vec::new();
        if k > 1_000 {
            recommendations
                .push(format!("k > 1000 ({k}): every segment returns k candidates; page instead if you can"));
        }
        if plans.iter().any(|p| p.method == Method::FilteredFlat && p.selectivity < 0.01) {
            recommendations.push("filter matches < 1% of rows — flat scan will be used".to_string());
        }
        let unindexed: usize = plans.iter().filter(|p| p.reason == "the segment has no index").map(|p| p.rows).sum();
        if unindexed >= 10 * crate::plan::FLAT_MAX_ROWS {
            recommendations
                .push(format!("{unindexed} rows sit in segments without an index; build one to search them faster"));
        }
        let unsealed: usize =
            plans.iter().filter(|p| p.reason == "unsealed rows are scanned exactly").map(|p| p.rows).sum();
        if unsealed >= 10 * crate::plan::FLAT_MAX_ROWS {
            recommendations.push(format!("{unsealed} rows are unsealed; flush so they are indexed"));
        }
        if let Some(accuracy) = ctx.request.accuracy
            && accuracy > 0.99
        {
            recommendations.push("accuracy above 0.99 needs a wide beam; consider 0.99".to_string());
        }
        let matching_rows = match ctx.request.filter {
            Some(_) => plans.iter().map(|p| p.matching_rows).sum(),
            None => None,
        };
        let mut methods = std::collections::BTreeMap::new();
        for plan in &plans {
            *methods.entry(plan.method.name().to_string()).or_default() += 1;
        }
        let dimension = ctx.view.config().dimension as f64;
        let per = NS_PER_COMPUTATION + NS_PER_DIMENSION * dimension;
        QueryEstimate {
            valid: true,
            errors: Vec::new(),
            cost: if rows == 0 { 0.0 } else { (computations as f64 / rows as f64).min(1.0) },
            estimated_distance_computations: computations,
            estimated_nodes_visited: nodes,
            will_over_fetch: k > live.max(1) || k > 1_000,
            recommendations,
            estimated_duration_ms: computations as f64 * per / 1e6,
            matching_rows,
            methods,
        }
    }
}
