//! Write batches: what they hold, and the checks every engine runs before applying one.

use std::collections::HashMap;

use proxima_core::{CollectionConfig, Error, Metadata, Result, VectorRecord, validate};
use serde::{Deserialize, Serialize};

/// One change to a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WriteOp {
    /// Insert or replace a record.
    Upsert(VectorRecord),
    /// Remove a record (a no-op, still sequenced, if it does not exist).
    Delete {
        /// The record's id.
        id: String,
    },
    /// Replace a live record's metadata, keeping its vector.
    UpdateMetadata {
        /// The record's id.
        id: String,
        /// The new metadata object.
        #[serde(with = "proxima_core::json_text")]
        #[cfg_attr(feature = "schema", schemars(with = "Metadata"))]
        metadata: Metadata,
    },
    /// Hide a live record until it is restored.
    SoftDelete {
        /// The record's id.
        id: String,
    },
    /// Bring back a soft-deleted record.
    Restore {
        /// The record's id.
        id: String,
    },
}

impl WriteOp {
    /// The id the operation touches.
    pub fn id(&self) -> &str {
        match self {
            WriteOp::Upsert(r) => &r.id,
            WriteOp::Delete { id }
            | WriteOp::UpdateMetadata { id, .. }
            | WriteOp::SoftDelete { id }
            | WriteOp::Restore { id } => id,
        }
    }
}

/// Operations applied atomically, in order; each gets its own sequence number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WriteBatch {
    /// The operations.
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an upsert.
    pub fn upsert(mut self, record: VectorRecord) -> Self {
        self.ops.push(WriteOp::Upsert(record));
        self
    }

    /// Adds a delete.
    pub fn delete(mut self, id: impl Into<String>) -> Self {
        self.ops.push(WriteOp::Delete { id: id.into() });
        self
    }

    /// Adds a metadata replacement.
    pub fn update_metadata(mut self, id: impl Into<String>, metadata: Metadata) -> Self {
        self.ops.push(WriteOp::UpdateMetadata { id: id.into(), metadata });
        self
    }

    /// Adds a soft delete.
    pub fn soft_delete(mut self, id: impl Into<String>) -> Self {
        self.ops.push(WriteOp::SoftDelete { id: id.into() });
        self
    }

    /// Adds a restore.
    pub fn restore(mut self, id: impl Into<String>) -> Self {
        self.ops.push(WriteOp::Restore { id: id.into() });
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl From<Vec<VectorRecord>> for WriteBatch {
    fn from(records: Vec<VectorRecord>) -> Self {
        Self { ops: records.into_iter().map(WriteOp::Upsert).collect() }
    }
}

/// The sequence numbers a batch received: `first_seq..=last_seq`, one per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WriteReceipt {
    /// The first operation's sequence number.
    pub first_seq: u64,
    /// The last operation's sequence number.
    pub last_seq: u64,
}

/// Validates every operation against the collection and brings records into
/// their stored form: cosine vectors normalised, the default TTL applied.
/// Nothing is changed on error, so callers may run it before taking locks.
pub fn prepare_batch(batch: &mut WriteBatch, config: &CollectionConfig, now: u64) -> Result<()> {
    for (i, op) in batch.ops.iter_mut().enumerate() {
        let at = |e: Error| e.with_context("operation", i);
        match op {
            WriteOp::Upsert(record) => {
                validate::record(record, config).map_err(at)?;
                config.metric.prepare(&mut record.vector).map_err(|e| at(e.with_context("id", &record.id)))?;
                if record.expires_at.is_none() {
                    record.expires_at = config.default_ttl_secs.map(|ttl| now.saturating_add(ttl));
                }
            }
            WriteOp::UpdateMetadata { id, metadata } => {
                validate::record_id(id).map_err(at)?;
                validate::metadata(metadata, config).map_err(|e| at(e.with_context("id", id.as_str())))?;
            }
            WriteOp::Delete { id } | WriteOp::SoftDelete { id } | WriteOp::Restore { id } => {
                validate::record_id(id).map_err(at)?;
            }
        }
    }
    Ok(())
}

/// Where an id stands before a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// No record (never written, deleted, or expired).
    Absent,
    /// A visible record.
    Live,
    /// A soft-deleted record.
    SoftDeleted,
}

/// Checks that each operation applies to the state the earlier ones leave:
/// metadata updates and soft deletes need a live record, restores a soft-deleted
/// one. `current` reports an id's state before the batch.
pub fn check_presence(batch: &WriteBatch, mut current: impl FnMut(&str) -> Presence) -> Result<()> {
    // Upserts and deletes apply whatever the state: a batch of only those (the
    // usual ingest) needs no lookups.
    if batch.ops.iter().all(|op| matches!(op, WriteOp::Upsert(_) | WriteOp::Delete { .. })) {
        return Ok(());
    }
    let mut overlay: HashMap<&str, Presence, ahash::RandomState> = HashMap::default();
    for (i, op) in batch.ops.iter().enumerate() {
        let id = op.id();
        let mut before = || match overlay.get(id) {
            Some(p) => *p,
            None => current(id),
        };
        let (required, after) = match op {
            WriteOp::Upsert(_) => (None, Presence::Live),
            WriteOp::Delete { .. } => (None, Presence::Absent),
            WriteOp::UpdateMetadata { .. } => (Some(Presence::Live), Presence::Live),
            WriteOp::SoftDelete { .. } => (Some(Presence::Live), Presence::SoftDeleted),
            WriteOp::Restore { .. } => (Some(Presence::SoftDeleted), Presence::Live),
        };
        if let Some(required) = required
            && before() != required
        {
            let what = if required == Presence::Live { "live" } else { "soft-deleted" };
            return Err(Error::not_found(format!("no {what} record with id `{id}`"))
                .with_context("operation", i)
                .with_context("id", id));
        }
        overlay.insert(id, after);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proxima_core::{DistanceMetric, ErrorKind};

    use super::*;

    #[test]
    fn prepare_normalises_and_applies_default_ttl() {
        let mut config = CollectionConfig::new("c", 2).with_metric(DistanceMetric::Cosine);
        config.default_ttl_secs = Some(60);
        let mut batch = WriteBatch::new().upsert(VectorRecord::new("a", vec![3.0, 4.0]));
        prepare_batch(&mut batch, &config, 1000).unwrap();
        let WriteOp::Upsert(r) = &batch.ops[0] else { panic!() };
        assert_eq!(r.vector, vec![0.6, 0.8]);
        assert_eq!(r.expires_at, Some(1060));
    }

    #[test]
    fn prepare_reports_the_failing_operation() {
        let config = CollectionConfig::new("c", 2);
        let mut batch =
            WriteBatch::new().upsert(VectorRecord::new("a", vec![1.0, 0.0])).upsert(VectorRecord::new("b", vec![1.0]));
        let err = prepare_batch(&mut batch, &config, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.context("operation"), Some("1"));
    }

    #[test]
    fn presence_follows_earlier_operations() {
        let absent = |_: &str| Presence::Absent;
        let ok = WriteBatch::new().upsert(VectorRecord::new("a", vec![1.0])).soft_delete("a").restore("a");
        assert!(check_presence(&ok, absent).is_ok());
        let bad = WriteBatch::new()
            .upsert(VectorRecord::new("a", vec![1.0]))
            .delete("a")
            .update_metadata("a", Metadata::new());
        assert_eq!(check_presence(&bad, absent).unwrap_err().kind(), ErrorKind::NotFound);
        assert!(check_presence(&WriteBatch::new().restore("x"), |_| Presence::Live).is_err());
    }
}
