//! `GET /v1/cluster`: this node, its writer leases and every collection's lease.

use axum::Json;
use axum::extract::State;
use proxima::NodeStatus;
use proxima::core::Error;

use crate::{ApiError, AppState};

/// This node's view of the cluster; 404 on a node that runs alone.
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<NodeStatus>, ApiError> {
    match state.db.cluster_status().await? {
        Some(status) => Ok(Json(status)),
        None => Err(Error::not_found("this node runs alone: its config has no [cluster] section").into()),
    }
}
