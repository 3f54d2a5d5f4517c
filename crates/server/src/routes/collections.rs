//! Collections: create, list, get, drop, flush, compact.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use proxima::core::{CollectionConfig, Error};
use proxima::engine::{CollectionStats, CompactionPolicy, CompactionReport};
use schemars::JsonSchema;
use serde::Serialize;

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn create(
    State(state): State<AppState>,
    Body(config): Body<CollectionConfig>,
) -> Result<(StatusCode, Json<CollectionConfig>), ApiError> {
    let created = state.db.create_collection(config).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every collection's config.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CollectionList {
    collections: Vec<CollectionConfig>,
}

/// One collection: its config and current figures.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CollectionInfo {
    config: CollectionConfig,
    stats: CollectionStats,
}

/// What a compaction did.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Compacted {
    report: CompactionReport,
}

pub(super) async fn list(State(state): State<AppState>) -> Result<Json<CollectionList>, ApiError> {
    Ok(Json(CollectionList { collections: state.db.list_collections().await? }))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CollectionInfo>, ApiError> {
    let config = state.db.collection(&name).await?;
    let stats = state.db.stats(&name).await?;
    Ok(Json(CollectionInfo { config, stats }))
}

pub(super) async fn drop(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.db.drop_collection(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn flush(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.db.flush(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn compact(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Compacted>, ApiError> {
    // The policy is optional: an empty body compacts with the defaults.
    let policy: CompactionPolicy = if body.is_empty() {
        CompactionPolicy::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("malformed compaction policy: {e}")))?
    };
    let report = state.db.compact(&name, &policy).await?;
    Ok(Json(Compacted { report }))
}
