//! Search and query estimates.

use axum::Json;
use axum::extract::{Path, State};
use proxima::core::{Error, SearchHit, SearchRequest};
use proxima::search::{PerformanceInfo, QueryEstimate};
use proxima::{CacheMode, CacheOutcome, MergeStrategy, QueryPlan, QueryRequest, SearchStrategy, UnifiedSearchResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::{ApiError, AppState};

/// A search, and how it uses the cache.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct SearchBody {
    #[serde(flatten)]
    request: SearchRequest,
    /// `use` (default), `bypass`, or `only` (answer from the cache alone).
    #[serde(default)]
    cache: CacheMode,
}

/// The hits, what they cost, and where they came from.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SearchAnswer {
    hits: Vec<SearchHit>,
    performance: Performance,
    /// True when `cache: only` found no answer (nothing was computed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cache_miss: bool,
}

/// The search's figures (zero for an answer from the cache) and the cache's part.
#[derive(Serialize, JsonSchema)]
struct Performance {
    #[serde(flatten)]
    figures: PerformanceInfo,
    cache: CacheOutcome,
}

pub(super) async fn search(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<SearchBody>,
) -> Result<Json<SearchAnswer>, ApiError> {
    let cached = state.db.search_cached(&name, body.request, body.cache).await?;
    let cache_miss = cached.value.is_none();
    let (hits, figures) = cached.value.map(|r| (r.hits, r.performance)).unwrap_or_default();
    Ok(Json(SearchAnswer { hits, performance: Performance { figures, cache: cached.cache }, cache_miss }))
}

/// Many searches of one collection, answered together.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBatchBody {
    /// 1 to 10,000 searches, each as the body of a single search (no `cache`).
    searches: Vec<SearchRequest>,
}

/// Each search's answer, in the order asked.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SearchBatchAnswer {
    results: Vec<BatchResult>,
}

/// One search's hits and what they cost.
#[derive(Serialize, JsonSchema)]
struct BatchResult {
    hits: Vec<SearchHit>,
    performance: PerformanceInfo,
}

pub(super) async fn search_batch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<SearchBatchBody>,
) -> Result<Json<SearchBatchAnswer>, ApiError> {
    let answers = state.db.search_batch(&name, body.searches).await?;
    let results = answers.into_iter().map(|a| BatchResult { hits: a.hits, performance: a.performance }).collect();
    Ok(Json(SearchBatchAnswer { results }))
}

/// A search's cost, or (for a body with `strategy`, `start_ids`, `user` or
/// `relation_types`) a hybrid query's plan.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Estimate {
    Search(QueryEstimate),
    Query(QueryPlan),
}

/// The fields only a hybrid query has.
const HYBRID_FIELDS: [&str; 4] = ["strategy", "start_ids", "user", "relation_types"];

pub(super) async fn estimate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<serde_json::Value>,
) -> Result<Json<Estimate>, ApiError> {
    let hybrid = HYBRID_FIELDS.iter().any(|f| body.get(f).is_some());
    let unreadable = |e: serde_json::Error| Error::invalid(format!("malformed request: {e}"));
    if hybrid {
        let request: QueryRequest = serde_json::from_value(body).map_err(unreadable)?;
        return Ok(Json(Estimate::Query(state.db.plan_query(&name, &request).await?)));
    }
    let request: SearchRequest = serde_json::from_value(body).map_err(unreadable)?;
    Ok(Json(Estimate::Search(state.db.estimate_cached(&name, request).await?)))
}

/// A search over every engine holding part of a (partitioned) collection.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct UnifiedBody {
    #[serde(flatten)]
    request: SearchRequest,
    /// `{"reciprocal_rank_fusion": {"k": 60}}`, `{"score_weighted": {"weights": {...}}}` or `"max"`.
    #[serde(default)]
    merge: MergeStrategy,
    /// Ask at most this many engines, in partition order.
    #[serde(default)]
    max_engines: Option<usize>,
    /// Give up on an engine after this long; the answer then says it is partial.
    #[serde(default)]
    engine_timeout_ms: Option<u64>,
}

pub(super) async fn unified(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<UnifiedBody>,
) -> Result<Json<UnifiedSearchResponse>, ApiError> {
    if body.max_engines == Some(0) || body.engine_timeout_ms == Some(0) {
        return Err(Error::invalid("max_engines and engine_timeout_ms must be positive").into());
    }
    let strategy = SearchStrategy::CrossEngine {
        merge_strategy: body.merge,
        max_engines: body.max_engines,
        timeout_ms: body.engine_timeout_ms,
    };
    Ok(Json(state.db.unified_search(&name, body.request, &strategy).await?))
}
