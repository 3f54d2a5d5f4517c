//! Search and query estimates.

use axum::Json;
use axum::extract::{Path, State};
use proxima::core::SearchRequest;
use proxima::search::{QueryEstimate, SearchResponse};

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn search(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    Ok(Json(state.db.search(&name, request).await?))
}

pub(super) async fn estimate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<SearchRequest>,
) -> Result<Json<QueryEstimate>, ApiError> {
    Ok(Json(state.db.estimate(&name, request).await?))
}
