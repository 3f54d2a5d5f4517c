//! The contract every relation store keeps: edges of each collection, and
//! each user's profile.

use proxima_core::Result;

use crate::edge::{Direction, Edge, EdgeKey};
use crate::policy::{ResolvedEvent, UserPolicy, UserProfile};
use crate::traverse::{Neighbour, Step, Traversal};

/// Where relations and user profiles live. Every change is durable when its
/// call returns. Callers validate edges, traversals and policies first
/// ([`Edge::validate`], [`Traversal::validate`], [`UserPolicy::validate`]);
/// stores check nothing about records (they do not know them).
#[async_trait::async_trait]
pub trait RelationStore: Send + Sync + std::fmt::Debug {
    /// The connection-string scheme this store answers to.
    fn scheme(&self) -> &'static str;

    /// Inserts edges; an edge whose key exists gets the new weight.
    async fn upsert_edges(&self, collection: &str, edges: Vec<Edge>) -> Result<()>;

    /// Deletes edges by key; how many existed.
    async fn delete_edges(&self, collection: &str, keys: Vec<EdgeKey>) -> Result<u64>;

    /// Deletes every edge touching one of `ids` (their records are gone); how many.
    async fn remove_records(&self, collection: &str, ids: Vec<String>) -> Result<u64>;

    /// Makes `edges` the collection's only edges (a restore; empty for a drop).
    async fn replace_collection(&self, collection: &str, edges: Vec<Edge>) -> Result<()>;

    /// Every edge of the collection, sorted by key (a snapshot).
    async fn export_collection(&self, collection: &str) -> Result<Vec<Edge>>;

    /// How many edges the collection has.
    async fn edge_count(&self, collection: &str) -> Result<u64>;

    /// The records the traversal reaches (see [`crate::traverse`] for the scoring).
    async fn traverse(&self, collection: &str, traversal: &Traversal) -> Result<Vec<Neighbour>>;

    /// For each of `ids`, its first `fan_out` steps in step order (one hop).
    async fn steps_of(
        &self,
        collection: &str,
        ids: &[String],
        types: &[String],
        direction: Direction,
        fan_out: usize,
    ) -> Result<Vec<Vec<Step>>>;

    /// A user's profile; `None` for a user never seen.
    async fn profile(&self, user: &str) -> Result<Option<UserProfile>>;

    /// Replaces a user's stated policy (what was learned stays).
    async fn put_policy(&self, user: &str, policy: UserPolicy) -> Result<UserProfile>;

    /// Appends events and applies them by the learning rule, in order.
    async fn record_events(&self, user: &str, events: Vec<ResolvedEvent>) -> Result<UserProfile>;
}
