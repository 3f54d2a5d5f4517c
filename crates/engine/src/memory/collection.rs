//! One in-memory collection: sealed chunks, the write buffer and an id index.

use std::collections::HashMap;
use std::sync::Arc;

use proxima_core::{CollectionConfig, Metadata, Result, VectorRecord};
use serde::{Deserialize, Serialize};

use super::chunk::{Chunk, Sealed, View};
use crate::{
    Bitmap, CollectionStats, IndexBuilder, Presence, ReadView, Segment, StoredRecord, Tombstone, WriteBatch, WriteOp,
    WriteReceipt, check_presence,
};

/// Views freeze the write buffer; past this many chunks they are merged.
const MAX_CHUNKS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Sealed(usize),
    Active,
}

/// Where the newest version of an id lives.
#[derive(Debug, Clone, Copy)]
struct Loc {
    slot: Slot,
    row: usize,
    soft_deleted: bool,
}

/// A collection's state; the engine wraps it in a mutex.
#[derive(Debug)]
pub(super) struct MemCollection {
    pub(super) config: CollectionConfig,
    next_seq: u64,
    next_segment_id: u64,
    sealed: Vec<Sealed>,
    active: Chunk,
    active_live: Bitmap,
    locate: HashMap<String, Loc>,
    /// Deleted and soft-deleted ids with the sequence that hid them.
    hidden: HashMap<String, u64>,
    tombstones: Option<Arc<[Tombstone]>>,
    index_builder: Option<Arc<dyn IndexBuilder>>,
}

/// The portable form `checkpoint_to` writes.
#[derive(Serialize, Deserialize)]
pub(super) struct Checkpoint {
    pub(super) config: CollectionConfig,
    next_seq: u64,
    records: Vec<CheckpointRecord>,
    deleted: Vec<Tombstone>,
}

#[derive(Serialize, Deserialize)]
struct CheckpointRecord {
    record: VectorRecord,
    seq: u64,
    soft_deleted_at: Option<u64>,
}

impl MemCollection {
    pub(super) fn new(config: CollectionConfig, index_builder: Option<Arc<dyn IndexBuilder>>) -> Self {
        let dimension = config.dimension as usize;
        Self {
            config,
            next_seq: 1,
            next_segment_id: 1,
            sealed: Vec::new(),
            active: Chunk::new(0, dimension),
            active_live: Bitmap::default(),
            locate: HashMap::new(),
            hidden: HashMap::new(),
            tombstones: None,
            index_builder,
        }
    }

    fn chunk(&self, slot: Slot) -> &Chunk {
        match slot {
            Slot::Active => &self.active,
            Slot::Sealed(i) => &self.sealed[i].data,
        }
    }

    fn presence(&self, id: &str, now: u64) -> Presence {
        match self.locate.get(id) {
            None => Presence::Absent,
            Some(loc) if loc.soft_deleted => Presence::SoftDeleted,
            Some(loc) if self.chunk(loc.slot).expires_at[loc.row].is_some_and(|at| at <= now) => Presence::Absent,
            Some(_) => Presence::Live,
        }
    }

    /// Applies a batch already passed through `prepare_batch`.
    pub(super) fn write(&mut self, batch: WriteBatch, now: u64) -> Result<WriteReceipt> {
        check_presence(&batch, |id| self.presence(id, now))?;
        let first_seq = self.next_seq;
        for op in batch.ops {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.apply(op, seq);
        }
        Ok(WriteReceipt { first_seq, last_seq: self.next_seq - 1 })
    }

    fn apply(&mut self, op: WriteOp, seq: u64) {
        match op {
            WriteOp::Upsert(r) => {
                self.unhide(&r.id);
                self.push_version(r.id, seq, None, r.metadata, r.expires_at, Some(r.vector));
            }
            WriteOp::Delete { id } => {
                if let Some(loc) = self.locate.remove(&id) {
                    self.set_live(loc, false);
                }
                self.hide(id, seq);
            }
            WriteOp::UpdateMetadata { id, metadata } => {
                let loc = self.locate[&id];
                let expires_at = self.chunk(loc.slot).expires_at[loc.row];
                self.push_version(id, seq, Some(loc), metadata, expires_at, None);
            }
            WriteOp::SoftDelete { id } => {
                let loc = self.locate.get_mut(&id).expect("checked live");
                loc.soft_deleted = true;
                let loc = *loc;
                self.set_live(loc, false);
                self.hide(id, seq);
            }
            WriteOp::Restore { id } => {
                let loc = self.locate.get_mut(&id).expect("checked soft-deleted");
                loc.soft_deleted = false;
                let loc = *loc;
                self.set_live(loc, true);
                self.unhide(&id);
            }
        }
    }

    /// Appends a new version of `id`; with `vector` absent it copies the old version's.
    fn push_version(
        &mut self,
        id: String,
        seq: u64,
        old: Option<Loc>,
        metadata: Metadata,
        expires_at: Option<u64>,
        vector: Option<Vec<f32>>,
    ) {
        let old = old.or_else(|| self.locate.get(&id).copied());
        let vector = match (vector, old) {
            (Some(v), _) => v,
            (None, Some(loc)) => self.chunk(loc.slot).vector(loc.row).to_vec(),
            (None, None) => unreachable!("metadata update of an absent record passed the presence check"),
        };
        if let Some(loc) = old {
            self.set_live(loc, false);
        }
        let row = self.active.push(id.clone(), seq, &vector, metadata, expires_at);
        self.active_live.push(true);
        self.locate.insert(id, Loc { slot: Slot::Active, row, soft_deleted: false });
    }

    fn set_live(&mut self, loc: Loc, live: bool) {
        match loc.slot {
            Slot::Active => self.active_live.set(loc.row, live),
            // Copy-on-write: views holding the old bitmap keep their snapshot.
            Slot::Sealed(i) => Arc::make_mut(&mut self.sealed[i].live).set(loc.row, live),
        }
    }

    fn hide(&mut self, id: String, seq: u64) {
        self.hidden.insert(id, seq);
        self.tombstones = None;
    }

    fn unhide(&mut self, id: &str) {
        if self.hidden.remove(id).is_some() {
            self.tombstones = None;
        }
    }

    pub(super) fn get(&self, id: &str, now: u64) -> Option<StoredRecord> {
        let loc = self.locate.get(id)?;
        if self.presence(id, now) != Presence::Live {
            return None;
        }
        let chunk = self.chunk(loc.slot);
        Some(StoredRecord {
            record: VectorRecord {
                id: id.to_string(),
                vector: chunk.vector(loc.row).to_vec(),
                metadata: chunk.metadata[loc.row].clone(),
                expires_at: chunk.expires_at[loc.row],
            },
            seq: chunk.seqs[loc.row],
        })
    }

    /// Freezes the write buffer into a sealed chunk, running the index hook.
    pub(super) fn seal(&mut self) -> Result<()> {
        if self.active.len() == 0 {
            return Ok(());
        }
        let segment_id = self.next_segment_id;
        let mut data = std::mem::replace(&mut self.active, Chunk::new(0, self.config.dimension as usize));
        data.segment_id = segment_id;
        let live = std::mem::take(&mut self.active_live);
        self.install(data, live)?;
        self.next_segment_id += 1;
        Ok(())
    }

    /// Adds a sealed chunk and repoints the ids whose newest version it holds.
    fn install(&mut self, data: Chunk, live: Bitmap) -> Result<()> {
        let mut sealed = Sealed { data: Arc::new(data), live: Arc::new(live), index: None };
        if let Some(builder) = &self.index_builder {
            sealed.index = builder.build(&self.config, &sealed)?.map(Arc::from);
        }
        let slot = Slot::Sealed(self.sealed.len());
        for (row, id) in sealed.data.ids.iter().enumerate() {
            if let Some(loc) = self.locate.get_mut(id)
                && loc.slot == Slot::Active
                && loc.row == row
            {
                loc.slot = slot;
            }
        }
        self.sealed.push(sealed);
        Ok(())
    }

    pub(super) fn view(&mut self) -> Result<Arc<dyn ReadView>> {
        self.seal()?;
        if self.sealed.len() > MAX_CHUNKS {
            self.compact_all()?;
        }
        let tombstones = self.tombstones.get_or_insert_with(|| {
            let mut t: Vec<Tombstone> =
                self.hidden.iter().map(|(id, seq)| Tombstone { id: id.clone(), seq: *seq }).collect();
            t.sort_by(|a, b| a.id.cmp(&b.id));
            t.into()
        });
        Ok(Arc::new(View {
            config: self.config.clone(),
            seq: self.next_seq - 1,
            segments: self.sealed.iter().map(|s| Arc::new(s.clone()) as Arc<dyn Segment>).collect(),
            tombstones: Arc::clone(tombstones),
        }))
    }

    fn total_rows(&self) -> usize {
        self.sealed.iter().map(|s| s.data.len()).sum::<usize>() + self.active.len()
    }

    /// Rewrites everything into one chunk of the newest versions; returns rows removed.
    pub(super) fn compact_all(&mut self) -> Result<u64> {
        self.seal()?;
        let before = self.total_rows();
        let mut keep: Vec<(String, Loc)> = self.locate.iter().map(|(id, loc)| (id.clone(), *loc)).collect();
        keep.sort_by_key(|(_, loc)| self.chunk(loc.slot).seqs[loc.row]);
        let mut data = Chunk::new(self.next_segment_id, self.config.dimension as usize);
        let mut live = Bitmap::default();
        for (id, loc) in &keep {
            let chunk = self.chunk(loc.slot);
            data.push(
                id.clone(),
                chunk.seqs[loc.row],
                chunk.vector(loc.row),
                chunk.metadata[loc.row].clone(),
                chunk.expires_at[loc.row],
            );
            live.push(!loc.soft_deleted);
        }
        let old_sealed = std::mem::take(&mut self.sealed);
        for (row, (id, loc)) in keep.into_iter().enumerate() {
            self.locate.insert(id, Loc { slot: Slot::Active, row, soft_deleted: loc.soft_deleted });
        }
        if let Err(e) = self.install(data, live) {
            // Keep the collection readable if the index hook fails.
            self.sealed = old_sealed;
            self.rebuild_locate();
            return Err(e);
        }
        self.next_segment_id += 1;
        // Only soft deletions must outlive compaction (they can be restored).
        let locate = &self.locate;
        self.hidden.retain(|id, _| locate.get(id).is_some_and(|l| l.soft_deleted));
        self.tombstones = None;
        Ok((before - self.total_rows()) as u64)
    }

    fn rebuild_locate(&mut self) {
        let soft: HashMap<String, bool> = self.locate.iter().map(|(id, l)| (id.clone(), l.soft_deleted)).collect();
        self.locate.clear();
        for (i, s) in self.sealed.iter().enumerate() {
            for (row, id) in s.data.ids.iter().enumerate() {
                let soft_deleted = soft.get(id).copied().unwrap_or(false);
                if s.live.get(row) || soft_deleted {
                    self.locate.insert(id.clone(), Loc { slot: Slot::Sealed(i), row, soft_deleted });
                }
            }
        }
    }

    pub(super) fn dead_ratio(&self) -> f32 {
        let total = self.total_rows();
        if total == 0 { 0.0 } else { (total - self.locate.len()) as f32 / total as f32 }
    }

    pub(super) fn chunk_count(&self) -> usize {
        self.sealed.len() + usize::from(self.active.len() > 0)
    }

    pub(super) fn stats(&self, now: u64) -> CollectionStats {
        let soft = self.locate.values().filter(|l| l.soft_deleted).count() as u64;
        let live = self.locate.keys().filter(|id| self.presence(id, now) == Presence::Live).count() as u64;
        CollectionStats {
            live_records: live,
            soft_deleted_records: soft,
            dead_rows: (self.total_rows() - self.locate.len()) as u64,
            segments: self.chunk_count() as u64,
            bytes: self.sealed.iter().map(|s| s.data.approx_bytes()).sum::<u64>() + self.active.approx_bytes(),
            last_seq: self.next_seq - 1,
        }
    }

    pub(super) fn checkpoint(&self) -> Checkpoint {
        let mut records: Vec<CheckpointRecord> = self
            .locate
            .iter()
            .map(|(id, loc)| {
                let chunk = self.chunk(loc.slot);
                CheckpointRecord {
                    record: VectorRecord {
                        id: id.clone(),
                        vector: chunk.vector(loc.row).to_vec(),
                        metadata: chunk.metadata[loc.row].clone(),
                        expires_at: chunk.expires_at[loc.row],
                    },
                    seq: chunk.seqs[loc.row],
                    soft_deleted_at: if loc.soft_deleted { self.hidden.get(id).copied() } else { None },
                }
            })
            .collect();
        records.sort_by_key(|r| r.seq);
        let deleted = self
            .hidden
            .iter()
            .filter(|(id, _)| !self.locate.contains_key(*id))
            .map(|(id, seq)| Tombstone { id: id.clone(), seq: *seq })
            .collect();
        Checkpoint { config: self.config.clone(), next_seq: self.next_seq, records, deleted }
    }

    pub(super) fn from_checkpoint(
        checkpoint: Checkpoint,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let mut c = Self::new(checkpoint.config, index_builder);
        c.next_seq = checkpoint.next_seq;
        for r in checkpoint.records {
            let id = r.record.id.clone();
            c.push_version(r.record.id, r.seq, None, r.record.metadata, r.record.expires_at, Some(r.record.vector));
            if let Some(seq) = r.soft_deleted_at {
                let loc = c.locate.get_mut(&id).expect("just pushed");
                loc.soft_deleted = true;
                let loc = *loc;
                c.set_live(loc, false);
                c.hide(id, seq);
            }
        }
        for t in checkpoint.deleted {
            c.hide(t.id, t.seq);
        }
        c.seal()?;
        Ok(c)
    }
}
