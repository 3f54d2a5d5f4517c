//! The answer cache: per-layer health and statistics, and invalidation.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use proxima::LayerReport;
use proxima::core::Error;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

/// Each cache layer, fastest first, then the backplane when there is one.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CacheLayers {
    layers: Vec<LayerReport>,
}

pub(super) async fn report(State(state): State<AppState>) -> Json<CacheLayers> {
    Json(CacheLayers { layers: state.db.cache_report().await })
}

#[derive(Deserialize)]
pub(super) struct Invalidate {
    collection: Option<String>,
}

/// Makes a collection's cached answers unreachable, here and on the other instances.
pub(super) async fn invalidate(
    State(state): State<AppState>,
    Query(query): Query<Invalidate>,
) -> Result<StatusCode, ApiError> {
    let collection = query.collection.ok_or_else(|| Error::invalid("`collection` is required: ?collection=NAME"))?;
    state.db.invalidate_cache(&collection).await?;
    Ok(StatusCode::NO_CONTENT)
}
