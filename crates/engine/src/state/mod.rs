//! A collection's in-memory state, shared by engines: sealed chunks with
//! per-view liveness, the write buffer, and the index from id to newest row.
//!
//! The memory engine is this state behind a mutex. Persistent engines keep the
//! same state and add their log and files: they log a checked batch, then
//! `apply` it with the log's sequence numbers; they persist what `merge`
//! returns; and they rebuild the state on open with `from_segments`.

mod chunk;
mod id_index;

use std::collections::BTreeMap;
use std::sync::Arc;

use proxima_core::{CollectionConfig, FieldSpec, Metadata, Result, VectorRecord};
use serde::{Deserialize, Serialize};

pub use self::chunk::Chunk;

/// The file `checkpoint_to` writes in its directory. Engines built on this
/// state share it, so a checkpoint from one restores into another (moving a
/// collection between engines).
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
use self::chunk::Sealed;
use self::id_index::{IdIndex, Loc, Rows};
use crate::{
    Bitmap, CollectionStats, HiddenIds, IndexBuilder, Presence, ReadView, Segment, Snapshot, StoredRecord, Tombstone,
    WriteBatch, WriteOp, WriteReceipt, check_presence,
};

/// Views freeze the write buffer into a chunk each; past this many sealed
/// chunks an engine merges the ones it has not persisted (a persistent engine
/// must not merge segments its files hold behind its back: their rows would be
/// in two places, and its statistics would no longer describe its files).
pub const VIEW_CHUNK_LIMIT: usize = 64;

/// How many operations ahead of its insert an id's index entry is prefetched:
/// enough to keep several loads from memory in flight.
const PREFETCH_AHEAD: usize = 8;

/// A segment id. The write buffer has its id from the start (the one it keeps
/// when sealed), so sealing repoints nothing in the id index.
type Slot = u64;

/// A sealed chunk and its index bytes (what [`CollectionState::merge`] produced), for the engine to persist.
#[derive(Debug, Clone)]
pub struct MergedSegment {
    /// The new chunk (it replaced the merged ones in the state).
    pub chunk: Arc<Chunk>,
    /// The bytes the index hook built for it.
    pub index: Option<Arc<[u8]>>,
}

/// One collection's rows, liveness and id index.
#[derive(Debug)]
pub struct CollectionState {
    config: CollectionConfig,
    next_seq: u64,
    next_segment_id: u64,
    sealed: BTreeMap<u64, Sealed>,
    active: Chunk,
    active_live: Bitmap,
    locate: IdIndex,
    /// Deleted and soft-deleted ids with the sequence that hid them.
    hidden: HiddenIds<u64>,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    /// Whether `seal` and `merge` leave index building to the engine.
    defer_indexing: bool,
}

/// A portable, logical copy of a collection (what `checkpoint_to` writes).
#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The collection's configuration.
    pub config: CollectionConfig,
    next_seq: u64,
    records: Vec<CheckpointRecord>,
    deleted: Vec<Tombstone>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CheckpointRecord {
    record: VectorRecord,
    seq: u64,
    soft_deleted_at: Option<u64>,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` as JSON (creating the directory).
    pub fn write_to(&self, path: &std::path::Path) -> Result<()> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| proxima_core::Error::internal("cannot encode checkpoint").with_source(e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| proxima_core::Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        std::fs::write(path, bytes).map_err(|e| proxima_core::Error::io(format!("cannot write {}", path.display()), e))
    }

    /// Reads a checkpoint from `path` for the collection `name` (the copy takes
    /// that name): `NotFound` without a file, `Corrupted` if it does not decode.
    pub fn read_from(path: &std::path::Path, name: &str) -> Result<Self> {
        use proxima_core::Error;
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(format!("no checkpoint at {}", path.display())),
            _ => Error::io(format!("cannot read {}", path.display()), e),
        })?;
        let mut checkpoint: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
            Error::corrupted("checkpoint does not decode").with_context("file", path.display()).with_source(e)
        })?;
        checkpoint.config.name = name.to_string();
        checkpoint.config.validate()?;
        Ok(checkpoint)
    }
}

impl CollectionState {
    /// An empty collection.
    pub fn new(config: CollectionConfig, index_builder: Option<Arc<dyn IndexBuilder>>) -> Self {
        let dimension = config.dimension as usize;
        Self {
            config,
            next_seq: 1,
            next_segment_id: 2,
            sealed: BTreeMap::new(),
            active: Chunk::new(1, dimension),
            active_live: Bitmap::default(),
            locate: IdIndex::default(),
            hidden: HiddenIds::default(),
            index_builder,
            defer_indexing: false,
        }
    }

    /// Leaves index building to the engine: `seal` and `merge` (which run under
    /// the engine's lock, and a view seals the write buffer) produce segments
    /// without index bytes; the engine builds them outside its lock from
    /// [`CollectionState::unindexed`] and attaches them with
    /// [`CollectionState::set_index`]. Until then a search scans those rows.
    pub fn defer_indexing(&mut self) {
        self.defer_indexing = true;
    }

    /// A sealed segment that has no index bytes yet although the collection has
    /// an index hook, with the hook: what to build outside the engine's lock.
    pub fn unindexed(&self, segment_id: u64) -> Option<(Arc<dyn Segment>, Arc<dyn IndexBuilder>)> {
        let builder = self.index_builder.as_ref()?;
        let sealed = self.sealed.get(&segment_id).filter(|s| s.index.is_none())?;
        Some((Arc::new(sealed.clone()), Arc::clone(builder)))
    }

    /// Attaches index bytes built for a sealed segment (nothing if it was merged away meanwhile).
    pub fn set_index(&mut self, segment_id: u64, index: Arc<[u8]>) {
        if let Some(sealed) = self.sealed.get_mut(&segment_id) {
            sealed.index = Some(index);
        }
    }

    /// Rebuilds a collection from persisted segments (oldest first, with their
    /// index bytes) and the ids hidden as of `next_seq - 1`. No index is rebuilt.
    pub fn from_segments(
        config: CollectionConfig,
        index_builder: Option<Arc<dyn IndexBuilder>>,
        segments: Vec<(Chunk, Option<Arc<[u8]>>)>,
        deleted: &[Tombstone],
        soft_deleted: &[Tombstone],
        next_seq: u64,
    ) -> Self {
        let mut state = Self::new(config, index_builder);
        state.next_seq = next_seq;
        // The write buffer takes an id after every persisted one.
        let last = segments.iter().map(|(c, _)| c.segment_id).max().unwrap_or(0);
        state.active.segment_id = last + 1;
        state.next_segment_id = last + 2;
        for (chunk, index) in segments {
            let segment_id = chunk.segment_id;
            let live = Bitmap::all_set(chunk.len());
            state.sealed.insert(segment_id, Sealed { data: Arc::new(chunk), live: Arc::new(live), index });
            let data = Arc::clone(&state.sealed[&segment_id].data);
            for (row, (id, seq)) in data.ids.iter().zip(&data.seqs).enumerate() {
                let newer = state.locate.get(id, state.rows()).is_some_and(|l| state.seq_at(l) > *seq);
                let loc = Loc { slot: segment_id, row, soft_deleted: false };
                if newer {
                    state.set_live(loc, false);
                } else if let Some(old) =
                    state.locate.insert(id, loc, Rows { active: &state.active, sealed: &state.sealed })
                {
                    state.set_live(old, false);
                }
            }
        }
        for t in deleted {
            if let Some(loc) = state.locate.get(&t.id, state.rows()).filter(|l| state.seq_at(*l) < t.seq) {
                state.set_live(loc, false);
                state.locate.remove(&t.id, Rows { active: &state.active, sealed: &state.sealed });
            }
            state.hidden.hide(t.id.clone(), t.seq);
        }
        for t in soft_deleted {
            if let Some(loc) =
                state.locate.set_soft_deleted(&t.id, true, Rows { active: &state.active, sealed: &state.sealed })
            {
                state.set_live(loc, false);
                state.hidden.hide(t.id.clone(), t.seq);
            }
        }
        state
    }

    /// The hook that builds sealed segments' indexes, if any.
    pub fn index_builder(&self) -> Option<Arc<dyn IndexBuilder>> {
        self.index_builder.clone()
    }

    /// The collection's configuration.
    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// The sequence number the next operation gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn chunk(&self, slot: Slot) -> &Chunk {
        self.rows().chunk(slot)
    }

    /// The chunks, for the id index to read ids back from rows.
    fn rows(&self) -> Rows<'_> {
        Rows { active: &self.active, sealed: &self.sealed }
    }

    fn seq_at(&self, loc: Loc) -> u64 {
        self.chunk(loc.slot).seqs[loc.row]
    }

    /// Where `id` stands at unix time `now`.
    pub fn presence(&self, id: &str, now: u64) -> Presence {
        match self.locate.get(id, self.rows()) {
            None => Presence::Absent,
            Some(loc) => self.presence_at(loc, now),
        }
    }

    fn presence_at(&self, loc: Loc, now: u64) -> Presence {
        if loc.soft_deleted {
            Presence::SoftDeleted
        } else if self.chunk(loc.slot).expires_at[loc.row].is_some_and(|at| at <= now) {
            Presence::Absent
        } else {
            Presence::Live
        }
    }

    /// Checks a prepared batch against the current state without changing it.
    pub fn check(&self, batch: &WriteBatch, now: u64) -> Result<()> {
        check_presence(batch, |id| self.presence(id, now))?;
        // A metadata update copies the record's vector, which must be in memory.
        for op in &batch.ops {
            if let WriteOp::UpdateMetadata { id, .. } = op
                && let Some(loc) = self.locate.get(id, self.rows())
            {
                self.require_vectors(loc.slot)?;
            }
        }
        Ok(())
    }

    /// Applies a checked batch whose operations have sequence numbers from `first_seq`.
    pub fn apply(&mut self, batch: WriteBatch, first_seq: u64) -> WriteReceipt {
        debug_assert!(first_seq >= self.next_seq, "sequence numbers go back: {first_seq} < {}", self.next_seq);
        self.next_seq = first_seq;
        self.reserve(batch.ops.len());
        // Hashed up front, so each id's place in the index is fetched from
        // memory a few operations before its insert needs it.
        let hashes: Vec<u64> = batch.ops.iter().map(|op| self.locate.hash(op.id())).collect();
        for (i, op) in batch.ops.into_iter().enumerate() {
            if let Some(ahead) = hashes.get(i + PREFETCH_AHEAD) {
                self.locate.prefetch(*ahead);
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.apply_op(op, seq, hashes[i]);
        }
        WriteReceipt { first_seq, last_seq: self.next_seq - 1 }
    }

    /// Makes room in the write buffer and the id index for `n` more rows.
    fn reserve(&mut self, n: usize) {
        self.active.ids.reserve(n);
        self.active.seqs.reserve(n);
        self.active.vectors.reserve(n * self.active.dimension);
        self.active.metadata.reserve(n);
        self.active.expires_at.reserve(n);
    }

    /// Checks and applies a prepared batch with the state's own sequence numbers.
    pub fn write(&mut self, batch: WriteBatch, now: u64) -> Result<WriteReceipt> {
        self.check(&batch, now)?;
        let first = self.next_seq;
        Ok(self.apply(batch, first))
    }

    /// Applies one operation; `hash` is its id's [`IdIndex::hash`].
    fn apply_op(&mut self, op: WriteOp, seq: u64, hash: u64) {
        match op {
            WriteOp::Upsert(r) => {
                self.hidden.unhide(&r.id);
                self.push_version(r.id, hash, seq, r.metadata, r.expires_at, r.vector);
            }
            WriteOp::Delete { id } => {
                if let Some(loc) = self.locate.remove(&id, Rows { active: &self.active, sealed: &self.sealed }) {
                    self.set_live(loc, false);
                }
                self.hidden.hide(id, seq);
            }
            WriteOp::UpdateMetadata { id, metadata } => {
                // An absent id was refused by `check`. The new version keeps
                // the old one's vector and expiry.
                let Some(loc) = self.locate.get_hashed(hash, &id, self.rows()) else { return };
                let old = self.chunk(loc.slot);
                let (vector, expires_at) = (old.vector(loc.row).to_vec(), old.expires_at[loc.row]);
                self.push_version(id, hash, seq, metadata, expires_at, vector);
            }
            WriteOp::SoftDelete { id } => {
                if let Some(loc) =
                    self.locate.set_soft_deleted(&id, true, Rows { active: &self.active, sealed: &self.sealed })
                {
                    self.set_live(loc, false);
                    self.hidden.hide(id, seq);
                }
            }
            WriteOp::Restore { id } => {
                if let Some(loc) =
                    self.locate.set_soft_deleted(&id, false, Rows { active: &self.active, sealed: &self.sealed })
                {
                    self.set_live(loc, true);
                    self.hidden.unhide(&id);
                }
            }
        }
    }

    /// Appends a new version of `id` (`hash` is its [`IdIndex::hash`]).
    fn push_version(
        &mut self,
        id: String,
        hash: u64,
        seq: u64,
        metadata: Metadata,
        expires_at: Option<u64>,
        vector: Vec<f32>,
    ) {
        // One lookup in the id index: the new row's place is known in advance.
        let loc = Loc { slot: self.active.segment_id, row: self.active.len(), soft_deleted: false };
        if let Some(old) =
            self.locate.insert_hashed(hash, &id, loc, Rows { active: &self.active, sealed: &self.sealed })
        {
            self.set_live(old, false);
        }
        self.active.push(id, seq, &vector, metadata, expires_at);
        self.active_live.push(true);
    }

    fn set_live(&mut self, loc: Loc, live: bool) {
        if loc.slot == self.active.segment_id {
            self.active_live.set(loc.row, live);
        } else if let Some(s) = self.sealed.get_mut(&loc.slot) {
            // Copy-on-write: views holding the old bitmap keep their snapshot.
            Arc::make_mut(&mut s.live).set(loc.row, live);
        }
    }

    /// The newest visible version of `id`. Fails if its segment's vectors were
    /// evicted (see [`CollectionState::evict_vectors`]) and not provided again.
    pub fn get(&self, id: &str, now: u64) -> Result<Option<StoredRecord>> {
        let Some(loc) = self.locate.get(id, self.rows()) else { return Ok(None) };
        if self.presence(id, now) != Presence::Live {
            return Ok(None);
        }
        self.require_vectors(loc.slot)?;
        Ok(Some(self.chunk(loc.slot).stored_record(loc.row)))
    }

    fn is_evicted(chunk: &Chunk) -> bool {
        chunk.vectors.is_empty() && !chunk.is_empty()
    }

    fn require_vectors(&self, slot: Slot) -> Result<()> {
        match self.sealed.get(&slot) {
            Some(sealed) if slot != self.active.segment_id && Self::is_evicted(&sealed.data) => {
                Err(proxima_core::Error::internal(format!(
                    "the vectors of segment {slot} are evicted; the engine must provide them first"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Sealed segments whose vectors are evicted.
    pub fn evicted_segments(&self) -> Vec<u64> {
        self.sealed.iter().filter(|(_, s)| Self::is_evicted(&s.data)).map(|(id, _)| *id).collect()
    }

    /// The sealed segments holding the newest rows of `ids`.
    pub fn segments_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
        let mut out: Vec<u64> = ids
            .into_iter()
            .filter_map(|id| Some(self.locate.get(id, self.rows())?.slot).filter(|s| *s != self.active.segment_id))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Frees a sealed segment's vectors, keeping ids, sequences and metadata, so an
    /// engine can bound the memory its decoded files take. Returns the bytes freed:
    /// none when a read view still holds the segment (it keeps what it reads).
    pub fn evict_vectors(&mut self, segment_id: u64) -> u64 {
        match self.sealed.get_mut(&segment_id).and_then(|s| Arc::get_mut(&mut s.data)) {
            Some(chunk) if !chunk.vectors.is_empty() => {
                let bytes = (chunk.vectors.len() * 4) as u64;
                chunk.vectors = Vec::new();
                bytes
            }
            _ => 0,
        }
    }

    /// Gives an evicted segment its vectors back (as read from its file).
    pub fn provide_vectors(&mut self, segment_id: u64, vectors: Vec<f32>) -> Result<()> {
        let dimension = self.config.dimension as usize;
        let Some(sealed) = self.sealed.get_mut(&segment_id) else { return Ok(()) };
        if vectors.len() != sealed.data.len() * dimension {
            return Err(proxima_core::Error::corrupted(format!(
                "segment {segment_id} reloaded with {} values for {} rows",
                vectors.len(),
                sealed.data.len()
            )));
        }
        if let Some(chunk) = Arc::get_mut(&mut sealed.data) {
            chunk.vectors = vectors;
        }
        Ok(())
    }

    /// Bytes of vectors held by sealed segments.
    pub fn resident_vector_bytes(&self) -> u64 {
        self.sealed.values().map(|s| (s.data.vectors.len() * 4) as u64).sum()
    }

    /// Freezes the write buffer into a sealed chunk (running the index hook); returns its segment id.
    pub fn seal(&mut self) -> Result<Option<u64>> {
        if self.active.is_empty() {
            return Ok(None);
        }
        // The index first: if the hook fails, nothing has changed.
        let index = self.build_index(&self.active, &self.active_live)?;
        // The next buffer starts with room for twice the rows this one took: when
        // writes outpace flushes, each buffer is larger than the last, and a
        // doubling copies every vector into memory that must be faulted in anew.
        // Room never written is only reserved address space.
        let mut next = Chunk::new(self.next_segment_id, self.config.dimension as usize);
        self.next_segment_id += 1;
        let rows = self.active.len() * 2;
        next.ids.reserve(rows);
        next.seqs.reserve(rows);
        next.vectors.reserve(rows * next.dimension);
        next.metadata.reserve(rows);
        next.expires_at.reserve(rows);
        let data = std::mem::replace(&mut self.active, next);
        let live = std::mem::take(&mut self.active_live);
        let segment_id = data.segment_id;
        self.sealed.insert(segment_id, Sealed { data: Arc::new(data), live: Arc::new(live), index });
        Ok(Some(segment_id))
    }

    fn build_index(&self, data: &Chunk, live: &Bitmap) -> Result<Option<Arc<[u8]>>> {
        let Some(builder) = self.index_builder.as_ref().filter(|_| !self.defer_indexing) else { return Ok(None) };
        // The hook sees the segment as a view would.
        let probe = Sealed { data: Arc::new(data.clone()), live: Arc::new(live.clone()), index: None };
        Ok(builder.build(&self.config, &probe)?.map(Arc::from))
    }

    /// A snapshot for readers; later writes never show in it. It seals the
    /// write buffer and merges nothing (see [`VIEW_CHUNK_LIMIT`]).
    pub fn view(&mut self) -> Result<Arc<dyn ReadView>> {
        if let Some(id) = self.evicted_segments().first() {
            return Err(proxima_core::Error::internal(format!(
                "the vectors of segment {id} are evicted; the engine must provide them before a view"
            )));
        }
        self.seal()?;
        Ok(Arc::new(Snapshot {
            config: self.config.clone(),
            seq: self.next_seq - 1,
            segments: self.sealed.values().map(|s| Arc::new(s.clone()) as Arc<dyn Segment>).collect(),
            tombstones: self.hidden.tombstones(|seq| seq),
        }))
    }

    /// Attaches zone bounds to a sealed segment (e.g. from the file it was written to).
    pub fn set_zones(&mut self, segment_id: u64, zones: Vec<crate::Zone>) {
        if let Some(s) = self.sealed.get_mut(&segment_id) {
            Arc::make_mut(&mut s.data).zones = zones;
        }
    }

    /// A sealed segment's data and index bytes.
    pub fn sealed_segment(&self, segment_id: u64) -> Option<MergedSegment> {
        self.sealed.get(&segment_id).map(|s| MergedSegment { chunk: Arc::clone(&s.data), index: s.index.clone() })
    }

    /// Ids of the sealed segments, oldest first.
    pub fn segment_ids(&self) -> Vec<u64> {
        self.sealed.keys().copied().collect()
    }

    /// Replaces the given sealed segments with one chunk holding only the rows
    /// that are still the newest version of their id (live or soft-deleted) and
    /// not expired, in sequence order. Returns `None` when no segment was given.
    pub fn merge(&mut self, segment_ids: &[u64]) -> Result<Option<MergedSegment>> {
        let merging: Vec<u64> = segment_ids.iter().copied().filter(|id| self.sealed.contains_key(id)).collect();
        merging.iter().try_for_each(|id| self.require_vectors(*id))?;
        if merging.is_empty() {
            return Ok(None);
        }
        let now = proxima_core::now_unix_secs();
        // One segment whose every row is visible and unexpired is its own merge:
        // nothing to copy, and the id index stays as it is.
        if let [only] = merging[..] {
            let sealed = &self.sealed[&only];
            let expired = sealed.data.expires_at.iter().any(|e| e.is_some_and(|at| at <= now));
            if sealed.live.count_ones() == sealed.data.len() && !expired {
                return Ok(Some(MergedSegment { chunk: Arc::clone(&sealed.data), index: sealed.index.clone() }));
            }
        }
        // Walk the merged chunks' rows (not the whole id index): a row is kept
        // when it is still its id's newest version.
        // Expired records are invisible already; the merge removes them for good.
        let mut keep: Vec<Loc> = Vec::new();
        let mut expired: Vec<String> = Vec::new();
        for segment_id in &merging {
            let chunk = &self.sealed[segment_id].data;
            for (row, id) in chunk.ids.iter().enumerate() {
                if let Some(loc) = self.locate.get(id, self.rows()).filter(|l| l.slot == *segment_id && l.row == row) {
                    if chunk.expires_at[row].is_some_and(|at| at <= now) {
                        expired.push(id.clone());
                    } else {
                        keep.push(loc);
                    }
                }
            }
        }
        for id in &expired {
            self.locate.remove(id, Rows { active: &self.active, sealed: &self.sealed });
            self.hidden.unhide(id);
        }
        keep.sort_by_key(|loc| self.seq_at(*loc));
        let segment_id = self.next_segment_id;
        let mut data = Chunk::new(segment_id, self.config.dimension as usize);
        let mut live = Bitmap::default();
        for loc in &keep {
            let c = self.chunk(loc.slot);
            data.push(
                c.ids[loc.row].clone(),
                c.seqs[loc.row],
                c.vector(loc.row),
                c.metadata[loc.row].clone(),
                c.expires_at[loc.row],
            );
            live.push(!loc.soft_deleted);
        }
        let index = self.build_index(&data, &live)?;
        let chunk = Arc::new(data);
        self.next_segment_id += 1;
        if chunk.is_empty() {
            // Nothing survived: no empty segment is left behind to count or persist.
            for id in &merging {
                self.sealed.remove(id);
            }
            return Ok(Some(MergedSegment { chunk, index }));
        }
        self.sealed.insert(segment_id, Sealed { data: Arc::clone(&chunk), live: Arc::new(live), index: index.clone() });
        // Repoint the kept ids with the old rows and the new both in place: an
        // insert reads back the id of every entry whose tag matches its own,
        // and those may be old rows or new ones already repointed.
        let rows = Rows { active: &self.active, sealed: &self.sealed };
        for (row, loc) in keep.into_iter().enumerate() {
            let id = &rows.chunk(loc.slot).ids[loc.row];
            self.locate.insert(id, Loc { slot: segment_id, row, soft_deleted: loc.soft_deleted }, rows);
        }
        for id in &merging {
            self.sealed.remove(id);
        }
        Ok(Some(MergedSegment { chunk, index }))
    }

    fn total_rows(&self) -> usize {
        self.sealed.values().map(|s| s.data.len()).sum::<usize>() + self.active.len()
    }

    /// Rewrites everything into one chunk of the newest versions and drops delete
    /// tombstones (no older row remains for them to hide); returns rows removed.
    pub fn compact_all(&mut self) -> Result<u64> {
        self.seal()?;
        let before = self.total_rows();
        let ids = self.segment_ids();
        self.merge(&ids)?;
        self.forget_deletes();
        Ok((before - self.total_rows()) as u64)
    }

    /// Drops delete tombstones, once every segment has been merged into one (or
    /// none): no older row remains for them to hide. Only soft deletions must
    /// outlive compaction (they can be restored).
    pub fn forget_deletes(&mut self) {
        let (locate, rows) = (&self.locate, Rows { active: &self.active, sealed: &self.sealed });
        self.hidden.retain(|id, _| locate.get(id, rows).is_some_and(|l| l.soft_deleted));
    }

    /// Approximate bytes of the given sealed segments in memory.
    pub fn approx_bytes_of(&self, segment_ids: &[u64]) -> u64 {
        segment_ids.iter().filter_map(|id| self.sealed.get(id)).map(|s| s.data.approx_bytes()).sum()
    }

    /// Approximate bytes of the write buffer.
    pub fn buffer_bytes(&self) -> u64 {
        self.active.approx_bytes()
    }

    /// Rows of the given sealed segments (the write buffer not included).
    pub fn rows_in(&self, segment_ids: &[u64]) -> u64 {
        segment_ids.iter().filter_map(|id| self.sealed.get(id)).map(|s| s.data.len() as u64).sum()
    }

    /// Share of rows that are no longer anyone's newest version.
    pub fn dead_ratio(&self) -> f32 {
        let total = self.total_rows();
        if total == 0 { 0.0 } else { (total - self.locate.len()) as f32 / total as f32 }
    }

    /// Sealed chunks plus the write buffer if it holds rows.
    pub fn chunk_count(&self) -> usize {
        self.sealed.len() + usize::from(!self.active.is_empty())
    }

    /// Deleted and soft-deleted ids, each with the sequence that hid it.
    pub fn hidden(&self) -> (Vec<Tombstone>, Vec<Tombstone>) {
        let mut deleted = Vec::new();
        let mut soft = Vec::new();
        for (id, seq) in self.hidden.iter() {
            let t = Tombstone { id: id.to_string(), seq };
            if self.locate.get(id, self.rows()).is_some_and(|l| l.soft_deleted) {
                soft.push(t)
            } else {
                deleted.push(t)
            }
        }
        deleted.sort_by(|a, b| a.id.cmp(&b.id));
        soft.sort_by(|a, b| a.id.cmp(&b.id));
        (deleted, soft)
    }

    /// Figures at unix time `now`.
    pub fn stats(&self, now: u64) -> CollectionStats {
        let soft = self.locate.locs().filter(|l| l.soft_deleted).count() as u64;
        let live = self.locate.locs().filter(|l| self.presence_at(*l, now) == Presence::Live).count() as u64;
        CollectionStats {
            live_records: live,
            soft_deleted_records: soft,
            dead_rows: (self.total_rows() - self.locate.len()) as u64,
            segments: self.chunk_count() as u64,
            bytes: self.sealed.values().map(|s| s.data.approx_bytes()).sum::<u64>() + self.active.approx_bytes(),
            last_seq: self.next_seq - 1,
        }
    }

    /// The config with `field` declared (see [`CollectionConfig::declare`]),
    /// once every record that can be read again, live or soft-deleted, fits
    /// its type; `None` when it is declared already. An engine stores it, then
    /// hands it to [`CollectionState::declared`].
    pub fn declaring(&self, field: &FieldSpec, now: u64) -> Result<Option<CollectionConfig>> {
        let mut config = self.config.clone();
        if !config.declare(field.clone())? {
            return Ok(None);
        }
        self.check_field(field, now)?;
        Ok(Some(config))
    }

    /// Takes a config from [`CollectionState::declaring`] as the collection's:
    /// later writes are checked against its fields, and later segments index them.
    pub fn declared(&mut self, config: CollectionConfig) {
        debug_assert_eq!((&config.name, config.dimension), (&self.config.name, self.config.dimension));
        self.config = config;
    }

    /// `InvalidArgument` naming the first record, live or soft-deleted at unix
    /// time `now`, whose value of `field` is not of its type.
    pub fn check_field(&self, field: &FieldSpec, now: u64) -> Result<()> {
        if let Some(id) = self.evicted_segments().first() {
            return Err(proxima_core::Error::internal(format!(
                "the rows of segment {id} are evicted; the engine must provide them before a field is declared"
            )));
        }
        for loc in self.locate.locs().filter(|l| self.presence_at(*l, now) != Presence::Absent) {
            let chunk = self.chunk(loc.slot);
            if let Some(value) = proxima_core::filter::lookup(&chunk.metadata[loc.row], &field.name)
                && !value.is_null()
                && !field.ty.accepts(value)
            {
                return Err(proxima_core::Error::invalid(format!(
                    "record `{}` holds {value} in `{}`, which is not {:?}; change or delete it before declaring the field",
                    chunk.ids[loc.row], field.name, field.ty
                ))
                .with_context("field", &field.name));
            }
        }
        Ok(())
    }

    /// A logical copy of every record, soft deletions and tombstones.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        if let Some(id) = self.evicted_segments().first() {
            return Err(proxima_core::Error::internal(format!(
                "the vectors of segment {id} are evicted; the engine must provide them before a checkpoint"
            )));
        }
        let mut records: Vec<CheckpointRecord> = self
            .locate
            .locs()
            .map(|loc| {
                let stored = self.chunk(loc.slot).stored_record(loc.row);
                let soft_deleted_at = if loc.soft_deleted { self.hidden.get(&stored.record.id) } else { None };
                CheckpointRecord { record: stored.record, seq: stored.seq, soft_deleted_at }
            })
            .collect();
        records.sort_by_key(|r| r.seq);
        let (deleted, _) = self.hidden();
        Ok(Checkpoint { config: self.config.clone(), next_seq: self.next_seq, records, deleted })
    }

    /// The collection a checkpoint describes.
    pub fn from_checkpoint(checkpoint: Checkpoint, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Self> {
        let mut chunk = Chunk::new(1, checkpoint.config.dimension as usize);
        let mut soft = Vec::new();
        for r in checkpoint.records {
            if let Some(seq) = r.soft_deleted_at {
                soft.push(Tombstone { id: r.record.id.clone(), seq });
            }
            chunk.push(r.record.id, r.seq, &r.record.vector, r.record.metadata, r.record.expires_at);
        }
        let mut state = Self::new(checkpoint.config, index_builder);
        let index = state.build_index(&chunk, &Bitmap::all_set(chunk.len()))?;
        let segments = if chunk.is_empty() { Vec::new() } else { vec![(chunk, index)] };
        let restored = Self::from_segments(
            state.config.clone(),
            state.index_builder.take(),
            segments,
            &checkpoint.deleted,
            &soft,
            checkpoint.next_seq,
        );
        Ok(restored)
    }
}

#[cfg(test)]
mod tests {
    use proxima_core::VectorRecord;

    use super::*;

    fn upserts(ids: std::ops::Range<u32>, value: f32) -> WriteBatch {
        WriteBatch::from(ids.map(|i| VectorRecord::new(format!("id-{i}"), vec![value, i as f32])).collect::<Vec<_>>())
    }

    /// With every tag the same, each insert of a merge reads back the id of
    /// every entry before its own, old rows and new: they must all resolve.
    #[test]
    fn a_merge_repoints_ids_through_tag_collisions() {
        let mut state = CollectionState::new(CollectionConfig::new("c", 2), None);
        state.locate = IdIndex::with_same_tags();
        state.write(upserts(0..300, 1.0), 0).unwrap();
        state.seal().unwrap();
        // Newer versions of half of them, in a second segment.
        state.write(upserts(0..150, 2.0), 0).unwrap();
        state.seal().unwrap();
        let merged = state.merge(&state.segment_ids()).unwrap().expect("two segments merged");
        assert_eq!(merged.chunk.len(), 300, "one row per id");
        assert_eq!(state.segment_ids(), vec![merged.chunk.segment_id]);
        for i in 0..300u32 {
            let record = state.get(&format!("id-{i}"), 0).unwrap().expect("every id is found");
            assert_eq!(record.record.vector, vec![if i < 150 { 2.0 } else { 1.0 }, i as f32], "id-{i}");
        }
    }
}
