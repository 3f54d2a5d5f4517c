//! Collections: create, list, get, drop, flush, compact.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use proxima::core::{CollectionConfig, Error, FieldSpec, FieldType};
use proxima::engine::{CollectionStats, CompactionPolicy, CompactionReport};
use proxima::{CollectionEntry, CollectionPage, CollectionPatch, CollectionQuery, EngineInfo, IndexStatus, Move};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::{ApiError, AppState};

pub(super) async fn create(
    State(state): State<AppState>,
    Body(config): Body<CollectionConfig>,
) -> Result<(StatusCode, Json<CollectionConfig>), ApiError> {
    let created = state.db.create_collection(config).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `?tag=a,b&owner=&prefix=&q=&limit=&cursor=`: collections with every tag,
/// of the owner, named with the prefix, whose text has every word of `q`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    tag: Option<String>,
    owner: Option<String>,
    prefix: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The open engines.
#[derive(Serialize, JsonSchema)]
pub(crate) struct EngineList {
    engines: Vec<EngineInfo>,
}

/// One collection: its config and current figures.
#[derive(Serialize, JsonSchema)]
pub(crate) struct CollectionInfo {
    config: CollectionConfig,
    stats: CollectionStats,
    /// Live rows with and without a vector index.
    index: IndexStatus,
}

/// What a compaction did.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Compacted {
    report: CompactionReport,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Query(list): Query<ListQuery>,
) -> Result<Json<CollectionPage>, ApiError> {
    let tags = list.tag.map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default();
    let query = CollectionQuery {
        tags,
        owner: list.owner,
        prefix: list.prefix,
        q: list.q,
        limit: list.limit,
        cursor: list.cursor,
    };
    Ok(Json(state.db.find_collections(query).await?))
}

/// Changes the description, tags, owner or access pattern (a stale `version` is 409).
pub(super) async fn describe(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(patch): Body<CollectionPatch>,
) -> Result<Json<CollectionEntry>, ApiError> {
    Ok(Json(state.db.describe_collection(&name, patch).await?))
}

pub(super) async fn engines(State(state): State<AppState>) -> Result<Json<EngineList>, ApiError> {
    Ok(Json(EngineList { engines: state.db.engine_report().await? }))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CollectionInfo>, ApiError> {
    let config = state.db.collection(&name).await?;
    let stats = state.db.stats(&name).await?;
    let index = state.db.index_status(&name).await?;
    Ok(Json(CollectionInfo { config, stats, index }))
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

/// A metadata field to declare on an existing collection.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldBody {
    /// Dotted path into the metadata.
    name: String,
    #[serde(rename = "type")]
    ty: FieldType,
}

/// Whether the field was added, and the collection's declared fields.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Declared {
    /// False when it was declared already with that type.
    declared: bool,
    fields: Vec<FieldSpec>,
}

/// Declares a field: records are checked against it, then writes; filters on
/// it are answered from payload indexes.
pub(super) async fn declare_field(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<FieldBody>,
) -> Result<Json<Declared>, ApiError> {
    let declared = state.db.declare_field(&name, FieldSpec { name: body.name, ty: body.ty }).await?;
    let fields = state.db.collection(&name).await?.fields;
    Ok(Json(Declared { declared, fields }))
}

/// Where to move a collection, or (`dry_run`) only what would happen.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveBody {
    to: String,
    /// For a partitioned collection: the engine holding the partition to move.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Moves a collection to another engine online; writes wait, reads continue.
pub(super) async fn move_to(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<MoveBody>,
) -> Result<Json<Move>, ApiError> {
    let moved = match &body.from {
        Some(from) => state.db.move_partition(&name, from, &body.to, body.dry_run).await?,
        None => state.db.move_collection(&name, &body.to, body.dry_run).await?,
    };
    Ok(Json(moved))
}

/// The collections the routing policy moved.
#[derive(Serialize, JsonSchema)]
pub(crate) struct Moves {
    moves: Vec<Move>,
}

pub(super) async fn rebalance(State(state): State<AppState>) -> Result<Json<Moves>, ApiError> {
    Ok(Json(Moves { moves: state.db.rebalance_collections().await? }))
}
