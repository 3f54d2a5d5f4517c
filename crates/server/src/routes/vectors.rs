//! Vectors: upsert a batch, get and delete by id.

use axum::Json;
use axum::extract::{Path, State};
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

pub(super) async fn get(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<StoredRecord>, ApiError> {
    let found = state.db.get(&name, std::slice::from_ref(&id)).await?.pop().flatten();
    found.map(Json).ok_or_else(|| Error::not_found(format!("no vector `{id}` in `{name}`")).into())
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
