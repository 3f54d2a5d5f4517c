//! Hybrid queries, and what the planner would do with one.

use axum::Json;
use axum::extract::{Path, State};
use proxima::{QueryRequest, QueryResponse};

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn query(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<QueryRequest>,
) -> Result<Json<QueryResponse>, ApiError> {
    Ok(Json(state.db.query(&name, request).await?))
}
