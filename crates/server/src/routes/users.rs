//! Users: the stated policy, and the events that teach it.

use axum::Json;
use axum::extract::{Path, State};
use proxima::relations::{Event, UserPolicy, UserProfile};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn put_policy(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Body(policy): Body<UserPolicy>,
) -> Result<Json<UserProfile>, ApiError> {
    Ok(Json(state.db.put_user_policy(&user, policy).await?))
}

/// The stated policy and what was learned (neutral for a user never seen).
pub(super) async fn get_policy(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<UserProfile>, ApiError> {
    Ok(Json(state.db.user_profile(&user).await?))
}

/// Events on items of one collection, 1..=1,000.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Events {
    collection: String,
    events: Vec<Event>,
}

pub(super) async fn events(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Body(body): Body<Events>,
) -> Result<Json<UserProfile>, ApiError> {
    Ok(Json(state.db.record_user_events(&user, &body.collection, body.events).await?))
}
