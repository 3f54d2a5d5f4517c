//! Relations between a collection's records: batch changes, and the records
//! a walk from one record reaches.

use axum::Json;
use axum::extract::{Path, Query, State};
use proxima::relations::{Direction, Neighbour, Traversal, validate_type};
use proxima::{RelationsChange, RelationsChanged};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(change): Body<RelationsChange>,
) -> Result<Json<RelationsChanged>, ApiError> {
    Ok(Json(state.db.change_relations(&name, change).await?))
}

/// `?types=A,B&direction=out|in|both&depth=1..3&fan_out=1..64`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WalkOptions {
    types: Option<String>,
    direction: Option<String>,
    depth: Option<u8>,
    fan_out: Option<usize>,
}

/// The records reached, best first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Reached {
    relations: Vec<Neighbour>,
}

pub(super) async fn of_record(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Query(options): Query<WalkOptions>,
) -> Result<Json<Reached>, ApiError> {
    let mut walk = Traversal::from([id.clone()]);
    if let Some(types) = options.types.filter(|t| !t.is_empty()) {
        walk.types = types.split(',').map(str::to_string).collect();
        walk.types.iter().try_for_each(|t| validate_type(t))?;
    }
    if let Some(direction) = options.direction {
        walk.direction = Direction::parse(&direction)?;
    }
    walk.depth = options.depth.unwrap_or(walk.depth);
    walk.fan_out = options.fan_out.unwrap_or(walk.fan_out);
    Ok(Json(Reached { relations: state.db.relations_of(&name, &id, walk).await? }))
}
