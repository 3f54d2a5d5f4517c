//! Vectors: upsert a batch, get and delete by id.

use axum::Json;
use axum::extract::{Path, Query, State};
use proxima::CacheMode;
use proxima::core::{Error, VectorRecord};
use proxima::engine::StoredRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::{ApiError, AppState};

/// The most records one request may upsert.
const MAX_BATCH: usize = 10_000;

/// Records to insert or replace, 1..=10,000.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Upsert {
    vectors: Vec<VectorRecord>,
}

/// An acknowledged (durable) upsert.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Upserted {
    count: usize,
    first_seq: u64,
    last_seq: u64,
}

/// An acknowledged delete.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Deleted {
    seq: u64,
}

/// Applies the batch atomically: every record is valid and stored, or none is.
pub(super) async fn upsert(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<Upsert>,
) -> Result<Json<Upserted>, ApiError> {
    let count = body.vectors.len();
    if count == 0 || count > MAX_BATCH {
        return Err(Error::invalid(format!("a batch holds 1..={MAX_BATCH} vectors, got {count}")).into());
    }
    let receipt = state.db.upsert(&name, body.vectors).await?;
    Ok(Json(Upserted { count, first_seq: receipt.first_seq, last_seq: receipt.last_seq }))
}

/// How a read uses the cache: `?cache=use|bypass|only`.
#[derive(Deserialize)]
pub(super) struct ReadOptions {
    #[serde(default)]
    cache: CacheMode,
}

/// The record; the `x-proximadb-cache` header names the layer that answered,
/// or says `miss`.
pub(super) async fn get(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Query(options): Query<ReadOptions>,
) -> Result<([(&'static str, String); 1], Json<StoredRecord>), ApiError> {
    let cached = state.db.get_cached(&name, std::slice::from_ref(&id), options.cache).await?;
    let header = [("x-proximadb-cache", cached.cache.answered_by.unwrap_or_else(|| "miss".into()))];
    let Some(mut found) = cached.value else {
        return Err(Error::not_found(format!("`{id}` of `{name}` is not in the cache (cache=only)")).into());
    };
    let found = found.pop().flatten().ok_or_else(|| Error::not_found(format!("no vector `{id}` in `{name}`")))?;
    Ok((header, Json(found)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Deleted>, ApiError> {
    // Deleting an id that is not there is a 404, not a tombstone for nothing.
    if state.db.get(&name, std::slice::from_ref(&id)).await?.pop().flatten().is_none() {
        return Err(Error::not_found(format!("no vector `{id}` in `{name}`")).into());
    }
    let receipt = state.db.delete(&name, vec![id]).await?;
    Ok(Json(Deleted { seq: receipt.last_seq }))
}
