//! The `VectorStorage` trait and the types its methods exchange.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result, VectorRecord};
use serde::{Deserialize, Serialize};

use crate::{ReadView, Segment, WriteBatch, WriteReceipt};

/// A record as stored, with the sequence number of its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StoredRecord {
    /// The record (vector in stored form, e.g. unit length under cosine).
    pub record: VectorRecord,
    /// The sequence number of this version.
    pub seq: u64,
}

/// What an engine is good at; routing reads it, callers check it before relying on a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Capabilities {
    /// Data survives a restart.
    pub persistent: bool,
    /// Segments can live on object storage (S3, GCS, Azure).
    pub object_storage: bool,
    /// Read views map files instead of copying them.
    pub zero_copy_reads: bool,
    /// Relative write throughput, 1 (slow) to 5 (fast).
    pub write_throughput: u8,
    /// Relative full-scan throughput, 1 to 5.
    pub scan_throughput: u8,
    /// Relative update/delete friendliness, 1 to 5.
    pub update_throughput: u8,
}

/// Figures about one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CollectionStats {
    /// Visible records.
    pub live_records: u64,
    /// Soft-deleted records (restorable).
    pub soft_deleted_records: u64,
    /// Rows kept only until compaction (overwritten or deleted versions).
    pub dead_rows: u64,
    /// Segments, including the write buffer.
    pub segments: u64,
    /// Approximate bytes held.
    pub bytes: u64,
    /// The highest sequence number assigned.
    pub last_seq: u64,
}

/// When compaction rewrites segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompactionPolicy {
    /// Rewrite a segment once this share of its rows is dead.
    pub min_dead_ratio: f32,
    /// Merge segments with fewer rows than this.
    pub small_segment_rows: usize,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self { min_dead_ratio: 0.2, small_segment_rows: 10_000 }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompactionReport {
    /// Segments before.
    pub segments_before: u64,
    /// Segments after.
    pub segments_after: u64,
    /// Dead rows physically removed.
    pub rows_removed: u64,
}

/// A durable name for a collection's data as it is now: equal on every node
/// that shares the collection and across restarts for the same data, and
/// different after anything that may change an answer (a write, a flush, a
/// compaction, a restore, the collection dropped and created again). Caches
/// key answers by it, so they can be shared between processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DataVersion {
    /// Chosen at random when the collection's data is created (a restore or a
    /// move creates it anew), so a name reused for other data never matches.
    pub lineage: u64,
    /// The version of the engine's durable description of its files.
    pub layout: u64,
    /// The last operation applied.
    pub seq: u64,
}

/// Builds index bytes for a sealed segment. Handed to an engine when it opens, so
/// engines store and serve indexes without depending on the index crate.
pub trait IndexBuilder: Send + Sync + std::fmt::Debug {
    /// The bytes to store beside `segment`, or `None` to attach nothing.
    fn build(&self, config: &CollectionConfig, segment: &dyn Segment) -> Result<Option<Vec<u8>>>;
}

/// A storage engine. Engines store and return data; they never rank.
#[async_trait]
pub trait VectorStorage: Send + Sync + std::fmt::Debug {
    /// The engine's registered name, e.g. `"viper"`.
    fn name(&self) -> &str;

    /// What the engine is good at.
    fn capabilities(&self) -> Capabilities;

    /// Creates a collection; `AlreadyExists` if the name is taken.
    async fn create_collection(&self, config: &CollectionConfig) -> Result<()>;

    /// Drops a collection and its data; `NotFound` if absent.
    async fn drop_collection(&self, name: &str) -> Result<()>;

    /// The collections held, by name.
    async fn list_collections(&self) -> Result<Vec<CollectionConfig>>;

    /// Declares a metadata field on an existing collection, durably: later
    /// writes are checked against its type and later segments index it;
    /// `Ok(false)` when it is declared already with that type. A record, live
    /// or soft-deleted, whose value is of another type refuses it
    /// (`InvalidArgument`) and nothing changes (see
    /// [`crate::state::CollectionState::declare_field`]).
    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool>;

    /// Applies a batch atomically; returns once durable under the collection's fsync policy.
    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt>;

    /// The newest visible version of each id, in order (`None` when absent,
    /// deleted, soft-deleted or expired).
    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>>;

    /// A snapshot of the collection for readers.
    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>>;

    /// Seals the write buffer into a segment (persisting it where the engine persists).
    async fn flush(&self, collection: &str) -> Result<()>;

    /// Rewrites segments under `policy`, removing dead rows.
    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport>;

    /// Figures about the collection.
    async fn stats(&self, collection: &str) -> Result<CollectionStats>;

    /// Writes a consistent copy of the collection into `dir`.
    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()>;

    /// Replaces (or creates) `collection` from a copy written by `checkpoint_to`.
    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()>;

    /// The collection's [`DataVersion`], or `None` where the engine cannot
    /// name its data durably (caches then keep answers to this process).
    async fn data_version(&self, _collection: &str) -> Result<Option<DataVersion>> {
        Ok(None)
    }

    /// The writer roles of an engine whose collections several nodes share
    /// (one writes each, the others follow it); `None` for an engine one
    /// process owns.
    fn shared(&self) -> Option<&dyn SharedStorage> {
        None
    }
}

/// Collections shared by several nodes through common storage: each is
/// written by the node that took it and followed by the others. Who may
/// take a collection is decided outside the engine (a lease in the
/// catalogue); the engine fences a writer that lost it.
#[async_trait]
pub trait SharedStorage: Send + Sync {
    /// Makes this node the collection's writer, fencing the one before: its
    /// later writes and flushes fail. `NotFound` if the collection does not exist.
    async fn take_writer(&self, collection: &str) -> Result<()>;

    /// Makes this node a follower of the collection: it stops writing and
    /// reads what the writer stores.
    async fn follow(&self, collection: &str) -> Result<()>;

    /// Whether this node writes the collection.
    async fn writes(&self, collection: &str) -> Result<bool>;

    /// Reads now what the writers stored (followed collections only).
    async fn refresh(&self) -> Result<()>;

    /// Calls `changed` with a collection's name each time this node applies
    /// what its writer stored (and when a followed collection appears or
    /// goes), after the change is visible to reads: what a cache of answers
    /// must drop.
    fn on_change(&self, changed: ChangeListener);

    /// Where this node is in each collection: whether it writes it, the
    /// manifest version it has loaded and the last operation it applied.
    async fn positions(&self) -> Result<Vec<SharedPosition>>;
}

/// Told the name of each collection a follower changed (see [`SharedStorage::on_change`]).
pub type ChangeListener = Arc<dyn Fn(&str) + Send + Sync>;

/// A node's place in one shared collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SharedPosition {
    /// The collection.
    pub collection: String,
    /// Whether this node writes it (else it follows).
    pub writes: bool,
    /// The version of the collection's manifest this node has loaded.
    pub manifest_version: u64,
    /// The epoch of the writer that stored that manifest.
    pub writer_epoch: u64,
    /// The sequence number of the last operation this node applied.
    pub applied_seq: u64,
}
