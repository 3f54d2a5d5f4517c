//! An obviously-correct model of a collection, to compare engines against.

use std::collections::BTreeMap;

use proxima_core::{CollectionConfig, Metadata, now_unix_secs};

use super::{CaseError, Row, prepared};
use crate::{Presence, WriteBatch, WriteOp, check_presence};

#[derive(Debug, Clone)]
struct Entry {
    row: Row,
    expires_at: Option<u64>,
    soft_deleted: bool,
}

/// The expected state of one collection.
#[derive(Debug, Clone)]
pub struct Model {
    config: CollectionConfig,
    entries: BTreeMap<String, Entry>,
}

impl Model {
    /// An empty collection with `config`.
    pub fn new(config: CollectionConfig) -> Self {
        Self { config, entries: BTreeMap::new() }
    }

    /// Where `id` stands now.
    pub fn presence(&self, id: &str) -> Presence {
        let now = now_unix_secs();
        match self.entries.get(id) {
            None => Presence::Absent,
            Some(e) if e.soft_deleted => Presence::SoftDeleted,
            Some(e) if e.expires_at.is_some_and(|at| at <= now) => Presence::Absent,
            Some(_) => Presence::Live,
        }
    }

    /// Applies a batch an engine accepted with sequence numbers from `first_seq`.
    pub fn apply(&mut self, batch: WriteBatch, first_seq: u64) -> Result<(), CaseError> {
        check_presence(&batch, |id| self.presence(id))
            .map_err(|e| CaseError(format!("the engine accepted a batch the model refuses: {e}")))?;
        let ops = prepared(&batch, &self.config)?;
        for (i, op) in ops.into_iter().enumerate() {
            let seq = first_seq + i as u64;
            match op {
                WriteOp::Upsert(r) => {
                    let row = Row { vector: r.vector, metadata: r.metadata, seq };
                    self.entries.insert(r.id, Entry { row, expires_at: r.expires_at, soft_deleted: false });
                }
                WriteOp::Delete { id } => {
                    self.entries.remove(&id);
                }
                WriteOp::UpdateMetadata { id, metadata } => {
                    let e = self.entries.get_mut(&id).expect("checked live");
                    e.row.metadata = metadata;
                    e.row.seq = seq;
                }
                WriteOp::SoftDelete { id } => self.entries.get_mut(&id).expect("checked").soft_deleted = true,
                WriteOp::Restore { id } => self.entries.get_mut(&id).expect("checked").soft_deleted = false,
            }
        }
        Ok(())
    }

    /// The visible rows by id.
    pub fn visible(&self) -> BTreeMap<String, Row> {
        self.entries
            .iter()
            .filter(|(id, _)| self.presence(id) == Presence::Live)
            .map(|(id, e)| (id.clone(), e.row.clone()))
            .collect()
    }

    /// Ids the model holds in any state.
    pub fn ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// The metadata of `id`, if held.
    pub fn metadata(&self, id: &str) -> Option<&Metadata> {
        self.entries.get(id).map(|e| &e.row.metadata)
    }
}

/// A small deterministic generator for random workloads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A random batch of 1–8 operations over ids `id0..id39` that the model accepts.
pub fn random_batch(rng: &mut Rng, model: &Model, dimension: u32) -> WriteBatch {
    let mut batch = WriteBatch::new();
    let mut scratch = model.clone();
    for _ in 0..1 + rng.below(8) {
        let n = rng.below(40);
        let id = format!("id{n}");
        let op = match (rng.below(10), scratch.presence(&id)) {
            (0..=4, _) => WriteOp::Upsert(
                proxima_core::VectorRecord::new(id, super::vector(n * 1000 + rng.below(1000), dimension))
                    .with_metadata(serde_json::json!({"n": n, "r": rng.below(5)})),
            ),
            (5..=6, _) => WriteOp::Delete { id },
            (7, Presence::Live) => {
                let metadata = serde_json::json!({"updated": rng.below(100)}).as_object().cloned().unwrap_or_default();
                WriteOp::UpdateMetadata { id, metadata }
            }
            (8, Presence::Live) => WriteOp::SoftDelete { id },
            (_, Presence::SoftDeleted) => WriteOp::Restore { id },
            _ => WriteOp::Delete { id },
        };
        let single = WriteBatch { ops: vec![op.clone()] };
        // Keep the scratch model in step so later operations see earlier ones.
        if scratch.apply(single, 1).is_ok() {
            batch.ops.push(op);
        }
    }
    batch
}
