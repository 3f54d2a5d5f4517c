//! One mmap collection: the log, the vector file, the slot table, and the
//! bookkeeping that keeps read views consistent while slots are reused.
//!
//! Every version of a record takes a fresh slot (a view may be reading the old
//! one); the old slot turns `Dead`. Dead slots become free at a checkpoint, and
//! only once no living view was made before they died. Free slots are handed
//! out again only after the checkpoint recording them as free is durable, so a
//! crash can never find a live row of the last checkpoint overwritten: every
//! slot rewritten since was freed by an operation the log still holds.

use std::collections::HashMap as StdHashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use proxima_core::{CollectionConfig, Error, FieldSpec, Result, VectorRecord, now_unix_secs};
use proxima_engine::state::{CHECKPOINT_FILE, Checkpoint, Chunk, CollectionState};
use proxima_engine::{
    Bitmap, CollectionStats, HiddenIds, IndexBuilder, Presence, ReadView, Segment, Snapshot, StoredRecord, Tombstone,
    WriteBatch, WriteOp, WriteReceipt, check_presence, prepare_batch,
};
use proxima_wal::{Wal, WalOptions};

use crate::slot_file::{self, SlotsFile, StoredSlot};
use crate::slot_table::{SlotRow, SlotState, SlotTable};
use crate::vector_file::VectorFile;
use crate::view::{Earlier, MmapSegment};

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

const WAL_DIR: &str = "wal";

pub(crate) struct MmapCollection {
    dir: PathBuf,
    config: CollectionConfig,
    wal: Wal<WriteOp>,
    file: VectorFile,
    slots: SlotTable,
    /// Slots holding a visible version (`Live`), shared copy-on-write with views.
    live: Arc<Bitmap>,
    /// Id → slot of its newest version (live or soft-deleted).
    locate: HashMap<String, u32>,
    /// Deleted and soft-deleted ids with the sequence that hid them.
    hidden: HiddenIds<u64>,
    free: Vec<u32>,
    /// Dead slots with the view epoch at which they died.
    dead: Vec<(u64, u32)>,
    /// Living views by the epoch they were made in.
    views: Vec<(u64, Weak<()>)>,
    epoch: u64,
    next_seq: u64,
    /// Bumped by every applied batch: the segment id of views, and what index bytes are for.
    generation: u64,
    /// Index bytes for `generation`, set by `flush` (the segment is sealed until the next write).
    sealed: Option<Option<Arc<[u8]>>>,
    /// While unsealed: the index of the last sealed state and what changed since.
    earlier: Option<Earlier>,
    ops_since_checkpoint: usize,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    /// Set when a write was logged but its vectors could not be written: the
    /// state is behind the log until the collection is reopened (which replays it).
    poisoned: Option<String>,
}

fn wal_options(config: &CollectionConfig) -> WalOptions {
    WalOptions { fsync: config.fsync, ..WalOptions::default() }
}

impl MmapCollection {
    /// Creates the collection's files; the slot table goes last, since its
    /// presence is what makes the directory a collection.
    pub(crate) fn create(
        dir: &Path,
        config: CollectionConfig,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let file = VectorFile::create(dir, config.dimension as usize)?;
        let wal = Wal::open(dir.join(WAL_DIR), wal_options(&config))?;
        let collection = Self::assemble(dir, config, wal, file, index_builder);
        collection.write_slots()?;
        Ok(collection)
    }

    fn assemble(
        dir: &Path,
        config: CollectionConfig,
        wal: Wal<WriteOp>,
        file: VectorFile,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            config,
            wal,
            file,
            slots: SlotTable::default(),
            live: Arc::new(Bitmap::default()),
            locate: HashMap::default(),
            hidden: HiddenIds::default(),
            free: Vec::new(),
            dead: Vec::new(),
            views: Vec::new(),
            epoch: 0,
            next_seq: 1,
            generation: 1,
            sealed: None,
            earlier: None,
            ops_since_checkpoint: 0,
            index_builder,
            poisoned: None,
        }
    }

    /// Opens the collection in `dir`: slot table, mapped vector file, then the
    /// log tail. `None` when `dir` holds no slot table (an interrupted create or drop).
    pub(crate) fn open(dir: &Path, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Option<Self>> {
        let Some(stored) = SlotsFile::read(dir)? else { return Ok(None) };
        let slots_path = dir.join(slot_file::SLOTS_FILE);
        let config = stored.config(&slots_path)?;
        let file = VectorFile::open(dir, config.dimension as usize, stored.slots.len() as u64)?;
        let wal = Wal::<WriteOp>::open(dir.join(WAL_DIR), wal_options(&config))?;
        // The slot table holds everything before `next_seq`; a log behind it starts there.
        wal.advance_to(stored.next_seq)?;
        let mut c = Self::assemble(dir, config, wal, file, index_builder);
        c.next_seq = stored.next_seq;
        c.generation = stored.generation;
        let corrupted = |e: serde_json::Error| {
            Error::corrupted("a slot's metadata does not decode")
                .with_context("file", slots_path.display())
                .with_source(e)
        };
        let mut live = Bitmap::default();
        for stored_slot in stored.slots {
            let row = stored_slot.into_row().map_err(corrupted)?;
            let slot = c.slots.len() as u32;
            live.push(row.state == SlotState::Live);
            match row.state {
                SlotState::Free | SlotState::Dead => c.free.push(slot),
                SlotState::Live | SlotState::SoftDeleted => {
                    if c.locate.insert(row.id.clone(), slot).is_some() {
                        return Err(Error::corrupted(format!("id `{}` holds two slots", row.id))
                            .with_context("file", slots_path.display()));
                    }
                }
            }
            c.slots.push(row);
        }
        // Lowest slots first, keeping the file dense.
        c.free.reverse();
        c.live = Arc::new(live);
        c.hidden = stored.hidden.into_iter().collect();
        let mut replayed = Vec::new();
        c.wal.replay(c.next_seq, |seq, op| {
            replayed.push((seq, op));
            Ok(())
        })?;
        // The index describes the slot table of its generation; a log tail
        // unseals it again, and its payload index keeps serving filters.
        match slot_file::read_index(dir, c.generation)? {
            Some(bytes) => c.sealed = Some(Some(Arc::from(bytes))),
            None if replayed.is_empty() && c.index_builder.is_none() => c.sealed = Some(None),
            None => {}
        }
        for (seq, op) in replayed {
            c.apply(vec![op], seq)?;
        }
        Ok(Some(c))
    }

    pub(crate) fn config(&self) -> &CollectionConfig {
        &self.config
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::unavailable(format!(
                "collection `{}` must be reopened after a failed write: {why}",
                self.config.name
            ))),
            None => Ok(()),
        }
    }

    fn presence(&self, id: &str, now: u64) -> Presence {
        match self.locate.get(id).map(|s| self.slots.row(*s)) {
            None => Presence::Absent,
            Some(row) if row.state == SlotState::SoftDeleted => Presence::SoftDeleted,
            Some(row) if row.expires_at.is_some_and(|at| at <= now) => Presence::Absent,
            Some(_) => Presence::Live,
        }
    }

    /// Validates, logs (durable under the fsync policy), then applies a batch.
    pub(crate) fn write(&mut self, mut batch: WriteBatch, now: u64, checkpoint_ops: usize) -> Result<WriteReceipt> {
        self.usable()?;
        prepare_batch(&mut batch, &self.config, now)?;
        check_presence(&batch, |id| self.presence(id, now))?;
        let range = self.wal.append(&batch.ops)?;
        self.apply(batch.ops, range.first)?;
        if self.ops_since_checkpoint >= checkpoint_ops {
            self.checkpoint()?;
        }
        Ok(WriteReceipt { first_seq: range.first, last_seq: range.last })
    }

    /// Applies logged operations numbered from `first_seq`.
    fn apply(&mut self, ops: Vec<WriteOp>, first_seq: u64) -> Result<()> {
        if let Some(Some(index)) = self.sealed.take() {
            self.earlier = Some(Earlier::new(self.generation, self.slots.len(), index));
        }
        let mut vectors: Vec<(u32, Vec<f32>)> = Vec::new();
        let count = ops.len();
        for (i, op) in ops.into_iter().enumerate() {
            let seq = first_seq + i as u64;
            match op {
                WriteOp::Upsert(r) => {
                    self.hidden.unhide(&r.id);
                    let slot = self.allocate();
                    self.changed(slot);
                    *self.slots.row_mut(slot) = SlotRow {
                        id: r.id.clone(),
                        seq,
                        metadata: r.metadata,
                        expires_at: r.expires_at,
                        state: SlotState::Live,
                    };
                    Arc::make_mut(&mut self.live).set(slot as usize, true);
                    vectors.push((slot, r.vector));
                    if let Some(old) = self.locate.insert(r.id, slot) {
                        self.retire(old);
                    }
                }
                WriteOp::Delete { id } => {
                    if let Some(old) = self.locate.remove(&id) {
                        self.retire(old);
                    }
                    self.hidden.hide(id, seq);
                }
                WriteOp::UpdateMetadata { id, metadata } => {
                    // In place: views keep the chunk they hold; the vector is unchanged.
                    if let Some(slot) = self.locate.get(&id).copied() {
                        self.changed(slot);
                        let row = self.slots.row_mut(slot);
                        row.metadata = metadata;
                        row.seq = seq;
                    }
                }
                WriteOp::SoftDelete { id } => {
                    if let Some(slot) = self.locate.get(&id).copied() {
                        self.slots.row_mut(slot).state = SlotState::SoftDeleted;
                        Arc::make_mut(&mut self.live).set(slot as usize, false);
                        self.hidden.hide(id, seq);
                    }
                }
                WriteOp::Restore { id } => {
                    if let Some(slot) = self.locate.get(&id).copied() {
                        self.slots.row_mut(slot).state = SlotState::Live;
                        Arc::make_mut(&mut self.live).set(slot as usize, true);
                        self.hidden.unhide(&id);
                    }
                }
            }
        }
        self.next_seq = first_seq + count as u64;
        self.generation += 1;
        self.sealed = None;
        self.ops_since_checkpoint += count;
        vectors.sort_by_key(|(slot, _)| *slot);
        let rows: Vec<(u32, &[f32])> = vectors.iter().map(|(s, v)| (*s, v.as_slice())).collect();
        if let Err(e) = self.file.write_rows(&rows) {
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        Ok(())
    }

    fn allocate(&mut self) -> u32 {
        match self.free.pop() {
            Some(slot) => slot,
            None => {
                Arc::make_mut(&mut self.live).push(false);
                self.slots.push(SlotRow::free())
            }
        }
    }

    /// `slot` no longer holds what the last sealed state's index was built from.
    fn changed(&mut self, slot: u32) {
        if let Some(earlier) = &mut self.earlier {
            earlier.change(slot);
        }
    }

    /// A slot's version was replaced or deleted.
    fn retire(&mut self, slot: u32) {
        self.slots.row_mut(slot).state = SlotState::Dead;
        Arc::make_mut(&mut self.live).set(slot as usize, false);
        self.dead.push((self.epoch, slot));
    }

    pub(crate) fn get(&self, id: &str, now: u64) -> Result<Option<StoredRecord>> {
        self.usable()?;
        if self.presence(id, now) != Presence::Live {
            return Ok(None);
        }
        let slot = self.locate[id];
        let row = self.slots.row(slot);
        Ok(Some(StoredRecord {
            record: VectorRecord {
                id: id.to_string(),
                vector: self.file.row(slot),
                metadata: row.metadata.clone(),
                expires_at: row.expires_at,
            },
            seq: row.seq,
        }))
    }

    fn segment(&mut self) -> MmapSegment {
        let pin = Arc::new(());
        self.views.push((self.epoch, Arc::downgrade(&pin)));
        self.epoch += 1;
        MmapSegment {
            generation: self.generation,
            sealed: self.sealed.is_some(),
            dimension: self.config.dimension as usize,
            rows: self.slots.len(),
            mapping: self.file.mapping(),
            chunks: self.slots.chunks(),
            live: self.live.clone(),
            index: self.sealed.clone().flatten(),
            earlier: self.earlier.clone(),
            _pin: pin,
        }
    }

    pub(crate) fn view(&mut self) -> Result<Arc<dyn ReadView>> {
        self.usable()?;
        let segment = self.segment();
        let segments: Vec<Arc<dyn Segment>> = if segment.rows == 0 { Vec::new() } else { vec![Arc::new(segment)] };
        Ok(Arc::new(Snapshot {
            config: self.config.clone(),
            seq: self.next_seq - 1,
            segments,
            tombstones: self.hidden.tombstones(|seq| seq),
        }))
    }

    /// Makes the vector file and the slot table durable, then truncates the log.
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        self.usable()?;
        self.file.sync()?;
        self.write_slots()?;
        self.wal.truncate_before(self.next_seq)?;
        self.ops_since_checkpoint = 0;
        Ok(())
    }

    /// Frees the dead slots no view can still see, with a checkpoint that
    /// records them as free before any is reused. Returns the slots freed.
    pub(crate) fn reclaim(&mut self) -> Result<u64> {
        self.usable()?;
        self.views.retain(|(_, pin)| pin.strong_count() > 0);
        let oldest_view = self.views.iter().map(|(epoch, _)| *epoch).min().unwrap_or(u64::MAX);
        let mut freed = Vec::new();
        let mut still_seen = Vec::new();
        for (died, slot) in std::mem::take(&mut self.dead) {
            // Views made before the slot died (epoch < died) may still read it as live.
            if oldest_view >= died { freed.push(slot) } else { still_seen.push((died, slot)) }
        }
        self.dead = still_seen;
        for slot in &freed {
            *self.slots.row_mut(*slot) = SlotRow::free();
        }
        self.checkpoint()?;
        // Only now, with the slot table saying so durably, may they be written again; lowest first.
        self.free.extend(&freed);
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        Ok(freed.len() as u64)
    }

    fn write_slots(&self) -> Result<()> {
        let config =
            serde_json::to_string(&self.config).map_err(|e| Error::internal(format!("config to JSON: {e}")))?;
        SlotsFile {
            config,
            next_seq: self.next_seq,
            generation: self.generation,
            slots: self.slots.iter().map(|(_, row)| StoredSlot::from_row(row)).collect(),
            hidden: self.hidden.iter().map(|(id, seq)| (id.to_string(), seq)).collect(),
        }
        .write(&self.dir)
    }

    /// A checkpoint, then the index hook over the whole file; the segment stays
    /// sealed (with those index bytes) until the next write.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.checkpoint()?;
        if self.sealed.is_some() {
            return Ok(());
        }
        let index = match self.index_builder.clone() {
            Some(builder) => {
                let segment = self.segment();
                builder.build(&self.config, &segment)?.map(Arc::<[u8]>::from)
            }
            None => None,
        };
        if let Some(bytes) = &index {
            slot_file::write_index(&self.dir, self.generation, bytes)?;
        }
        self.sealed = Some(index);
        self.earlier = None;
        Ok(())
    }

    pub(crate) fn stats(&self, now: u64) -> CollectionStats {
        let soft = self.locate.values().filter(|s| self.slots.row(**s).state == SlotState::SoftDeleted).count();
        let live = self.locate.keys().filter(|id| self.presence(id, now) == Presence::Live).count();
        CollectionStats {
            live_records: live as u64,
            soft_deleted_records: soft as u64,
            dead_rows: self.dead.len() as u64,
            segments: u64::from(self.slots.len() > 0),
            bytes: self.file.bytes(),
            last_seq: self.next_seq - 1,
        }
    }

    /// The portable checkpoint every engine reads (newest version of each id, hidden ids).
    pub(crate) fn portable_checkpoint(&self) -> Result<Checkpoint> {
        self.logical_state().checkpoint()
    }

    /// Declares `field` (see [`CollectionState::declaring`]), stored by a checkpoint.
    pub(crate) fn declare_field(&mut self, field: FieldSpec) -> Result<bool> {
        self.usable()?;
        let Some(config) = self.logical_state().declaring(&field, now_unix_secs())? else { return Ok(false) };
        let before = std::mem::replace(&mut self.config, config);
        if let Err(e) = self.checkpoint() {
            self.config = before;
            return Err(e);
        }
        Ok(true)
    }

    /// The newest version of each id and the hidden ids, as the shared state.
    fn logical_state(&self) -> CollectionState {
        let mut chunk = Chunk::new(1, self.config.dimension as usize);
        let mut rows: Vec<u32> = self.locate.values().copied().collect();
        rows.sort_unstable_by_key(|s| self.slots.row(*s).seq);
        for slot in rows {
            let row = self.slots.row(slot);
            chunk.push(row.id.clone(), row.seq, &self.file.row(slot), row.metadata.clone(), row.expires_at);
        }
        let (mut deleted, mut soft) = (Vec::new(), Vec::new());
        for (id, seq) in self.hidden.iter() {
            let t = Tombstone { id: id.to_string(), seq };
            if self.locate.contains_key(id) { soft.push(t) } else { deleted.push(t) }
        }
        let segments = if chunk.is_empty() { Vec::new() } else { vec![(chunk, None)] };
        CollectionState::from_segments(self.config.clone(), None, segments, &deleted, &soft, self.next_seq)
    }

    /// Builds a collection in `dir` from a portable checkpoint.
    pub(crate) fn create_from_checkpoint(
        dir: &Path,
        checkpoint: Checkpoint,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let state = CollectionState::from_checkpoint(checkpoint, None)?;
        let mut c = Self::create(dir, state.config().clone(), index_builder)?;
        let (deleted, soft) = state.hidden();
        let soft_ids: std::collections::HashSet<&str> = soft.iter().map(|t| t.id.as_str()).collect();
        let mut vectors = Vec::new();
        for segment_id in state.segment_ids() {
            let Some(segment) = state.sealed_segment(segment_id) else { continue };
            let chunk = &segment.chunk;
            for row in 0..chunk.len() {
                let slot = c.allocate();
                let state =
                    if soft_ids.contains(chunk.ids[row].as_str()) { SlotState::SoftDeleted } else { SlotState::Live };
                *c.slots.row_mut(slot) = SlotRow {
                    id: chunk.ids[row].clone(),
                    seq: chunk.seqs[row],
                    metadata: chunk.metadata[row].clone(),
                    expires_at: chunk.expires_at[row],
                    state,
                };
                Arc::make_mut(&mut c.live).set(slot as usize, state == SlotState::Live);
                c.locate.insert(chunk.ids[row].clone(), slot);
                vectors.push((slot, chunk.vector(row).to_vec()));
            }
        }
        let rows: Vec<(u32, &[f32])> = vectors.iter().map(|(s, v)| (*s, v.as_slice())).collect();
        c.file.write_rows(&rows)?;
        c.hidden = deleted.into_iter().chain(soft).map(|t| (t.id, t.seq)).collect();
        c.next_seq = state.next_seq();
        c.wal.advance_to(c.next_seq)?;
        c.checkpoint()?;
        Ok(c)
    }

    /// Where a portable checkpoint of `collection` lives in `dir`.
    pub(crate) fn checkpoint_path(dir: &Path) -> PathBuf {
        dir.join(CHECKPOINT_FILE)
    }
}
