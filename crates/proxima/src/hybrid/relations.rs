//! Relations and users through `Proxima`: endpoints checked against the
//! records, policies against the declared fields, events resolved to the
//! item's field values before they are stored.

use std::collections::{BTreeSet, HashSet};

use proxima_core::{Error, Result, now_unix_secs};
use proxima_hybrid::{
    Edge, EdgeKey, Event, Neighbour, ResolvedEvent, Traversal, UserPolicy, UserProfile, validate_user,
};
use serde::{Deserialize, Serialize};

use crate::Proxima;

/// Most edges (upserts plus deletes) in one call.
pub const MAX_EDGES_PER_CALL: usize = 10_000;
/// Most events in one call.
pub const MAX_EVENTS_PER_CALL: usize = 1_000;

/// A batch of edge changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RelationsChange {
    /// Edges to insert or re-weight.
    #[serde(default)]
    pub upsert: Vec<Edge>,
    /// Edges to delete, by key.
    #[serde(default)]
    pub delete: Vec<EdgeKey>,
}

/// An edge that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EdgeError {
    /// Its position in `upsert`.
    pub index: usize,
    /// Why.
    pub message: String,
}

/// What a batch of edge changes did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RelationsChanged {
    /// Edges stored.
    pub upserted: usize,
    /// Edges that existed and were deleted.
    pub deleted: u64,
    /// Edges refused because an endpoint does not exist.
    pub errors: Vec<EdgeError>,
}

impl Proxima {
    /// Upserts and deletes edges of `collection`. A malformed edge refuses the
    /// whole call (nothing changes); an edge whose endpoint does not exist is
    /// reported in `errors` and the others are stored.
    pub async fn change_relations(&self, collection: &str, change: RelationsChange) -> Result<RelationsChanged> {
        self.collection(collection).await?;
        if change.upsert.len() + change.delete.len() > MAX_EDGES_PER_CALL {
            return Err(Error::invalid(format!("at most {MAX_EDGES_PER_CALL} edge changes per call")));
        }
        for (i, edge) in change.upsert.iter().enumerate() {
            edge.validate().map_err(|e| Error::invalid(format!("upsert[{i}]: {}", e.message())))?;
        }
        for (i, key) in change.delete.iter().enumerate() {
            key.validate().map_err(|e| Error::invalid(format!("delete[{i}]: {}", e.message())))?;
        }
        let endpoints: Vec<String> = change
            .upsert
            .iter()
            .flat_map(|e| [e.from.clone(), e.to.clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let missing: HashSet<String> = self.missing_ids(collection, endpoints).await?;
        let mut errors = Vec::new();
        let mut stored = Vec::with_capacity(change.upsert.len());
        for (index, edge) in change.upsert.into_iter().enumerate() {
            let absent = [&edge.from, &edge.to].into_iter().find(|id| missing.contains(*id)).cloned();
            match absent {
                Some(id) => errors.push(EdgeError { index, message: format!("record `{id}` does not exist") }),
                None => stored.push(edge),
            }
        }
        let upserted = stored.len();
        self.relations.upsert_edges(collection, stored).await?;
        let deleted = self.relations.delete_edges(collection, change.delete).await?;
        // Cached answers may have walked the old edges.
        self.cache_invalidate(collection).await;
        Ok(RelationsChanged { upserted, deleted, errors })
    }

    /// The live records a walk from `id` reaches (`traversal.start_ids` is
    /// replaced by `id`, which must exist).
    pub async fn relations_of(&self, collection: &str, id: &str, mut traversal: Traversal) -> Result<Vec<Neighbour>> {
        traversal.start_ids = vec![id.to_string()];
        traversal.validate()?;
        if !self.missing_ids(collection, vec![id.to_string()]).await?.is_empty() {
            return Err(Error::not_found(format!("no record `{id}` in `{collection}`")));
        }
        let reached = self.relations.traverse(collection, &traversal).await?;
        let ids: Vec<String> = reached.iter().map(|n| n.id.clone()).collect();
        let gone = self.missing_ids(collection, ids).await?;
        Ok(reached.into_iter().filter(|n| !gone.contains(&n.id)).collect())
    }

    /// Every edge of `collection`, sorted by key.
    pub async fn export_relations(&self, collection: &str) -> Result<Vec<Edge>> {
        self.collection(collection).await?;
        self.relations.export_collection(collection).await
    }

    /// A user's profile: the stated policy and what was learned (neutral for a user never seen).
    pub async fn user_profile(&self, user: &str) -> Result<UserProfile> {
        validate_user(user)?;
        Ok(self.relations.profile(user).await?.unwrap_or_default())
    }

    /// Replaces a user's stated policy. Each preference must name a field
    /// some collection declares, with a value of the declared type.
    pub async fn put_user_policy(&self, user: &str, policy: UserPolicy) -> Result<UserProfile> {
        validate_user(user)?;
        policy.validate()?;
        let collections = self.list_collections().await?;
        for p in &policy.preferences {
            let declared: Vec<_> = collections.iter().filter_map(|c| c.field_type(&p.field)).collect();
            if declared.is_empty() {
                return Err(Error::invalid(format!(
                    "preference field `{}` is declared by no collection; declare it to rank by it",
                    p.field
                )));
            }
            if let Some(ty) = declared.iter().find(|ty| !ty.accepts(&p.value)) {
                return Err(Error::invalid(format!(
                    "preference for `{}` has value {}, but the field is declared {ty:?}",
                    p.field, p.value
                )));
            }
        }
        self.relations.put_policy(user, policy).await
    }

    /// Stores a user's events on items of `collection` and learns from them.
    /// Every item must exist; otherwise nothing is stored.
    pub async fn record_user_events(&self, user: &str, collection: &str, events: Vec<Event>) -> Result<UserProfile> {
        validate_user(user)?;
        let config = self.collection(collection).await?;
        if events.is_empty() || events.len() > MAX_EVENTS_PER_CALL {
            return Err(Error::invalid(format!("send 1..={MAX_EVENTS_PER_CALL} events per call")));
        }
        events.iter().try_for_each(Event::validate)?;
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let records = self.get(collection, &ids).await?;
        let at_ms = now_unix_secs() * 1000;
        let mut resolved = Vec::with_capacity(events.len());
        for (event, record) in events.into_iter().zip(records) {
            let record =
                record.ok_or_else(|| Error::not_found(format!("no record `{}` in `{collection}`", event.id)))?;
            let fields = config
                .fields
                .iter()
                .filter(|f| f.ty != proxima_core::FieldType::Float)
                .flat_map(|f| {
                    let values = match proxima_core::filter::lookup(&record.record.metadata, &f.name) {
                        Some(serde_json::Value::Array(items)) => items.clone(),
                        Some(value) => vec![value.clone()],
                        None => Vec::new(),
                    };
                    values.into_iter().filter(|v| f.ty.accepts(v)).map(|v| (f.name.clone(), v))
                })
                .collect();
            resolved.push(ResolvedEvent { collection: collection.to_string(), event, at_ms, fields });
        }
        self.relations.record_events(user, resolved).await
    }

    /// The ids of `ids` with no live record.
    async fn missing_ids(&self, collection: &str, ids: Vec<String>) -> Result<HashSet<String>> {
        let now = now_unix_secs();
        let mut missing = HashSet::new();
        for chunk in ids.chunks(1_000) {
            let found = self.get(collection, chunk).await?;
            for (id, record) in chunk.iter().zip(found) {
                if record.is_none_or(|r| r.record.is_expired(now)) {
                    missing.insert(id.clone());
                }
            }
        }
        Ok(missing)
    }
}
