//! One LSM collection: the log, the memtable, frozen memtables, level 0 and
//! the deeper levels, and the bookkeeping that marks which rows are visible.
//!
//! A lookup walks the parts newest first — memtable, frozen memtables, level-0
//! runs newest first, then levels 1.. — asking each run's bloom filter before
//! its sorted ids. A write marks the version it replaces as no longer live in
//! that part's bitmap (copy-on-write: views keep theirs).

use std::collections::HashMap as StdHashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use proxima_core::{CollectionConfig, Error, FieldSpec, Result, now_unix_secs};
use proxima_engine::state::{Checkpoint, Chunk, CollectionState};
use proxima_engine::{
    Bitmap, CollectionStats, HiddenIds, IndexBuilder, Presence, ReadView, Segment, Snapshot, StoredRecord, Tombstone,
    WriteBatch, WriteOp, WriteReceipt, check_presence, prepare_batch,
};
use proxima_wal::{Wal, WalOptions};

use crate::LsmConfig;
use crate::bloom::Bloom;
use crate::manifest::{Manifest, RunEntry, index_file, run_file};
use crate::part::{Kind, Lookup, Part, PartData, PartSegment, Rows, Version, merge_newest};
use crate::sst;

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

const WAL_DIR: &str = "wal";
/// Views freeze the memtable; past this many frozen memtables, a view flushes them.
const MAX_FROZEN: usize = 16;

/// The memtable being written: rows in arrival order and each id's newest row.
struct Memtable {
    rows: Rows,
    newest: HashMap<String, usize>,
    live: Bitmap,
}

impl Memtable {
    fn new(dimension: usize) -> Self {
        Self { rows: Rows::new(dimension), newest: HashMap::default(), live: Bitmap::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Active,
    Frozen(usize),
    L0(usize),
    Level(usize),
}

#[derive(Debug, Clone, Copy)]
struct Loc {
    at: Where,
    row: usize,
}

/// A compaction: inputs (oldest first) merged into one run at `output_level` (1-based).
pub(crate) struct Job {
    inputs: Vec<Arc<PartData>>,
    output_level: usize,
    /// No level below the output holds data: tombstones and expired rows can go.
    last: bool,
    output_id: u64,
}

/// A background flush: the frozen memtables (oldest first) and the last operation they hold.
pub(crate) struct FlushJob {
    parts: Vec<Arc<PartData>>,
    upto: u64,
    id: u64,
}

/// What a job produced, ready to install.
pub(crate) struct Built {
    data: PartData,
    entry: RunEntry,
}

pub(crate) struct LsmCollection {
    dir: PathBuf,
    config: CollectionConfig,
    options: LsmConfig,
    wal: Wal<WriteOp>,
    active: Memtable,
    frozen: Vec<Part>,
    /// The last operation in each frozen memtable (aligned with `frozen`).
    frozen_upto: Vec<u64>,
    l0: Vec<Part>,
    levels: Vec<Option<Part>>,
    manifest: Manifest,
    next_seq: u64,
    /// Ids whose newest row is a tombstone or soft-deleted, with the operation's sequence.
    hidden: HiddenIds<(u64, bool)>,
    /// Files of replaced runs, deleted once no view holds the run.
    obsolete: Vec<(Weak<PartData>, Vec<PathBuf>)>,
    pub(crate) compacting: bool,
    /// A background flush of the frozen memtables is running.
    pub(crate) flushing: bool,
    /// The memtables passed their budget: the worker should write them out.
    /// (Memtables frozen by views alone stay in memory until then.)
    flush_wanted: bool,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    poisoned: Option<String>,
}

fn wal_options(config: &CollectionConfig) -> WalOptions {
    WalOptions { fsync: config.fsync, ..WalOptions::default() }
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let message = format!("cannot {what} {}", path.display());
    move |e| Error::io(message, e)
}

/// Writes `bytes` to `path` and makes them durable.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

impl LsmCollection {
    /// Creates the collection; the manifest goes last (it is what makes the directory a collection).
    pub(crate) fn create(
        dir: &Path,
        config: CollectionConfig,
        options: LsmConfig,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let wal = Wal::open(dir.join(WAL_DIR), wal_options(&config))?;
        let manifest = Manifest::new(config.clone());
        manifest.write(dir)?;
        crate::manifest::sync_dir(dir.parent().unwrap_or(dir))?;
        Ok(Self::assemble(dir, manifest, options, wal, index_builder))
    }

    fn assemble(
        dir: &Path,
        manifest: Manifest,
        options: LsmConfig,
        wal: Wal<WriteOp>,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Self {
        let config = manifest.config.clone();
        Self {
            dir: dir.to_path_buf(),
            active: Memtable::new(config.dimension as usize),
            next_seq: manifest.flushed_seq + 1,
            config,
            options,
            wal,
            frozen: Vec::new(),
            frozen_upto: Vec::new(),
            l0: Vec::new(),
            levels: Vec::new(),
            manifest,
            hidden: HiddenIds::default(),
            obsolete: Vec::new(),
            compacting: false,
            flushing: false,
            flush_wanted: false,
            index_builder,
            poisoned: None,
        }
    }

    /// Opens the collection in `dir`: manifest, run files (checked, no index
    /// rebuilt), then the log tail. `None` without a manifest.
    pub(crate) fn open(
        dir: &Path,
        options: LsmConfig,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Option<Self>> {
        let Some(manifest) = Manifest::read(dir)? else { return Ok(None) };
        let dimension = manifest.config.dimension as usize;
        let load = |entry: &RunEntry| -> Result<Part> {
            let path = dir.join(run_file(entry.id));
            let corrupted = |why: String| Error::corrupted(why).with_context("file", path.display());
            let bytes = std::fs::read(&path).map_err(|e| {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "a run named by the manifest is missing"
                } else {
                    "cannot read a run"
                };
                corrupted(why.into()).with_source(e)
            })?;
            let (rows, bloom, stats) = sst::decode(&bytes, dimension).map_err(corrupted)?;
            if stats.rows != entry.rows {
                return Err(corrupted(format!("{} rows, the manifest says {}", stats.rows, entry.rows)));
            }
            let index = if entry.indexed {
                let path = dir.join(index_file(entry.id));
                let bytes = std::fs::read(&path).map_err(|e| {
                    Error::corrupted("an index named by the manifest cannot be read")
                        .with_context("file", path.display())
                        .with_source(e)
                })?;
                Some(Arc::from(bytes))
            } else {
                None
            };
            let live = Arc::new(Bitmap::all_set(rows.len()));
            Ok(Part { data: Arc::new(PartData { id: entry.id, rows, lookup: Lookup::Sorted(bloom), index }), live })
        };
        let l0 = manifest.l0.iter().map(load).collect::<Result<Vec<_>>>()?;
        let levels = manifest.levels.iter().map(|e| e.as_ref().map(load).transpose()).collect::<Result<Vec<_>>>()?;
        let wal = Wal::<WriteOp>::open(dir.join(WAL_DIR), wal_options(&manifest.config))?;
        wal.advance_to(manifest.flushed_seq + 1)?;
        let mut c = Self::assemble(dir, manifest, options, wal, index_builder);
        c.l0 = l0;
        c.levels = levels;
        c.rebuild_liveness();
        c.remove_orphans()?;
        let mut replayed = Vec::new();
        c.wal.replay(c.next_seq, |seq, op| {
            replayed.push((seq, op));
            Ok(())
        })?;
        for (seq, op) in replayed {
            c.apply(vec![op], seq);
        }
        Ok(Some(c))
    }

    /// Works out from the rows alone which are visible and which ids are hidden.
    fn rebuild_liveness(&mut self) {
        let mut seen: std::collections::HashSet<String, ahash::RandomState> = Default::default();
        let parts = self.l0.iter_mut().rev().chain(self.levels.iter_mut().flatten());
        for part in parts {
            let mut live = Bitmap::default();
            for row in 0..part.data.rows.len() {
                let id = &part.data.rows.chunk.ids[row];
                let newest = seen.insert(id.clone());
                let kind = part.data.rows.kinds[row];
                live.push(newest && kind == Kind::Put);
                if newest && kind != Kind::Put {
                    self.hidden.hide(id.clone(), (part.data.rows.op_seqs[row], kind == Kind::Soft));
                }
            }
            part.live = Arc::new(live);
        }
    }

    /// Deletes run and index files the manifest does not name (from a flush or compaction cut short).
    fn remove_orphans(&self) -> Result<()> {
        let named: std::collections::HashSet<String> =
            self.manifest.runs().flat_map(|e| [run_file(e.id), index_file(e.id)]).collect();
        for entry in std::fs::read_dir(&self.dir).map_err(io("list", &self.dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("run-") && !named.contains(&name) {
                std::fs::remove_file(entry.path()).map_err(io("remove", &entry.path()))?;
            }
        }
        Ok(())
    }

    pub(crate) fn config(&self) -> &CollectionConfig {
        &self.config
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn l0_runs(&self) -> usize {
        self.l0.len()
    }

    fn usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::unavailable(format!(
                "collection `{}` must be reopened after a failed flush: {why}",
                self.config.name
            ))),
            None => Ok(()),
        }
    }

    fn rows_at(&self, at: Where) -> &Rows {
        match at {
            Where::Active => &self.active.rows,
            Where::Frozen(i) => &self.frozen[i].data.rows,
            Where::L0(i) => &self.l0[i].data.rows,
            Where::Level(i) => &self.levels[i].as_ref().expect("located in an existing level").data.rows,
        }
    }

    /// The newest row of `id`, newest part first.
    fn find(&self, id: &str) -> Option<Loc> {
        if let Some(row) = self.active.newest.get(id) {
            return Some(Loc { at: Where::Active, row: *row });
        }
        let frozen = self.frozen.iter().enumerate().rev().map(|(i, p)| (Where::Frozen(i), p));
        let l0 = self.l0.iter().enumerate().rev().map(|(i, p)| (Where::L0(i), p));
        let levels = self.levels.iter().enumerate().filter_map(|(i, p)| p.as_ref().map(|p| (Where::Level(i), p)));
        let mut hashed = None;
        frozen
            .chain(l0)
            .chain(levels)
            .find_map(|(at, part)| part.data.find_hashed(id, &mut hashed).map(|row| Loc { at, row }))
    }

    fn set_dead(&mut self, loc: Loc) {
        let live = match loc.at {
            Where::Active => return self.active.live.set(loc.row, false),
            Where::Frozen(i) => &mut self.frozen[i].live,
            Where::L0(i) => &mut self.l0[i].live,
            Where::Level(i) => &mut self.levels[i].as_mut().expect("located in an existing level").live,
        };
        Arc::make_mut(live).set(loc.row, false);
    }

    fn presence(&self, id: &str, now: u64) -> Presence {
        let Some(loc) = self.find(id) else { return Presence::Absent };
        let rows = self.rows_at(loc.at);
        match rows.kinds[loc.row] {
            Kind::Soft => Presence::SoftDeleted,
            Kind::Tombstone => Presence::Absent,
            Kind::Put if rows.chunk.expires_at[loc.row].is_some_and(|at| at <= now) => Presence::Absent,
            Kind::Put => Presence::Live,
        }
    }

    /// Validates, logs (durable under the fsync policy), then applies a batch.
    pub(crate) fn write(&mut self, mut batch: WriteBatch, now: u64) -> Result<WriteReceipt> {
        self.usable()?;
        prepare_batch(&mut batch, &self.config, now)?;
        check_presence(&batch, |id| self.presence(id, now))?;
        let range = self.wal.append(&batch.ops)?;
        self.apply(batch.ops, range.first);
        Ok(WriteReceipt { first_seq: range.first, last_seq: range.last })
    }

    /// Freezes the memtable once it passes its size budget; true if it did
    /// (the compactor then writes it out as a run).
    pub(crate) fn freeze_if_full(&mut self) -> bool {
        let full = self.active.rows.approx_bytes() + self.frozen_bytes() >= self.options.memtable_bytes;
        if full {
            self.freeze();
            self.flush_wanted = true;
        }
        full
    }

    /// Bytes held by frozen memtables not yet written out.
    pub(crate) fn frozen_bytes(&self) -> usize {
        self.frozen.iter().map(|p| p.data.rows.approx_bytes()).sum()
    }

    fn push(&mut self, version: Version<'_>, live: bool) {
        let id = version.id.clone();
        let row = self.active.rows.push(version);
        self.active.live.push(live);
        self.active.newest.insert(id, row);
    }

    fn apply(&mut self, ops: Vec<WriteOp>, first_seq: u64) {
        let count = ops.len() as u64;
        for (i, op) in ops.into_iter().enumerate() {
            let op_seq = first_seq + i as u64;
            let previous = self.find(op.id());
            let old_kind = previous.map(|loc| self.rows_at(loc.at).kinds[loc.row]);
            if let Some(loc) = previous.filter(|_| old_kind != Some(Kind::Tombstone)) {
                self.set_dead(loc);
            }
            // The replaced version's data, copied out (only by the operations that keep it).
            let old = |c: &Self| {
                previous.map(|loc| {
                    let rows = c.rows_at(loc.at);
                    let ch = &rows.chunk;
                    (
                        ch.seqs[loc.row],
                        ch.vector(loc.row).to_vec(),
                        ch.metadata[loc.row].clone(),
                        ch.expires_at[loc.row],
                    )
                })
            };
            match op {
                WriteOp::Upsert(r) => {
                    self.hidden.unhide(&r.id);
                    let version = Version {
                        id: r.id,
                        seq: op_seq,
                        op_seq,
                        kind: Kind::Put,
                        vector: &r.vector,
                        metadata: r.metadata,
                        expires_at: r.expires_at,
                    };
                    self.push(version, true);
                }
                WriteOp::Delete { id } => {
                    if matches!(old_kind, Some(Kind::Put | Kind::Soft)) {
                        let zeros = vec![0.0; self.config.dimension as usize];
                        let version = Version {
                            id: id.clone(),
                            seq: op_seq,
                            op_seq,
                            kind: Kind::Tombstone,
                            vector: &zeros,
                            metadata: Default::default(),
                            expires_at: None,
                        };
                        self.push(version, false);
                        self.hidden.hide(id, (op_seq, false));
                    }
                }
                WriteOp::UpdateMetadata { id, metadata } => {
                    if let (Some(Kind::Put), Some((_, vector, _, expires_at))) = (old_kind, old(self)) {
                        let version =
                            Version { id, seq: op_seq, op_seq, kind: Kind::Put, vector: &vector, metadata, expires_at };
                        self.push(version, true);
                    }
                }
                WriteOp::SoftDelete { id } => {
                    if let (Some(Kind::Put), Some((seq, vector, metadata, expires_at))) = (old_kind, old(self)) {
                        // The version keeps its sequence number; the operation's goes to the tombstone list.
                        let version = Version {
                            id: id.clone(),
                            seq,
                            op_seq,
                            kind: Kind::Soft,
                            vector: &vector,
                            metadata,
                            expires_at,
                        };
                        self.push(version, false);
                        self.hidden.hide(id, (op_seq, true));
                    }
                }
                WriteOp::Restore { id } => {
                    if let (Some(Kind::Soft), Some((seq, vector, metadata, expires_at))) = (old_kind, old(self)) {
                        self.hidden.unhide(&id);
                        let version =
                            Version { id, seq, op_seq, kind: Kind::Put, vector: &vector, metadata, expires_at };
                        self.push(version, true);
                    }
                }
            }
        }
        self.next_seq = first_seq + count;
    }

    pub(crate) fn get(&self, id: &str, now: u64) -> Result<Option<StoredRecord>> {
        self.usable()?;
        if self.presence(id, now) != Presence::Live {
            return Ok(None);
        }
        let loc = self.find(id).expect("present");
        Ok(Some(self.rows_at(loc.at).chunk.stored_record(loc.row)))
    }

    fn next_part_id(&mut self) -> u64 {
        let id = self.manifest.next_part_id;
        self.manifest.next_part_id += 1;
        id
    }

    /// Turns the memtable into an immutable part that views can hold.
    fn freeze(&mut self) {
        if self.active.rows.len() == 0 {
            return;
        }
        let dimension = self.config.dimension as usize;
        let table = std::mem::replace(&mut self.active, Memtable::new(dimension));
        let id = self.next_part_id();
        let data = PartData { id, rows: table.rows, lookup: Lookup::Hashed(table.newest), index: None };
        self.frozen.push(Part { data: Arc::new(data), live: Arc::new(table.live) });
        self.frozen_upto.push(self.next_seq - 1);
    }

    fn all_parts(&self) -> impl Iterator<Item = &Part> {
        self.levels.iter().rev().flatten().chain(&self.l0).chain(&self.frozen)
    }

    pub(crate) fn view(&mut self) -> Result<Arc<dyn ReadView>> {
        self.usable()?;
        self.freeze();
        if self.frozen.len() > MAX_FROZEN && !self.flushing {
            self.flush()?;
        }
        let segments: Vec<Arc<dyn Segment>> = self.all_parts().map(Part::segment).collect();
        Ok(Arc::new(Snapshot {
            config: self.config.clone(),
            seq: self.next_seq - 1,
            segments,
            tombstones: self.hidden.tombstones(|(seq, _)| seq),
        }))
    }

    /// Writes `rows` (sorted, unique ids) as run `id`, with index bytes from the hook.
    fn build_run(
        dir: &Path,
        config: &CollectionConfig,
        builder: Option<&Arc<dyn IndexBuilder>>,
        id: u64,
        rows: Rows,
    ) -> Result<Built> {
        let (bytes, stats) = sst::encode(&rows).map_err(|e| Error::internal(format!("cannot encode run {id}: {e}")))?;
        write_durable(&dir.join(run_file(id)), &bytes)?;
        let bloom = Bloom::build(rows.chunk.ids.iter().map(String::as_str));
        let live: Bitmap = {
            let mut b = Bitmap::default();
            rows.kinds.iter().for_each(|k| b.push(*k == Kind::Put));
            b
        };
        let mut data = PartData { id, rows, lookup: Lookup::Sorted(bloom), index: None };
        if let Some(builder) = builder {
            // The hook sees the run with every put visible; later writes only hide rows.
            let probe = PartSegment { data: Arc::new(data), live: Arc::new(live) };
            let index = builder.build(config, &probe)?;
            data = Arc::try_unwrap(probe.data).map_err(|_| Error::internal("index hook kept the run"))?;
            if let Some(bytes) = index {
                write_durable(&dir.join(index_file(id)), &bytes)?;
                data.index = Some(Arc::from(bytes));
            }
        }
        let entry = RunEntry {
            id,
            rows: stats.rows,
            min_seq: stats.min_seq,
            max_seq: stats.max_seq,
            indexed: data.index.is_some(),
        };
        Ok(Built { data, entry })
    }

    /// Writes the memtables as a new level-0 run, records it in the manifest,
    /// then truncates the log.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.usable()?;
        self.freeze();
        if self.frozen.is_empty() {
            return Ok(());
        }
        let dimension = self.config.dimension as usize;
        let rows = {
            let parts: Vec<&PartData> = self.frozen.iter().map(|p| &*p.data).collect();
            merge_newest(&parts, dimension, |_, _| true)
        };
        let id = self.next_part_id();
        let built = match Self::build_run(&self.dir, &self.config, self.index_builder.as_ref(), id, rows) {
            Ok(b) => b,
            Err(e) => {
                self.poisoned = Some(e.to_string());
                return Err(e);
            }
        };
        let mut manifest = self.manifest.clone();
        manifest.l0.push(built.entry.clone());
        manifest.flushed_seq = self.next_seq - 1;
        manifest.write(&self.dir)?;
        self.manifest = manifest;
        // Nothing newer than the memtables exists, so every put in the run is visible.
        let live = Arc::new(built.data.rows.kinds.iter().fold(Bitmap::default(), |mut b, k| {
            b.push(*k == Kind::Put);
            b
        }));
        self.l0.push(Part { data: Arc::new(built.data), live });
        self.frozen.clear();
        self.frozen_upto.clear();
        self.flush_wanted = false;
        self.wal.truncate_before(self.next_seq)?;
        self.remove_unheld_files();
        Ok(())
    }

    /// Takes the frozen memtables for a background flush, if there are any.
    pub(crate) fn plan_flush(&mut self) -> Option<FlushJob> {
        if self.flushing || !self.flush_wanted || self.frozen.is_empty() {
            return None;
        }
        self.flushing = true;
        self.flush_wanted = false;
        let parts = self.frozen.iter().map(|p| p.data.clone()).collect();
        let upto = *self.frozen_upto.last().expect("aligned with `frozen`");
        Some(FlushJob { parts, upto, id: self.next_part_id() })
    }

    /// Writes a flush job's run without the collection's lock.
    pub(crate) fn run_flush(
        job: &FlushJob,
        dir: &Path,
        config: &CollectionConfig,
        builder: Option<&Arc<dyn IndexBuilder>>,
    ) -> Result<Built> {
        let parts: Vec<&PartData> = job.parts.iter().map(|p| &**p).collect();
        let rows = merge_newest(&parts, config.dimension as usize, |_, _| true);
        Self::build_run(dir, config, builder, job.id, rows)
    }

    /// Puts a flushed run in place of the frozen memtables it holds, then lets
    /// the log go below what it covers.
    pub(crate) fn install_flush(&mut self, job: FlushJob, built: Built) -> Result<()> {
        self.flushing = false;
        let flushed = job.parts.len();
        // Explicit flushes wait for this one, so the frozen memtables are still the oldest.
        let still_there =
            self.frozen.len() >= flushed && self.frozen.iter().zip(&job.parts).all(|(p, j)| Arc::ptr_eq(&p.data, j));
        if !still_there {
            return Err(Error::internal("frozen memtables changed during their flush"));
        }
        let mut manifest = self.manifest.clone();
        manifest.l0.push(built.entry.clone());
        manifest.flushed_seq = job.upto;
        manifest.write(&self.dir)?;
        self.manifest = manifest;
        self.frozen.drain(..flushed);
        self.frozen_upto.drain(..flushed);
        // A row stays visible if it is a put that nothing newer (the memtable,
        // memtables frozen since) replaced.
        let data = built.data;
        let mut live = Bitmap::default();
        for row in 0..data.rows.len() {
            let id = &data.rows.chunk.ids[row];
            let replaced = self.active.newest.contains_key(id) || self.frozen.iter().any(|p| p.data.find(id).is_some());
            live.push(data.rows.kinds[row] == Kind::Put && !replaced);
        }
        self.l0.push(Part { data: Arc::new(data), live: Arc::new(live) });
        self.wal.truncate_before(job.upto + 1)?;
        self.remove_unheld_files();
        Ok(())
    }

    /// A flush job that failed: the memtables stay frozen and are retried.
    pub(crate) fn abandon_flush(&mut self) {
        self.flushing = false;
        self.flush_wanted = true;
    }

    fn level_target_rows(&self, level: usize) -> u64 {
        let ratio = self.options.level_size_ratio.max(2) as u64;
        self.options.level1_rows.saturating_mul(ratio.saturating_pow(level as u32 - 1))
    }

    /// Whether any level deeper than `level` (1-based) holds data.
    fn deeper_data(&self, level: usize) -> bool {
        self.levels.iter().skip(level).any(Option::is_some)
    }

    /// The next compaction, if one is due (`everything`: merge all runs into the deepest level).
    pub(crate) fn plan(&mut self, everything: bool) -> Option<Job> {
        if self.compacting {
            return None;
        }
        let level_data = |p: &Option<Part>| p.as_ref().map(|p| p.data.clone());
        let (inputs, output_level): (Vec<Arc<PartData>>, usize) = if everything {
            let runs: Vec<Arc<PartData>> =
                self.levels.iter().rev().filter_map(level_data).chain(self.l0.iter().map(|p| p.data.clone())).collect();
            if runs.is_empty() {
                return None;
            }
            (runs, self.levels.len().max(1))
        } else if self.l0.len() >= self.options.l0_compaction_trigger {
            let l1 = self.levels.first().and_then(level_data);
            (l1.into_iter().chain(self.l0.iter().map(|p| p.data.clone())).collect(), 1)
        } else {
            let full = (0..self.levels.len()).find(|i| {
                self.levels[*i].as_ref().is_some_and(|p| p.data.rows.len() as u64 > self.level_target_rows(i + 1))
            })?;
            let below = self.levels.get(full + 1).and_then(level_data);
            let this = level_data(&self.levels[full]).expect("a full level holds a run");
            (below.into_iter().chain(std::iter::once(this)).collect(), full + 2)
        };
        self.compacting = true;
        let last = !self.deeper_data(output_level);
        Some(Job { inputs, output_level, last, output_id: self.next_part_id() })
    }

    /// Runs a job without the collection's lock.
    pub(crate) fn run(
        job: &Job,
        dir: &Path,
        config: &CollectionConfig,
        builder: Option<&Arc<dyn IndexBuilder>>,
    ) -> Result<Built> {
        let now = proxima_core::now_unix_secs();
        let parts: Vec<&PartData> = job.inputs.iter().map(|p| &**p).collect();
        let rows = merge_newest(&parts, config.dimension as usize, |rows, row| {
            // At the last level nothing older remains for a tombstone to hide, and expired rows go for good.
            !job.last || (rows.kinds[row] != Kind::Tombstone && rows.chunk.expires_at[row].is_none_or(|at| at > now))
        });
        Self::build_run(dir, config, builder, job.output_id, rows)
    }

    /// Puts a finished job's run in place of its inputs.
    pub(crate) fn install(&mut self, job: Job, built: Built) -> Result<()> {
        self.compacting = false;
        let input_ids: std::collections::HashSet<u64> = job.inputs.iter().map(|p| p.id).collect();
        let mut manifest = self.manifest.clone();
        manifest.l0.retain(|e| !input_ids.contains(&e.id));
        if manifest.levels.len() < job.output_level {
            manifest.levels.resize(job.output_level, None);
        }
        for level in manifest.levels.iter_mut() {
            if level.as_ref().is_some_and(|e| input_ids.contains(&e.id)) {
                *level = None;
            }
        }
        manifest.levels[job.output_level - 1] = Some(built.entry.clone());
        manifest.write(&self.dir)?;
        self.manifest = manifest;

        let removed_l0: Vec<Part> = self.l0.iter().filter(|p| input_ids.contains(&p.data.id)).cloned().collect();
        self.l0.retain(|p| !input_ids.contains(&p.data.id));
        if self.levels.len() < job.output_level {
            self.levels.resize(job.output_level, None);
        }
        let mut removed: Vec<Part> = removed_l0;
        for level in self.levels.iter_mut() {
            if level.as_ref().is_some_and(|p| input_ids.contains(&p.data.id)) {
                removed.extend(level.take());
            }
        }
        // A row stays visible if it is a put nothing newer replaced: the newer
        // parts are everything above the output level that was not an input.
        let output = Part { data: Arc::new(built.data), live: Arc::new(Bitmap::default()) };
        let mut live = Bitmap::default();
        for row in 0..output.data.rows.len() {
            let id = &output.data.rows.chunk.ids[row];
            let replaced = self.find_above(id, job.output_level);
            live.push(output.data.rows.kinds[row] == Kind::Put && !replaced);
        }
        self.levels[job.output_level - 1] = Some(Part { live: Arc::new(live), ..output });
        if job.last {
            // Tombstones dropped at the last level hide nothing any more.
            let find = |id: &str| self.find(id).is_some();
            let gone: Vec<String> =
                self.hidden.iter().filter(|(id, (_, soft))| !soft && !find(id)).map(|(id, _)| id.to_string()).collect();
            for id in gone {
                self.hidden.unhide(&id);
            }
        }
        for part in removed {
            let files = vec![self.dir.join(run_file(part.data.id)), self.dir.join(index_file(part.data.id))];
            self.obsolete.push((Arc::downgrade(&part.data), files));
        }
        self.remove_unheld_files();
        Ok(())
    }

    /// Whether a part newer than level `level` (1-based) holds `id`.
    fn find_above(&self, id: &str, level: usize) -> bool {
        self.active.newest.contains_key(id)
            || self.frozen.iter().any(|p| p.data.find(id).is_some())
            || self.l0.iter().any(|p| p.data.find(id).is_some())
            || self.levels.iter().take(level - 1).flatten().any(|p| p.data.find(id).is_some())
    }

    /// A job that failed: forget it (its output file, if any, is an orphan removed at the next open).
    pub(crate) fn abandon(&mut self) {
        self.compacting = false;
    }

    /// Deletes the files of replaced runs that no view holds any more.
    fn remove_unheld_files(&mut self) {
        self.obsolete.retain(|(held, files)| {
            if held.strong_count() > 0 {
                return true;
            }
            for f in files {
                if let Err(e) = std::fs::remove_file(f)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(file = %f.display(), error = %e, "cannot remove a replaced run");
                }
            }
            false
        });
    }

    pub(crate) fn total_rows(&self) -> u64 {
        (self.all_parts().map(|p| p.data.rows.len()).sum::<usize>() + self.active.rows.len()) as u64
    }

    pub(crate) fn segment_count(&self) -> u64 {
        (self.all_parts().count() + usize::from(self.active.rows.len() > 0)) as u64
    }

    pub(crate) fn stats(&self, now: u64) -> CollectionStats {
        let mut live_rows = 0u64;
        let mut live_records = 0u64;
        let parts = self
            .all_parts()
            .map(|p| (&p.data.rows, &*p.live))
            .chain(std::iter::once((&self.active.rows, &self.active.live)));
        for (rows, live) in parts {
            for row in live.ones() {
                live_rows += 1;
                live_records += u64::from(rows.chunk.expires_at[row].is_none_or(|at| at > now));
            }
        }
        let soft = self.hidden.iter().filter(|(_, (_, soft))| *soft).count() as u64;
        let deleted = self.hidden.len() as u64 - soft;
        let bytes = self.all_parts().map(|p| p.data.rows.approx_bytes() as u64).sum::<u64>()
            + self.active.rows.approx_bytes() as u64;
        CollectionStats {
            live_records,
            soft_deleted_records: soft,
            dead_rows: self.total_rows().saturating_sub(live_rows + soft + deleted),
            segments: self.segment_count(),
            bytes,
            last_seq: self.next_seq - 1,
        }
    }

    /// The portable checkpoint every engine reads (newest version of each id, hidden ids).
    pub(crate) fn portable_checkpoint(&self) -> Result<Checkpoint> {
        self.logical_state()?.checkpoint()
    }

    /// Declares `field` (see [`CollectionState::declaring`]) in a new manifest.
    pub(crate) fn declare_field(&mut self, field: FieldSpec) -> Result<bool> {
        self.usable()?;
        let Some(config) = self.logical_state()?.declaring(&field, now_unix_secs())? else { return Ok(false) };
        let mut manifest = self.manifest.clone();
        manifest.config = config.clone();
        manifest.write(&self.dir)?;
        self.manifest = manifest;
        self.config = config;
        Ok(true)
    }

    /// The newest version of each id and the hidden ids, as the shared state.
    fn logical_state(&self) -> Result<CollectionState> {
        let dimension = self.config.dimension as usize;
        let mut parts: Vec<&Rows> = self.all_parts().map(|p| &p.data.rows).collect();
        parts.push(&self.active.rows);
        let mut newest: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for (p, rows) in parts.iter().enumerate() {
            for (row, id) in rows.chunk.ids.iter().enumerate() {
                newest.insert(id, (p, row));
            }
        }
        let mut kept: Vec<(usize, usize)> =
            newest.into_values().filter(|(p, row)| parts[*p].kinds[*row] != Kind::Tombstone).collect();
        kept.sort_by_key(|(p, row)| parts[*p].chunk.seqs[*row]);
        let mut chunk = Chunk::new(1, dimension);
        for (p, row) in kept {
            let c = &parts[p].chunk;
            chunk.push(c.ids[row].clone(), c.seqs[row], c.vector(row), c.metadata[row].clone(), c.expires_at[row]);
        }
        let (mut deleted, mut soft) = (Vec::new(), Vec::new());
        for (id, (seq, is_soft)) in self.hidden.iter() {
            let t = Tombstone { id: id.to_string(), seq };
            if is_soft { soft.push(t) } else { deleted.push(t) }
        }
        let segments = if chunk.is_empty() { Vec::new() } else { vec![(chunk, None)] };
        Ok(CollectionState::from_segments(self.config.clone(), None, segments, &deleted, &soft, self.next_seq))
    }

    /// Builds a collection in `dir` from a portable checkpoint: one run at level 1.
    pub(crate) fn create_from_checkpoint(
        dir: &Path,
        checkpoint: Checkpoint,
        options: LsmConfig,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<()> {
        let state = CollectionState::from_checkpoint(checkpoint, None)?;
        let config = state.config().clone();
        let mut c = Self::create(dir, config.clone(), options, None)?;
        let (deleted, soft) = state.hidden();
        let soft: HashMap<&str, u64> = soft.iter().map(|t| (t.id.as_str(), t.seq)).collect();
        // Records, and the deleted ids as tombstones (so views list them as the source did), by id.
        enum Source {
            Record { segment_id: u64, row: usize },
            Deleted { seq: u64 },
        }
        let mut entries: Vec<(String, Source)> =
            deleted.iter().map(|t| (t.id.clone(), Source::Deleted { seq: t.seq })).collect();
        for segment_id in state.segment_ids() {
            let Some(segment) = state.sealed_segment(segment_id) else { continue };
            for row in 0..segment.chunk.len() {
                entries.push((segment.chunk.ids[row].clone(), Source::Record { segment_id, row }));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let dimension = config.dimension as usize;
        let zeros = vec![0.0; dimension];
        let mut rows = Rows::new(dimension);
        for (id, source) in entries {
            let (segment_id, row) = match source {
                Source::Record { segment_id, row } => (segment_id, row),
                Source::Deleted { seq } => {
                    let version = Version {
                        id,
                        seq,
                        op_seq: seq,
                        kind: Kind::Tombstone,
                        vector: &zeros,
                        metadata: Default::default(),
                        expires_at: None,
                    };
                    rows.push(version);
                    continue;
                }
            };
            let segment = state.sealed_segment(segment_id).expect("listed above");
            let chunk = &segment.chunk;
            let soft_seq = soft.get(id.as_str()).copied();
            rows.push(Version {
                seq: chunk.seqs[row],
                op_seq: soft_seq.unwrap_or(chunk.seqs[row]),
                kind: if soft_seq.is_some() { Kind::Soft } else { Kind::Put },
                vector: chunk.vector(row),
                metadata: chunk.metadata[row].clone(),
                expires_at: chunk.expires_at[row],
                id,
            });
        }
        let id = c.next_part_id();
        let built = Self::build_run(dir, &config, index_builder.as_ref(), id, rows)?;
        c.manifest.levels = vec![Some(built.entry)];
        c.manifest.flushed_seq = state.next_seq() - 1;
        c.manifest.write(dir)?;
        c.wal.advance_to(state.next_seq())?;
        Ok(())
    }
}
