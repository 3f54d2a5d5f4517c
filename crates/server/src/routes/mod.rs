//! The routes, one file per resource, registered with their OpenAPI entries.

mod cache;
mod cluster;
mod collections;
mod health;
mod ops;
mod query;
mod relations;
mod search;
mod users;
mod vectors;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};
use proxima::core::{CollectionConfig, SearchRequest};
use proxima::engine::{CompactionPolicy, StoredRecord};
use proxima::relations::{UserPolicy, UserProfile};
use proxima::{
    BatchResult, NamespaceBackup, PerformanceAnalytics, QueryRequest, QueryResponse, RelationsChange, RelationsChanged,
};
use serde_json::Value;

use crate::AppState;
use crate::openapi::{Api, Operation, SchemaFn, schema};

fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<SchemaFn>,
    status: u16,
    answer: Option<SchemaFn>,
) -> Operation {
    Operation { method, path, summary, body, status, answer }
}

/// The router and its OpenAPI document.
pub(crate) fn all() -> (Router<AppState>, Value) {
    use cache::CacheLayers;
    use collections::{CollectionInfo, Compacted, Declared, EngineList, FieldBody, MoveBody, Moves};
    use ops::{BatchBody, RestoreBody, Restored, SnapshotBody, SnapshotList};
    use proxima::{CollectionEntry, CollectionPage, CollectionPatch};
    use relations::Reached;
    use search::{Estimate, SearchAnswer, SearchBatchAnswer, SearchBatchBody, SearchBody, UnifiedBody};
    use users::Events;
    use vectors::{Deleted, Upsert, Upserted};
    const C: &str = "/v1/collections/{name}";
    Api::new()
        .route(get(health::healthz), op("get", "/healthz", "Liveness", None, 200, None))
        .route(get(health::readyz), op("get", "/readyz", "Readiness: the catalogue answers", None, 200, None))
        .route(
            get(collections::list),
            op(
                "get",
                "/v1/collections",
                "Lists collections (?tag=a,b&owner=&prefix=&q=&limit=&cursor=), a page at a time",
                None,
                200,
                Some(schema::<CollectionPage>),
            ),
        )
        .route(
            post(collections::create),
            op(
                "post",
                "/v1/collections",
                "Creates a collection",
                Some(schema::<CollectionConfig>),
                201,
                Some(schema::<CollectionConfig>),
            ),
        )
        .route(
            get(collections::get),
            op("get", C, "A collection's config and figures", None, 200, Some(schema::<CollectionInfo>)),
        )
        .route(delete(collections::drop), op("delete", C, "Drops a collection and its data", None, 204, None))
        .route(
            patch(collections::describe),
            op(
                "patch",
                C,
                "Changes a collection's description, tags, owner or access pattern (optimistic version)",
                Some(schema::<CollectionPatch>),
                200,
                Some(schema::<CollectionEntry>),
            ),
        )
        .route(
            post(collections::declare_field),
            op(
                "post",
                "/v1/collections/{name}/fields",
                "Declares a metadata field on an existing collection (refused while a record holds another type)",
                Some(schema::<FieldBody>),
                200,
                Some(schema::<Declared>),
            ),
        )
        .route(
            post(collections::move_to),
            op(
                "post",
                "/v1/collections/{name}/move",
                "Moves a collection to another engine online, verified before the switch (dry_run: only the checks)",
                Some(schema::<MoveBody>),
                200,
                Some(schema::<proxima::Move>),
            ),
        )
        .route(
            post(collections::rebalance),
            op("post", "/v1/rebalance", "Moves collections the routing policy places elsewhere", None, 200, Some(schema::<Moves>)),
        )
        .route(
            get(collections::engines),
            op("get", "/v1/engines", "The open engines: capabilities, collections, load", None, 200, Some(schema::<EngineList>)),
        )
        .route(
            post(collections::flush),
            op("post", "/v1/collections/{name}/flush", "Seals the write buffer", None, 204, None),
        )
        .route(
            post(collections::compact),
            op(
                "post",
                "/v1/collections/{name}/compact",
                "Compacts (body optional)",
                Some(schema::<CompactionPolicy>),
                200,
                Some(schema::<Compacted>),
            ),
        )
        .route(
            post(vectors::upsert),
            op(
                "post",
                "/v1/collections/{name}/vectors",
                "Upserts a batch, durably",
                Some(schema::<Upsert>),
                200,
                Some(schema::<Upserted>),
            ),
        )
        .route(
            get(vectors::get),
            op("get", "/v1/collections/{name}/vectors/{id}", "Gets a vector", None, 200, Some(schema::<StoredRecord>)),
        )
        .route(
            delete(vectors::delete),
            op("delete", "/v1/collections/{name}/vectors/{id}", "Deletes a vector", None, 200, Some(schema::<Deleted>)),
        )
        .route(
            post(search::search),
            op(
                "post",
                "/v1/collections/{name}/search",
                "k-nearest-neighbour search (through the answer cache)",
                Some(schema::<SearchBody>),
                200,
                Some(schema::<SearchAnswer>),
            ),
        )
        .route(
            post(search::search_batch),
            op(
                "post",
                "/v1/collections/{name}/search/batch",
                "Many searches over one snapshot; exact scans several share run as one matrix product",
                Some(schema::<SearchBatchBody>),
                200,
                Some(schema::<SearchBatchAnswer>),
            ),
        )
        .route(
            post(search::unified),
            op(
                "post",
                "/v1/collections/{name}/unified-search",
                "Searches every engine holding part of a partitioned collection and merges (score, RRF or max; per-engine timeout)",
                Some(schema::<UnifiedBody>),
                200,
                Some(schema::<proxima::UnifiedSearchResponse>),
            ),
        )
        .route(
            post(search::estimate),
            op(
                "post",
                "/v1/collections/{name}/query-estimate",
                "What a search would cost, or (given strategy, start_ids, user or relation_types) a hybrid query's plan",
                Some(schema::<SearchRequest>),
                200,
                Some(schema::<Estimate>),
            ),
        )
        .route(
            post(query::query),
            op(
                "post",
                "/v1/collections/{name}/query",
                "Hybrid query: vector, relations and a user's policy, by one of five strategies",
                Some(schema::<QueryRequest>),
                200,
                Some(schema::<QueryResponse>),
            ),
        )
        .route(
            post(relations::change),
            op(
                "post",
                "/v1/collections/{name}/relations",
                "Upserts and deletes edges (an edge to a missing record is reported, the rest stored)",
                Some(schema::<RelationsChange>),
                200,
                Some(schema::<RelationsChanged>),
            ),
        )
        .route(
            get(relations::of_record),
            op(
                "get",
                "/v1/collections/{name}/vectors/{id}/relations",
                "Records a walk from this one reaches (?types=&direction=&depth=&fan_out=)",
                None,
                200,
                Some(schema::<Reached>),
            ),
        )
        .route(
            put(users::put_policy),
            op(
                "put",
                "/v1/users/{user}/policy",
                "Replaces a user's stated policy (what was learned stays)",
                Some(schema::<UserPolicy>),
                200,
                Some(schema::<UserProfile>),
            ),
        )
        .route(
            get(users::get_policy),
            op("get", "/v1/users/{user}/policy", "A user's policy and what was learned", None, 200, Some(schema::<UserProfile>)),
        )
        .route(
            post(users::events),
            op(
                "post",
                "/v1/users/{user}/events",
                "Appends a user's events and learns from them",
                Some(schema::<Events>),
                200,
                Some(schema::<UserProfile>),
            ),
        )
        .route(
            post(ops::batch_execute),
            op(
                "post",
                "/v1/collections/{name}/batch-execute",
                "Applies valid operations in one write",
                Some(schema::<BatchBody>),
                200,
                Some(schema::<BatchResult>),
            ),
        )
        .route(
            get(ops::list_snapshots),
            op("get", "/v1/collections/{name}/snapshots", "Lists snapshots", None, 200, Some(schema::<SnapshotList>)),
        )
        .route(
            post(ops::create_snapshot),
            op(
                "post",
                "/v1/collections/{name}/snapshots",
                "Snapshots a collection",
                Some(schema::<SnapshotBody>),
                201,
                Some(schema::<NamespaceBackup>),
            ),
        )
        .route(
            delete(ops::delete_snapshot),
            op("delete", "/v1/collections/{name}/snapshots/{snapshot}", "Deletes a snapshot", None, 204, None),
        )
        .route(
            post(ops::restore_snapshot),
            op(
                "post",
                "/v1/collections/{name}/snapshots/{snapshot}/restore",
                "Restores a snapshot (body optional)",
                Some(schema::<RestoreBody>),
                200,
                Some(schema::<Restored>),
            ),
        )
        .route(
            get(cluster::status),
            op("get", "/v1/cluster", "Cluster mode: this node, its writer leases and every collection's lease", None, 200, None),
        )
        .route(
            get(cache::report),
            op("get", "/v1/cache", "Each cache layer's health and statistics", None, 200, Some(schema::<CacheLayers>)),
        )
        .route(
            delete(cache::invalidate),
            op("delete", "/v1/cache", "Invalidates a collection's cached answers (?collection=NAME)", None, 204, None),
        )
        .route(
            get(ops::analytics),
            op(
                "get",
                "/v1/analytics",
                "Latency, throughput and advice",
                None,
                200,
                Some(schema::<PerformanceAnalytics>),
            ),
        )
        .finish()
}
