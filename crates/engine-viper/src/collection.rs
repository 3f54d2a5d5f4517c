//! One VIPER collection: the shared collection state, its log, and its files.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use proxima_core::{Error, ErrorKind, Result, now_unix_secs};
use proxima_engine::files::blocking;
use proxima_engine::state::{Chunk, CollectionState, MergedSegment};
use proxima_engine::{
    CompactionPolicy, CompactionReport, IndexBuilder, WriteBatch, WriteOp, WriteReceipt, prepare_batch,
};
use proxima_wal::{Wal, WalOptions};

use crate::ViperConfig;
use crate::manifest::{MANIFEST, Manifest, SegmentEntry, index_file, segment_file};
use crate::segment_file::{Encoders, Layout, decode, encode};
use crate::store::{ManifestVersion, Store};

pub(crate) struct ViperCollection {
    pub(crate) name: String,
    pub(crate) state: CollectionState,
    wal: Arc<Wal<WriteOp>>,
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
}

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
        let manifest = Manifest::new(config.clone());
        let bytes = Bytes::from(manifest.encode()?);
        let version =
            store.put_manifest(&format!("{name}/{MANIFEST}"), bytes, &ManifestVersion::Absent).await.map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    Error::already_exists(format!("collection `{name}` already exists"))
                } else {
                    e
                }
            })?;
        let wal_dir = engine.wal_dir.join(&name);
        let options = wal_options(&config);
        // A log left by an earlier collection of the same name must not replay into this one.
        let wal = blocking(move || {
            let _ = std::fs::remove_dir_all(&wal_dir);
            Wal::open(&wal_dir, options)
        })
        .await?;
        let mut state = CollectionState::new(config, index_builder);
        state.defer_indexing();
        Ok(Self {
            name,
            state,
            wal: Arc::new(wal),
            manifest,
            manifest_version: version,
            buffer_since: None,
            unflushed_ops: 0,
            last_used: HashMap::new(),
            clock: 0,
            poisoned: None,
            applied: Default::default(),
            flush_lock: Default::default(),
        })
    }

    /// Opens a collection: manifest, segment files (no index rebuilt), then the log tail.
    pub(crate) async fn open(
        name: &str,
        engine: &ViperConfig,
        store: &Store,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Option<Self>> {
        let manifest_path = format!("{name}/{MANIFEST}");
        let Some((bytes, _)) = store.get_manifest(&manifest_path).await? else { return Ok(None) };
        let options = wal_options(&Manifest::decode(&bytes, &store.describe(&manifest_path))?.config);
        // The log's lock first: a previous handle's background flush may still be
        // committing a manifest; once we hold the lock, nothing else changes it.
        let wal_dir = engine.wal_dir.join(name);
        let wal = blocking(move || Wal::<WriteOp>::open(&wal_dir, options)).await?;
        let Some((bytes, manifest_version)) = store.get_manifest(&manifest_path).await? else { return Ok(None) };
        let manifest = Manifest::decode(&bytes, &store.describe(&manifest_path))?;
        let config = manifest.config.clone();
        let mut segments = Vec::with_capacity(manifest.segments.len());
        for entry in &manifest.segments {
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
            config.clone(),
            index_builder,
            segments,
            &manifest.deleted,
            &manifest.soft_deleted,
            manifest.flushed_seq + 1,
        );
        state.defer_indexing();
        let flushed = manifest.flushed_seq;
        let (wal, replayed) = blocking(move || {
            // The files hold everything up to `flushed`; a log behind them (lost, or
            // emptied by a restore) starts after it.
            wal.advance_to(flushed + 1)?;
            let mut ops = Vec::new();
            wal.replay(flushed + 1, |seq, op| {
                ops.push((seq, op));
                Ok(())
            })?;
            Ok((wal, ops))
        })
        .await?;
        let buffer_since = (!replayed.is_empty()).then(Instant::now);
        let unflushed_ops = replayed.len();
        for (seq, op) in replayed {
            state.apply(WriteBatch { ops: vec![op] }, seq);
        }
        let collection = Self {
            name: name.to_string(),
            state,
            wal: Arc::new(wal),
            manifest,
            manifest_version,
            buffer_since,
            unflushed_ops,
            last_used: HashMap::new(),
            clock: 0,
            poisoned: None,
            applied: Default::default(),
            flush_lock: Default::default(),
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

    fn usable(&self) -> Result<()> {
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
        let (range, point) = self.wal.append_unsynced(&batch.ops)?;
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
    pub(crate) fn wal(&self) -> Arc<Wal<WriteOp>> {
        Arc::clone(&self.wal)
    }

    /// Waits until every applied batch is durable (under the fsync policy), so
    /// that a read never shows what a crash could lose.
    pub(crate) async fn make_durable(&mut self) -> Result<()> {
        if self.wal.is_durable(self.applied) {
            return Ok(()); // the usual case for a read: no hop to the blocking pool
        }
        let (wal, point) = (Arc::clone(&self.wal), self.applied);
        if let Err(e) = blocking(move || wal.wait_durable(point)).await {
            self.poisoned = Some(e.to_string());
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

    /// Writes one segment file (and its index) and returns its manifest entry.
    async fn write_segment(
        &mut self,
        mut segment: MergedSegment,
        engine: &ViperConfig,
        store: &Store,
    ) -> Result<Option<SegmentEntry>> {
        let segment_id = segment.chunk.segment_id;
        if let Some(to_index) = self.state.unindexed(segment_id) {
            segment.index = build_index(to_index, self.state.config().clone()).await?;
        }
        // Compaction holds the collection's lock: every core.
        let written =
            write_segment_files(&self.name, self.state.config(), &segment, engine, Encoders::AllCores, store).await?;
        Ok(written.map(|(entry, zones)| {
            self.attach(Some(Built { segment_id, zones, index: segment.index }));
            entry
        }))
    }

    /// The lock a flush holds from start to end (one flush or compaction at a time).
    pub(crate) fn flush_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(&self.flush_lock)
    }

    /// The first step of a background flush, under the collection's lock: seals
    /// the buffer and merges everything not yet in a file into one segment, as of
    /// one sequence number. `None` when there is nothing to write.
    pub(crate) async fn prepare_flush(&mut self) -> Result<Option<PendingFlush>> {
        self.usable()?;
        self.make_durable().await?;
        self.state.seal()?;
        let persisted: HashSet<u64> = self.manifest.segments.iter().map(|s| s.segment_id).collect();
        let pending: Vec<u64> = self.state.segment_ids().into_iter().filter(|id| !persisted.contains(id)).collect();
        if pending.is_empty() && self.manifest.flushed_seq + 1 == self.state.next_seq() {
            return Ok(None);
        }
        let merged = self.state.merge(&pending)?;
        let to_index = merged.as_ref().and_then(|m| self.state.unindexed(m.chunk.segment_id));
        let (deleted, soft_deleted) = self.state.hidden();
        self.buffer_since = None;
        self.unflushed_ops = 0;
        Ok(Some(PendingFlush { merged, to_index, flushed_seq: self.state.next_seq() - 1, deleted, soft_deleted }))
    }

    /// The last step of a flush: the manifest names the new file, then the log
    /// lets go of what it covers.
    pub(crate) async fn commit_flush(
        &mut self,
        pending: PendingFlush,
        written: Option<(SegmentEntry, Vec<proxima_engine::Zone>)>,
        store: &Store,
    ) -> Result<()> {
        let (manifest, built) = self.manifest_after(pending, written);
        self.attach(built);
        self.publish(manifest, store).await
    }

    /// The manifest once a prepared flush's file is written (and the zones to
    /// attach to its segment), for a caller that stores it without this lock.
    pub(crate) fn manifest_after(
        &self,
        pending: PendingFlush,
        written: Option<(SegmentEntry, Vec<proxima_engine::Zone>)>,
    ) -> (Manifest, Option<Built>) {
        let mut manifest = self.manifest.clone();
        let index = pending.merged.as_ref().and_then(|m| m.index.clone());
        let built = written.map(|(entry, zones)| {
            let segment_id = entry.segment_id;
            manifest.segments.push(entry);
            Built { segment_id, zones, index }
        });
        manifest.flushed_seq = pending.flushed_seq;
        (manifest.deleted, manifest.soft_deleted) = (pending.deleted, pending.soft_deleted);
        (manifest, built)
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

    /// Where the manifest is and which version of it this collection last wrote.
    pub(crate) fn manifest_location(&self) -> (String, ManifestVersion) {
        (format!("{}/{MANIFEST}", self.name), self.manifest_version.clone())
    }

    /// Takes a manifest stored without this lock (see [`ViperCollection::manifest_after`]) as current.
    pub(crate) fn installed(&mut self, manifest: Manifest, version: ManifestVersion, built: Option<Built>) {
        self.attach(built);
        self.manifest = manifest;
        self.manifest_version = version;
    }

    /// Replaces the manifest (as of the state now), then lets the log go below what it covers.
    async fn commit(&mut self, mut manifest: Manifest, store: &Store) -> Result<()> {
        manifest.flushed_seq = self.state.next_seq() - 1;
        (manifest.deleted, manifest.soft_deleted) = self.state.hidden();
        self.buffer_since = None;
        self.unflushed_ops = 0;
        self.publish(manifest, store).await
    }

    async fn publish(&mut self, mut manifest: Manifest, store: &Store) -> Result<()> {
        let (path, expected) = self.manifest_location();
        let version = store_manifest(&path, &mut manifest, &expected, store).await?;
        self.installed(manifest, version, None);
        truncate_log(self.wal(), self.manifest.flushed_seq).await
    }

    /// Seals the buffer and everything not yet in a file into one new segment file.
    pub(crate) async fn flush(&mut self, engine: &ViperConfig, store: &Store) -> Result<()> {
        let Some(mut pending) = self.prepare_flush().await? else { return Ok(()) };
        let config = self.state.config().clone();
        // Under the collection's lock (compaction, restore): every core.
        let written = write_pending(&self.name, &config, &mut pending, engine, Encoders::AllCores, store).await?;
        self.commit_flush(pending, written, store).await
    }

    /// Rewrites segments that are small or carry many dead rows into one.
    pub(crate) async fn compact(
        &mut self,
        policy: &CompactionPolicy,
        engine: &ViperConfig,
        store: &Store,
    ) -> Result<CompactionReport> {
        self.flush(engine, store).await?;
        // Dead rows in the files only: after a flush the state is all files.
        let before = self.manifest.segments.len() as u64;
        let small = self.manifest.segments.iter().filter(|s| (s.rows as usize) < policy.small_segment_rows).count();
        if small < 2 && self.state.dead_ratio() < policy.min_dead_ratio {
            return Ok(CompactionReport { segments_before: before, segments_after: before, rows_removed: 0 });
        }
        self.ensure_all_loaded(store).await?;
        let rows_removed = self.state.compact_all()?;
        let old = std::mem::take(&mut self.manifest.segments);
        let mut manifest = self.manifest.clone();
        if let Some(merged) = self.state.segment_ids().last().and_then(|id| self.state.sealed_segment(*id)) {
            match old.iter().find(|s| s.segment_id == merged.chunk.segment_id) {
                // Nothing to rewrite: the one segment was all live rows already.
                Some(unchanged) => manifest.segments.push(unchanged.clone()),
                None => manifest.segments.extend(self.write_segment(merged, engine, store).await?),
            }
        }
        if let Err(e) = self.commit(manifest, store).await {
            // The old manifest and files are intact and, with the log, complete;
            // the compacted in-memory state no longer matches them.
            self.manifest.segments = old;
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        // Views hold decoded data, not files: the replaced files can go now. A file
        // that cannot be deleted is an orphan, removed when the collection next opens.
        // (A segment that needed no rewrite keeps its id, and its file stays.)
        let kept: HashSet<u64> = self.manifest.segments.iter().map(|s| s.segment_id).collect();
        for s in old.into_iter().filter(|s| !kept.contains(&s.segment_id)) {
            let _ = store.delete(&format!("{}/{}", self.name, s.file)).await;
            if let Some(index) = s.index_file {
                let _ = store.delete(&format!("{}/{index}", self.name)).await;
            }
        }
        Ok(CompactionReport {
            segments_before: before,
            segments_after: self.manifest.segments.len() as u64,
            rows_removed,
        })
    }

    /// Bytes of the collection's files.
    pub(crate) fn file_bytes(&self) -> u64 {
        self.manifest.segments.iter().map(|s| s.bytes).sum()
    }
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
pub(crate) async fn truncate_log(wal: Arc<Wal<WriteOp>>, flushed_seq: u64) -> Result<()> {
    let below = flushed_seq + 1;
    // `advance_to` also moves a log that is behind the state (after a restore) past it.
    blocking(move || wal.truncate_before(below).and_then(|_| wal.advance_to(below))).await
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
