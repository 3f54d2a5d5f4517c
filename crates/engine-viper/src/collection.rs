//! One VIPER collection: the shared collection state, its log, and its files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use proxima_core::{Error, ErrorKind, FieldSpec, Result, now_unix_secs};
use proxima_engine::files::blocking;
use proxima_engine::state::{Chunk, CollectionState, MergedSegment, VIEW_CHUNK_LIMIT};
use proxima_engine::{CompactionPolicy, IndexBuilder, WriteBatch, WriteOp, WriteReceipt, prepare_batch};
use proxima_wal::{ObjectLog, Wal, WalOptions};

mod follow;

pub(crate) use self::follow::{Refreshed, not_the_writer};
use crate::log::CollectionLog;
use crate::manifest::{MANIFEST, Manifest, SegmentEntry, index_file, segment_file};
use crate::segment_file::{Encoders, Layout, decode, encode};
use crate::store::{ManifestVersion, Store};
use crate::{LogPlacement, ViperConfig};

pub(crate) struct ViperCollection {
    pub(crate) name: String,
    pub(crate) state: CollectionState,
    log: Arc<CollectionLog>,
    manifest: Manifest,
    manifest_version: ManifestVersion,
    /// When the oldest unflushed operation arrived.
    buffer_since: Option<Instant>,
    /// Operations logged since the last flush.
    unflushed_ops: usize,
    /// Last use of each segment (a logical clock), for evicting the coldest first.
    last_used: HashMap<u64, u64>,
    clock: u64,
    /// Set when a compaction rewrote the state but could not commit its manifest,
    /// or when an applied batch could not be made durable: the state is not what
    /// the files and the log hold until the collection is reopened.
    poisoned: Option<String>,
    /// The log position covering every batch applied to the state.
    applied: proxima_wal::SyncPoint,
    /// Held for the whole of a flush or compaction, so they run one at a time
    /// while a background flush writes its file without the collection's lock.
    flush_lock: Arc<tokio::sync::Mutex<()>>,
    /// The segment a flush or compaction is writing without the collection's
    /// lock: views must not merge it away before its manifest names it.
    in_flight: Option<u64>,
}

/// A flush that leaves dead rows making up this share of all rows compacts
/// every segment: the files then hold at most twice the live rows, plus the
/// segment the next flush adds.
const MAX_DEAD_RATIO: f32 = 0.5;

/// Past this many segment files, a flush merges the smaller half of them.
const MAX_SEGMENTS: usize = 16;

fn wal_options(config: &proxima_core::CollectionConfig) -> WalOptions {
    WalOptions { fsync: config.fsync, ..WalOptions::default() }
}

impl ViperCollection {
    /// Creates the collection's manifest and log.
    pub(crate) async fn create(
        config: proxima_core::CollectionConfig,
        engine: &ViperConfig,
        store: &Store,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let name = config.name.clone();
        let mut manifest = Manifest::new(config.clone());
        let bytes = Bytes::from(manifest.encode()?);
        let mut version =
            store.put_manifest(&format!("{name}/{MANIFEST}"), bytes, &ManifestVersion::Absent).await.map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    Error::already_exists(format!("collection `{name}` already exists"))
                } else {
                    e
                }
            })?;
        // A log left by an earlier collection of the same name must not replay into this one.
        let log = match engine.log {
            LogPlacement::Local => {
                let (wal_dir, options) = (engine.wal_dir.join(&name), wal_options(&config));
                let wal = blocking(move || {
                    let _ = std::fs::remove_dir_all(&wal_dir);
                    Wal::open(&wal_dir, options)
                })
                .await?;
                CollectionLog::Local(Arc::new(wal))
            }
            LogPlacement::Object => {
                let (objects, dir) = store.log_location(&name)?;
                ObjectLog::<WriteOp>::destroy(&*objects, &dir).await?;
                let log = ObjectLog::<WriteOp>::claim(objects, dir).await?.recover(1).await?.0;
                // Only once the manifest exists is the log this collection's to take.
                manifest.writer_epoch = log.epoch();
                version = store_manifest(&format!("{name}/{MANIFEST}"), &mut manifest, &version, store).await?;
                CollectionLog::Object(log)
            }
        };
        let mut state = CollectionState::new(config, index_builder);
        state.defer_indexing();
        Ok(Self::assemble(name, state, log, manifest, version))
    }

    /// A handle over `state` as `manifest` (at `manifest_version`) and `log`
    /// have it, with nothing buffered, used or in flight yet.
    fn assemble(
        name: String,
        state: CollectionState,
        log: CollectionLog,
        manifest: Manifest,
        manifest_version: ManifestVersion,
    ) -> Self {
        Self {
            name,
            state,
            log: Arc::new(log),
            manifest,
            manifest_version,
            buffer_since: None,
            unflushed_ops: 0,
            last_used: HashMap::new(),
            clock: 0,
            poisoned: None,
            applied: Default::default(),
            flush_lock: Default::default(),
            in_flight: None,
        }
    }

    /// Opens a collection: manifest, segment files (no index rebuilt), then the log tail.
    pub(crate) async fn open(
        name: &str,
        engine: &ViperConfig,
        store: &Store,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Option<Self>> {
        let manifest_path = format!("{name}/{MANIFEST}");
        let Some(taken) = take_log(name, engine, store).await? else { return Ok(None) };
        let mut attempts = 0;
        let (manifest, manifest_version) = loop {
            let Some((bytes, version)) = store.get_manifest(&manifest_path).await? else { return Ok(None) };
            let mut manifest = Manifest::decode(&bytes, &store.describe(&manifest_path))?;
            let TakenLog::Object(claimed) = &taken else { break (manifest, version) };
            // A new manifest version, under this writer's epoch: an earlier
            // writer's flush, whose log commits fail already, cannot store a
            // manifest after this one. One that stored its manifest just
            // before is read again.
            manifest.writer_epoch = claimed.epoch();
            attempts += 1;
            match store_manifest(&manifest_path, &mut manifest, &version, store).await {
                Ok(version) => break (manifest, version),
                Err(e) if e.kind() == ErrorKind::Conflict && attempts < 5 => continue,
                Err(e) => return Err(e),
            }
        };
        let mut state = state_from_files(name, &manifest, store, index_builder, |_| None).await?;
        let (log, replayed) = taken.replay(manifest.flushed_seq + 1).await?;
        let buffer_since = (!replayed.is_empty()).then(Instant::now);
        let unflushed_ops = replayed.len();
        for (seq, op) in replayed {
            state.apply(WriteBatch { ops: vec![op] }, seq);
        }
        let collection = Self {
            buffer_since,
            unflushed_ops,
            ..Self::assemble(name.to_string(), state, log, manifest, manifest_version)
        };
        collection.remove_orphans(store).await?;
        Ok(Some(collection))
    }

    /// Marks segments as just used.
    pub(crate) fn touch(&mut self, segments: &[u64]) {
        self.clock += 1;
        for id in segments {
            self.last_used.insert(*id, self.clock);
        }
    }

    /// Decodes again, from their files, the vectors of `segments` that were evicted.
    pub(crate) async fn ensure_loaded(&mut self, segments: &[u64], store: &Store) -> Result<()> {
        let evicted: HashSet<u64> = self.state.evicted_segments().into_iter().collect();
        for id in segments.iter().filter(|id| evicted.contains(id)) {
            let entry = self.manifest.segments.iter().find(|s| s.segment_id == *id);
            let entry = entry.ok_or_else(|| Error::internal(format!("evicted segment {id} is in no file")))?;
            let file = format!("{}/{}", self.name, entry.file);
            let bytes = store.get(&file).await.map_err(|e| e.with_context("file", store.describe(&file)))?;
            let (config, segment_id) = (self.state.config().clone(), *id);
            let chunk = blocking(move || decode(bytes, &config, segment_id)).await?;
            self.state.provide_vectors(segment_id, chunk.vectors)?;
        }
        self.touch(segments);
        Ok(())
    }

    /// Every evicted segment back in memory (for views, checkpoints, compaction).
    pub(crate) async fn ensure_all_loaded(&mut self, store: &Store) -> Result<()> {
        let all = self.state.segment_ids();
        self.ensure_loaded(&all, store).await
    }

    /// Evicts the coldest segments already in files until the decoded vectors
    /// fit `budget`; segments a read view holds stay (the view keeps them alive).
    pub(crate) fn enforce_budget(&mut self, budget: u64) {
        if self.state.resident_vector_bytes() <= budget {
            return;
        }
        let mut candidates: Vec<(u64, u64)> = self
            .manifest
            .segments
            .iter()
            .map(|s| (self.last_used.get(&s.segment_id).copied().unwrap_or(0), s.segment_id))
            .collect();
        candidates.sort_unstable();
        for (_, id) in candidates {
            if self.state.resident_vector_bytes() <= budget {
                break;
            }
            self.state.evict_vectors(id);
        }
    }

    /// Deletes files a crash left behind: segments no manifest names, temp files.
    async fn remove_orphans(&self, store: &Store) -> Result<()> {
        let named: HashSet<String> = self
            .manifest
            .segments
            .iter()
            .flat_map(|s| std::iter::once(s.file.clone()).chain(s.index_file.clone()))
            .collect();
        for file in store.list(&self.name).await? {
            let ours = file.starts_with("seg-") || file.ends_with(".tmp");
            if ours && !named.contains(&file) {
                store.delete(&format!("{}/{file}", self.name)).await?;
            }
        }
        Ok(())
    }

    /// Whether another node writes this collection.
    pub(crate) fn following(&self) -> bool {
        matches!(*self.log, CollectionLog::Following)
    }

    /// Whether this handle may change the collection.
    fn usable(&self) -> Result<()> {
        if self.following() {
            return Err(not_the_writer(&self.name));
        }
        match &self.poisoned {
            Some(why) => Err(Error::unavailable(format!(
                "collection `{}` must be reopened after a failed compaction or log sync: {why}",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// Checks a batch and writes it to the log, without waiting for the log's
    /// fsync: the caller starts the wait on the returned point, then applies the
    /// batch with [`ViperCollection::apply_logged`] while the fsync runs, and
    /// acknowledges once both are done. Until then no read is served: reads wait
    /// for everything applied to be durable first (`make_durable`), so nothing a
    /// crash could lose is ever seen.
    pub(crate) async fn log(&mut self, mut batch: WriteBatch, store: &Store) -> Result<Logged> {
        self.usable()?;
        let now = now_unix_secs();
        let config = self.state.config().clone();
        prepare_batch(&mut batch, &config, now)?;
        let updated = batch.ops.iter().filter_map(|op| match op {
            WriteOp::UpdateMetadata { id, .. } => Some(id.as_str()),
            _ => None,
        });
        let needed = self.state.segments_of(updated);
        self.ensure_loaded(&needed, store).await?;
        self.state.check(&batch, now)?;
        if batch.is_empty() {
            return Ok(Logged { batch, first_seq: self.state.next_seq(), point: self.applied });
        }
        // The frame is encoded from the ops before `apply` consumes them: no copy of the batch.
        let (range, point) = self.log.append_unsynced(&batch.ops)?;
        Ok(Logged { batch, first_seq: range.first, point })
    }

    /// Applies a batch [`ViperCollection::log`] wrote to the log.
    pub(crate) fn apply_logged(&mut self, logged: Logged) -> WriteReceipt {
        if logged.batch.is_empty() {
            return WriteReceipt { first_seq: logged.first_seq, last_seq: logged.first_seq - 1 };
        }
        let receipt = self.state.apply(logged.batch, logged.first_seq);
        self.applied = logged.point;
        self.buffer_since.get_or_insert_with(Instant::now);
        self.unflushed_ops += (receipt.last_seq + 1 - receipt.first_seq) as usize;
        receipt
    }

    /// The log, for waiting on a sync point without the collection's lock.
    pub(crate) fn write_log(&self) -> Arc<CollectionLog> {
        Arc::clone(&self.log)
    }

    /// Refuses every later operation: an applied batch could not be made
    /// durable, so the state holds what the log may not.
    pub(crate) fn poison(&mut self, why: &Error) {
        self.poisoned.get_or_insert_with(|| why.to_string());
    }

    /// Waits until every applied batch is durable (under the fsync policy), so
    /// that a read never shows what a crash could lose.
    pub(crate) async fn make_durable(&mut self) -> Result<()> {
        if self.log.is_durable(self.applied) {
            return Ok(()); // the usual case for a read
        }
        if let Err(e) = self.log.make_durable(self.applied).await {
            self.poison(&e);
            return Err(e);
        }
        Ok(())
    }

    /// Operations logged since the last flush began.
    pub(crate) fn unflushed_ops(&self) -> usize {
        self.unflushed_ops
    }

    /// Whether the buffer passed its size or age threshold.
    pub(crate) fn flush_due(&self, engine: &ViperConfig) -> bool {
        self.unflushed_ops >= engine.flush_rows
            || self.buffer_since.is_some_and(|since| since.elapsed().as_millis() as u64 >= engine.flush_interval_ms)
    }

    /// The lock a flush holds from start to end (one flush or compaction at a time).
    pub(crate) fn flush_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(&self.flush_lock)
    }

    /// Ids of the segments the manifest names.
    fn persisted(&self) -> HashSet<u64> {
        self.manifest.segments.iter().map(|s| s.segment_id).collect()
    }

    /// Merges the chunks views sealed that no file holds yet, once there are
    /// more than [`VIEW_CHUNK_LIMIT`] sealed segments. Persisted segments (and
    /// the one a flush is writing) are left to flushes and compactions, which
    /// change the manifest with them.
    pub(crate) fn merge_view_chunks(&mut self) -> Result<()> {
        if self.state.segment_ids().len() <= VIEW_CHUNK_LIMIT {
            return Ok(());
        }
        let persisted = self.persisted();
        let loose: Vec<u64> = self
            .state
            .segment_ids()
            .into_iter()
            .filter(|id| !persisted.contains(id) && Some(*id) != self.in_flight)
            .collect();
        if loose.len() >= 2 {
            self.state.merge(&loose)?;
        }
        Ok(())
    }

    /// The segments a compaction after a flush should merge, if the files need
    /// it: every one once dead rows are as many as the rows kept (the files
    /// hold twice the live data), else the smaller half once there are more
    /// than [`MAX_SEGMENTS`] files.
    pub(crate) fn due_compaction(&self) -> Option<Vec<u64>> {
        if self.state.dead_ratio() >= MAX_DEAD_RATIO {
            return Some(self.manifest.segments.iter().map(|s| s.segment_id).collect());
        }
        if self.manifest.segments.len() > MAX_SEGMENTS {
            let mut by_rows: Vec<&SegmentEntry> = self.manifest.segments.iter().collect();
            by_rows.sort_by_key(|s| s.rows);
            return Some(by_rows[..by_rows.len() / 2].iter().map(|s| s.segment_id).collect());
        }
        None
    }

    /// The segments `policy` asks a compaction to merge: every persisted one,
    /// or none (a flush only) when there are fewer than two small segments and
    /// too few dead rows.
    pub(crate) fn compaction_for(&self, policy: &CompactionPolicy) -> Rewrite {
        let small = self.manifest.segments.iter().filter(|s| (s.rows as usize) < policy.small_segment_rows).count();
        if small < 2 && self.state.dead_ratio() < policy.min_dead_ratio {
            Rewrite::Flush
        } else {
            Rewrite::Merge(self.manifest.segments.iter().map(|s| s.segment_id).collect())
        }
    }

    /// The first step of a flush or compaction, under the collection's lock:
    /// seals the buffer and merges everything not yet in a file (and, for a
    /// compaction, the persisted segments named) into one segment, as of one
    /// sequence number. `None` when there is nothing to write.
    pub(crate) async fn prepare(&mut self, rewrite: Rewrite, store: &Store) -> Result<Option<PendingFlush>> {
        self.usable()?;
        self.make_durable().await?;
        self.state.seal()?;
        let persisted = self.persisted();
        let compacted: Vec<u64> = match rewrite {
            Rewrite::Flush => Vec::new(),
            Rewrite::Merge(ids) => ids.into_iter().filter(|id| persisted.contains(id)).collect(),
        };
        let mut merging: Vec<u64> = self.state.segment_ids().into_iter().filter(|id| !persisted.contains(id)).collect();
        if merging.is_empty() && compacted.is_empty() && self.manifest.flushed_seq + 1 == self.state.next_seq() {
            return Ok(None);
        }
        self.ensure_loaded(&compacted, store).await?;
        let everything = !compacted.is_empty() && compacted.len() == persisted.len();
        merging.extend(&compacted);
        let rows_before = self.state.rows_in(&merging);
        let merged = self.state.merge(&merging)?;
        if everything {
            self.state.forget_deletes();
        }
        let rows_after = merged.as_ref().map_or(0, |m| m.chunk.len() as u64);
        // A persisted segment that was all live rows is its own merge: its file stays.
        let merged = merged.filter(|m| !m.chunk.is_empty() && !persisted.contains(&m.chunk.segment_id));
        let to_index = merged.as_ref().and_then(|m| self.state.unindexed(m.chunk.segment_id));
        let (deleted, soft_deleted) = self.state.hidden();
        self.in_flight = merged.as_ref().map(|m| m.chunk.segment_id);
        self.buffer_since = None;
        self.unflushed_ops = 0;
        Ok(Some(PendingFlush {
            merged,
            to_index,
            flushed_seq: self.state.next_seq() - 1,
            deleted,
            soft_deleted,
            rows_removed: rows_before - rows_after,
        }))
    }

    /// The manifest once a prepared flush's file is written (and the zones to
    /// attach to its segment), for a caller that stores it without this lock,
    /// and the entries it no longer names, whose files go once it is stored.
    ///
    /// The manifest names exactly the segments of the state that are in files:
    /// an entry whose segment a merge replaced is dropped, its rows being in
    /// the new file (or, after a failed write, in the segment the next flush
    /// writes, the log holding them until then).
    pub(crate) fn manifest_after(
        &self,
        pending: PendingFlush,
        written: Option<(SegmentEntry, Vec<proxima_engine::Zone>)>,
    ) -> (Manifest, Option<Built>, Vec<SegmentEntry>) {
        let mut manifest = self.manifest.clone();
        let (kept, replaced): (Vec<SegmentEntry>, Vec<SegmentEntry>) = std::mem::take(&mut manifest.segments)
            .into_iter()
            .partition(|s| self.state.sealed_segment(s.segment_id).is_some());
        manifest.segments = kept;
        let index = pending.merged.as_ref().and_then(|m| m.index.clone());
        let built = written.map(|(entry, zones)| {
            let segment_id = entry.segment_id;
            manifest.segments.push(entry);
            Built { segment_id, zones, index }
        });
        manifest.flushed_seq = pending.flushed_seq;
        (manifest.deleted, manifest.soft_deleted) = (pending.deleted, pending.soft_deleted);
        (manifest, built, replaced)
    }

    /// Gives a flushed segment what writing its file produced: zone bounds, and
    /// the index bytes if they were built outside the lock.
    fn attach(&mut self, built: Option<Built>) {
        if let Some(built) = built {
            self.state.set_zones(built.segment_id, built.zones);
            if let Some(index) = built.index {
                self.state.set_index(built.segment_id, index);
            }
        }
    }

    /// The durable name of the data this handle holds: the same on the
    /// writer and on every follower that applied the same manifest and log.
    pub(crate) fn data_version(&self) -> Option<proxima_engine::DataVersion> {
        // A poisoned state is not what the files and the log hold.
        (self.manifest.lineage != 0 && self.poisoned.is_none()).then(|| proxima_engine::DataVersion {
            lineage: self.manifest.lineage,
            layout: self.manifest.version,
            seq: self.state.next_seq() - 1,
        })
    }

    /// Where the manifest is and which version of it this collection last wrote.
    pub(crate) fn manifest_location(&self) -> (String, ManifestVersion) {
        (format!("{}/{MANIFEST}", self.name), self.manifest_version.clone())
    }

    /// Takes a manifest stored without this lock (see [`ViperCollection::manifest_after`]) as current.
    pub(crate) fn installed(&mut self, manifest: Manifest, version: ManifestVersion, built: Option<Built>) {
        self.attach(built);
        self.manifest = manifest;
        self.manifest_version = version;
        self.in_flight = None;
    }

    /// Declares `field` (see [`CollectionState::declaring`]) in a new manifest;
    /// the caller holds the flush lock, so no flush stores one meanwhile.
    pub(crate) async fn declare_field(&mut self, field: FieldSpec, store: &Store) -> Result<bool> {
        self.usable()?;
        self.ensure_all_loaded(store).await?;
        let Some(config) = self.state.declaring(&field, now_unix_secs())? else { return Ok(false) };
        let mut manifest = self.manifest.clone();
        manifest.config = config.clone();
        let (path, expected) = self.manifest_location();
        self.manifest_version = store_manifest(&path, &mut manifest, &expected, store).await?;
        self.manifest = manifest;
        self.state.declared(config);
        Ok(true)
    }

    /// Statistics of the rows in the manifest's files plus the write buffer.
    pub(crate) fn stats(&self) -> proxima_engine::CollectionStats {
        let mut stats = self.state.stats(now_unix_secs());
        // Files at their size on disk; what is not in a file yet at its size in memory.
        let persisted = self.persisted();
        let unpersisted: Vec<u64> = self.state.segment_ids().into_iter().filter(|id| !persisted.contains(id)).collect();
        stats.bytes = self.manifest.segments.iter().map(|s| s.bytes).sum::<u64>()
            + self.state.approx_bytes_of(&unpersisted)
            + self.state.buffer_bytes();
        stats
    }
}

/// Deletes the files of segments a stored manifest no longer names. Views hold
/// decoded data, not files; a file that cannot be deleted is an orphan, removed
/// when the collection next opens.
pub(crate) async fn remove_replaced(name: &str, replaced: Vec<SegmentEntry>, store: &Store) {
    for s in replaced {
        let _ = store.delete(&format!("{name}/{}", s.file)).await;
        if let Some(index) = s.index_file {
            let _ = store.delete(&format!("{name}/{index}")).await;
        }
    }
}

/// What a flush rewrites besides the segments no file holds yet.
pub(crate) enum Rewrite {
    /// Nothing else.
    Flush,
    /// These persisted segments too (a compaction); merging every one also
    /// drops the delete tombstones, which hide no row any more.
    Merge(Vec<u64>),
}

/// What writing a flushed segment's file produced, to attach to the segment.
pub(crate) struct Built {
    segment_id: u64,
    zones: Vec<proxima_engine::Zone>,
    index: Option<Arc<[u8]>>,
}

/// Runs the index hook over a segment on a blocking thread.
async fn build_index(
    (segment, builder): (Arc<dyn proxima_engine::Segment>, Arc<dyn IndexBuilder>),
    config: proxima_core::CollectionConfig,
) -> Result<Option<Arc<[u8]>>> {
    blocking(move || Ok(builder.build(&config, &*segment)?.map(Arc::from))).await
}

/// Builds a prepared flush's index if it still needs one (the hook is slow: an
/// HNSW build takes seconds, so it runs without the collection's lock), then
/// writes the segment's files.
pub(crate) async fn write_pending(
    name: &str,
    config: &proxima_core::CollectionConfig,
    pending: &mut PendingFlush,
    engine: &ViperConfig,
    encoders: Encoders,
    store: &Store,
) -> Result<Option<(SegmentEntry, Vec<proxima_engine::Zone>)>> {
    let Some(merged) = pending.merged.as_mut() else { return Ok(None) };
    if let Some(to_index) = pending.to_index.take() {
        merged.index = build_index(to_index, config.clone()).await?;
    }
    write_segment_files(name, config, merged, engine, encoders, store).await
}

/// A batch in the log, not yet applied.
pub(crate) struct Logged {
    batch: WriteBatch,
    first_seq: u64,
    /// The log position to wait on before acknowledging.
    pub(crate) point: proxima_wal::SyncPoint,
}

/// A flush between its steps: the merged segment and the state it was taken at.
pub(crate) struct PendingFlush {
    pub(crate) merged: Option<MergedSegment>,
    /// The merged segment and the index hook, when its index is still to build.
    to_index: Option<(Arc<dyn proxima_engine::Segment>, Arc<dyn IndexBuilder>)>,
    flushed_seq: u64,
    deleted: Vec<proxima_engine::Tombstone>,
    soft_deleted: Vec<proxima_engine::Tombstone>,
    /// Rows the merge dropped: older versions, deleted and expired records.
    pub(crate) rows_removed: u64,
}

/// Stores `manifest` (its version one up) in place of version `expected`;
/// returns the store's new version.
pub(crate) async fn store_manifest(
    path: &str,
    manifest: &mut Manifest,
    expected: &ManifestVersion,
    store: &Store,
) -> Result<ManifestVersion> {
    manifest.version += 1;
    store.put_manifest(path, Bytes::from(manifest.encode()?), expected).await
}

/// Lets the log go of everything up to `flushed_seq`, which is in the files now.
pub(crate) async fn truncate_log(log: Arc<CollectionLog>, flushed_seq: u64) -> Result<()> {
    log.truncate_before(flushed_seq + 1).await
}

/// The state the manifest's files hold (no index rebuilt): segments that
/// `loaded` gives (already decoded, by id) are taken from it, the others
/// read and decoded from their files.
async fn state_from_files(
    name: &str,
    manifest: &Manifest,
    store: &Store,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    loaded: impl Fn(u64) -> Option<(Chunk, Option<Arc<[u8]>>)>,
) -> Result<CollectionState> {
    let config = manifest.config.clone();
    let mut segments = Vec::with_capacity(manifest.segments.len());
    for entry in &manifest.segments {
        if let Some(segment) = loaded(entry.segment_id) {
            segments.push(segment);
            continue;
        }
        let file = format!("{name}/{}", entry.file);
        let missing = |e: Error| {
            let why = if e.kind() == ErrorKind::NotFound { "is missing" } else { "cannot be read" };
            Error::corrupted(format!("segment file named by the manifest {why}"))
                .with_context("file", store.describe(&file))
                .with_source(e)
        };
        let bytes = store.get(&file).await.map_err(missing)?;
        let cfg = config.clone();
        let id = entry.segment_id;
        let chunk: Chunk = blocking(move || decode(bytes, &cfg, id))
            .await
            .map_err(|e| e.with_context("file", store.describe(&file)))?;
        if chunk.len() as u64 != entry.rows {
            return Err(Error::corrupted(format!(
                "segment has {} rows, the manifest says {}",
                chunk.len(),
                entry.rows
            ))
            .with_context("file", store.describe(&file)));
        }
        let index = match &entry.index_file {
            Some(f) => Some(Arc::from(&store.get(&format!("{name}/{f}")).await.map_err(missing)?[..])),
            None => None,
        };
        segments.push((chunk, index));
    }
    let mut state = CollectionState::from_segments(
        config,
        index_builder,
        segments,
        &manifest.deleted,
        &manifest.soft_deleted,
        manifest.flushed_seq + 1,
    );
    state.defer_indexing();
    Ok(state)
}

/// A collection's log, taken for this handle and not yet replayed.
enum TakenLog {
    Local(Wal<WriteOp>),
    Object(proxima_wal::ClaimedLog),
}

/// Takes a collection's log before its manifest is read: a local log's lock
/// (a previous handle's background flush may still be committing a manifest;
/// once the lock is held, nothing else changes it), or an object log's
/// writer epoch (from then on, the previous writer's commits fail). `None`
/// when the collection has no manifest.
async fn take_log(name: &str, engine: &ViperConfig, store: &Store) -> Result<Option<TakenLog>> {
    let manifest_path = format!("{name}/{MANIFEST}");
    let Some((bytes, _)) = store.get_manifest(&manifest_path).await? else { return Ok(None) };
    Ok(Some(match engine.log {
        LogPlacement::Local => {
            let options = wal_options(&Manifest::decode(&bytes, &store.describe(&manifest_path))?.config);
            let wal_dir = engine.wal_dir.join(name);
            TakenLog::Local(blocking(move || Wal::<WriteOp>::open(&wal_dir, options)).await?)
        }
        LogPlacement::Object => {
            let (objects, dir) = store.log_location(name)?;
            TakenLog::Object(ObjectLog::<WriteOp>::claim(objects, dir).await?)
        }
    }))
}

impl TakenLog {
    /// The operations from `from_seq` on (the files hold everything before),
    /// and the log, open for appending after them.
    async fn replay(self, from_seq: u64) -> Result<(CollectionLog, Vec<(u64, WriteOp)>)> {
        match self {
            TakenLog::Local(wal) => {
                blocking(move || {
                    // A log behind the files (lost, or emptied by a restore) starts after them.
                    wal.advance_to(from_seq)?;
                    let mut ops = Vec::new();
                    wal.replay(from_seq, |seq, op| {
                        ops.push((seq, op));
                        Ok(())
                    })?;
                    Ok((CollectionLog::Local(Arc::new(wal)), ops))
                })
                .await
            }
            TakenLog::Object(claimed) => {
                let (log, ops) = claimed.recover(from_seq).await?;
                Ok((CollectionLog::Object(log), ops))
            }
        }
    }
}

/// Encodes a segment as Parquet (on a blocking thread) and stores it and its
/// index bytes; returns its manifest entry and zone bounds. Needs no lock.
pub(crate) async fn write_segment_files(
    name: &str,
    config: &proxima_core::CollectionConfig,
    segment: &MergedSegment,
    engine: &ViperConfig,
    threads: Encoders,
    store: &Store,
) -> Result<Option<(SegmentEntry, Vec<proxima_engine::Zone>)>> {
    if segment.chunk.is_empty() {
        return Ok(None);
    }
    let chunk = Arc::clone(&segment.chunk);
    let config = config.clone();
    let layout = Layout { row_group_rows: engine.row_group_rows, vectors: engine.vector_compression, threads };
    let id = segment.chunk.segment_id;
    let file = segment_file(id);
    // Room for the raw vectors, when the file is built in memory first.
    let size_hint = chunk.vectors.len() * 4 + chunk.len() * 32;
    let (bytes, zones) = store
        .put_written(&format!("{name}/{file}"), size_hint, move |sink| encode(&chunk, &config, layout, sink))
        .await?;
    let entry = SegmentEntry {
        segment_id: id,
        file,
        rows: segment.chunk.len() as u64,
        bytes,
        min_seq: segment.chunk.seqs.iter().copied().min().unwrap_or(0),
        max_seq: segment.chunk.seqs.iter().copied().max().unwrap_or(0),
        index_file: segment.index.as_ref().map(|_| index_file(id)),
    };
    if let Some(index) = &segment.index {
        store.put(&format!("{name}/{}", index_file(id)), Bytes::copy_from_slice(index)).await?;
    }
    Ok(Some((entry, zones)))
}
