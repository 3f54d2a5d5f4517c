#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod collections;
mod envelope;
mod filter;
mod ids;
mod points;
mod query;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use proxima::Proxima;

/// The Qdrant version the API answers as: the pinned `qdrant-client` it is tested with.
pub const COMPATIBLE_VERSION: &str = "1.18.0";

/// The Qdrant-compatible routes over `db`, to merge beside `/v1`.
pub fn router(db: Arc<Proxima>) -> Router {
    const C: &str = "/collections/{collection}";
    Router::new()
        .route("/", get(collections::root))
        .route("/collections", get(collections::list))
        .route(C, get(collections::info).put(collections::create).delete(collections::drop))
        .route(&format!("{C}/exists"), get(collections::exists))
        .route(&format!("{C}/index"), put(collections::payload_index))
        .route(&format!("{C}/points"), put(points::upsert).post(points::retrieve))
        .route(&format!("{C}/points/{{id}}"), get(points::retrieve_one))
        .route(&format!("{C}/points/delete"), post(points::delete))
        .route(&format!("{C}/points/payload"), post(points::set_payload).put(points::overwrite_payload))
        .route(&format!("{C}/points/payload/delete"), post(points::delete_payload))
        .route(&format!("{C}/points/count"), post(points::count))
        .route(&format!("{C}/points/scroll"), post(points::scroll))
        .route(&format!("{C}/points/query"), post(query::query))
        .route(&format!("{C}/points/query/batch"), post(query::query_batch))
        .route(&format!("{C}/points/search"), post(query::search))
        .route(&format!("{C}/points/search/batch"), post(query::search_batch))
        .route(&format!("{C}/points/recommend"), post(query::refused))
        .route(&format!("{C}/points/discover"), post(query::refused))
        .with_state(db)
}
