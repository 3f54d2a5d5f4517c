//! The routes, one file per resource.

mod collections;
mod health;
mod ops;
mod search;
mod vectors;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn all() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/collections", get(collections::list).post(collections::create))
        .route("/v1/collections/{name}", get(collections::get).delete(collections::drop))
        .route("/v1/collections/{name}/flush", post(collections::flush))
        .route("/v1/collections/{name}/compact", post(collections::compact))
        .route("/v1/collections/{name}/vectors", post(vectors::upsert))
        .route("/v1/collections/{name}/vectors/{id}", get(vectors::get).delete(vectors::delete))
        .route("/v1/collections/{name}/search", post(search::search))
        .route("/v1/collections/{name}/query-estimate", post(search::estimate))
        .route("/v1/collections/{name}/batch-execute", post(ops::batch_execute))
        .route("/v1/collections/{name}/snapshots", get(ops::list_snapshots).post(ops::create_snapshot))
        .route("/v1/collections/{name}/snapshots/{snapshot}", axum::routing::delete(ops::delete_snapshot))
        .route("/v1/collections/{name}/snapshots/{snapshot}/restore", post(ops::restore_snapshot))
        .route("/v1/analytics", get(ops::analytics))
}
