//! Batch execution, namespace snapshots and analytics.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use proxima::core::Error;
use proxima::{BatchOperation, BatchResult, NamespaceBackup, PerformanceAnalytics};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::{ApiError, AppState};

/// The most operations one batch-execute request may carry.
const MAX_OPERATIONS: usize = 10_000;

/// Operations to apply, 1..=10,000.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchBody {
    operations: Vec<BatchOperation>,
}

/// Valid operations are applied in one durable write; refused ones are listed by index.
pub(super) async fn batch_execute(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<BatchBody>,
) -> Result<Json<BatchResult>, ApiError> {
    let count = body.operations.len();
    if count == 0 || count > MAX_OPERATIONS {
        return Err(Error::invalid(format!("a batch holds 1..={MAX_OPERATIONS} operations, got {count}")).into());
    }
    Ok(Json(state.db.batch_execute(&name, body.operations).await?))
}

/// The snapshot's name.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotBody {
    name: String,
}

pub(super) async fn create_snapshot(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<SnapshotBody>,
) -> Result<(StatusCode, Json<NamespaceBackup>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.db.backup_namespace(&name, &body.name).await?)))
}

/// A collection's snapshots, oldest first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct SnapshotList {
    snapshots: Vec<NamespaceBackup>,
}

/// Where a snapshot was restored.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Restored {
    restored_into: String,
}

pub(super) async fn list_snapshots(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<SnapshotList>, ApiError> {
    state.db.collection(&name).await?;
    Ok(Json(SnapshotList { snapshots: state.db.list_namespace_backups(&name).await? }))
}

pub(super) async fn delete_snapshot(
    State(state): State<AppState>,
    Path((name, snapshot)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.db.delete_namespace_backup(&name, &snapshot).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where to restore (optional body).
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreBody {
    /// Restore into this collection instead (created when absent).
    target: Option<String>,
}

pub(super) async fn restore_snapshot(
    State(state): State<AppState>,
    Path((name, snapshot)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Restored>, ApiError> {
    let body: RestoreBody = if body.is_empty() {
        RestoreBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("malformed restore request: {e}")))?
    };
    let config = state.db.restore_namespace(&name, &snapshot, body.target.as_deref()).await?;
    Ok(Json(Restored { restored_into: config.name }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnalyticsQuery {
    collection: Option<String>,
}

pub(super) async fn analytics(
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<Json<PerformanceAnalytics>, ApiError> {
    Ok(Json(state.db.get_performance_analytics(query.collection.as_deref()).await?))
}
