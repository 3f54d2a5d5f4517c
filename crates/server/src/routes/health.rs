//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// The process is up.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The catalogue answers, so requests can be served. A degraded cache layer
/// (Redis away, the backplane lost) is reported without failing: requests are
/// answered without it.
///
/// In cluster mode, the node first reads what the writers of the collections
/// it follows stored: it is ready once it has loaded the current manifests
/// (and not while the object store is out of reach).
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let health = state.db.catalogue().health().await?;
    state.db.catch_up().await?;
    let cache: Vec<Value> = state
        .db
        .cache_report()
        .await
        .into_iter()
        .map(|l| json!({"layer": l.layer, "state": l.state, "detail": l.detail}))
        .collect();
    Ok(Json(json!({"status": "ready", "catalogue": health, "cache": cache})))
}
