//! Search and query estimates.

use axum::Json;
use axum::extract::{Path, State};
use proxima::core::{SearchHit, SearchRequest};
use proxima::search::{PerformanceInfo, QueryEstimate};
use proxima::{CacheMode, CacheOutcome};
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

pub(super) async fn estimate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<SearchRequest>,
) -> Result<Json<QueryEstimate>, ApiError> {
    Ok(Json(state.db.estimate_cached(&name, request).await?))
}
