//! The engine: the `VectorStorage` implementation over its collections.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use proxima_core::{CollectionConfig, Error, FieldSpec, Result, now_unix_secs};
use proxima_engine::files::{blocking, remove_collection_dir, remove_dir_if_exists};
use proxima_engine::state::{CHECKPOINT_FILE, Checkpoint};
use proxima_engine::{
    Capabilities, CollectionMap, CollectionStats, CompactionPolicy, CompactionReport, IndexBuilder, ReadView,
    StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};

use crate::collection::{self, LsmCollection};
use crate::manifest;
use crate::{LsmConfig, NAME};

/// Writes wait while frozen memtables hold this many memtables' worth of bytes.
const MAX_FROZEN_BUDGETS: usize = 4;

/// Where restores build a collection before swapping it in (`#` is no collection name).
const STAGING: &str = "#restore";

/// A collection and the condition its writers and background threads wait on.
struct Shared {
    state: Mutex<LsmCollection>,
    /// Signalled when there is work (memtables frozen, level 0 grown) or room (for stalled writers).
    changed: Condvar,
    stop: AtomicBool,
}

struct Handle {
    shared: Arc<Shared>,
    /// The flusher and the compactor: separate, so that a long merge never holds
    /// up writing a memtable out (which writers may be waiting for).
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Handle {
    fn new(collection: LsmCollection, builder: Option<Arc<dyn IndexBuilder>>) -> Arc<Self> {
        let shared =
            Arc::new(Shared { state: Mutex::new(collection), changed: Condvar::new(), stop: AtomicBool::new(false) });
        let jobs: [(&str, Job); 2] = [("proxima-lsm-flush", run_flush), ("proxima-lsm-compact", run_job)];
        let workers = jobs
            .into_iter()
            .filter_map(|(name, job)| {
                let (shared, builder) = (shared.clone(), builder.clone());
                std::thread::Builder::new().name(name.into()).spawn(move || worker(&shared, builder, job)).ok()
            })
            .collect();
        Arc::new(Self { shared, workers: Mutex::new(workers) })
    }

    fn lock(&self) -> MutexGuard<'_, LsmCollection> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops the background threads (after the jobs they are running) and waits for them.
    fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        for thread in self.workers.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = thread.join();
        }
    }
}

/// Runs a planned job: merge without the lock, install with it.
fn execute(shared: &Shared, builder: Option<&Arc<dyn IndexBuilder>>, job: collection::Job) -> Result<()> {
    let (dir, config) = {
        let c = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        (c.dir().to_path_buf(), c.config().clone())
    };
    let built = LsmCollection::run(&job, &dir, &config, builder);
    let mut c = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let installed = built.and_then(|built| c.install(job, built));
    if installed.is_err() {
        c.abandon();
    }
    shared.changed.notify_all();
    installed
}

/// Writes the frozen memtables out as a level-0 run; false when there are none.
fn run_flush(shared: &Shared, builder: Option<&Arc<dyn IndexBuilder>>) -> Result<bool> {
    let (job, dir, config) = {
        let mut c = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(job) = c.plan_flush() else { return Ok(false) };
        (job, c.dir().to_path_buf(), c.config().clone())
    };
    let built = LsmCollection::run_flush(&job, &dir, &config, builder);
    let mut c = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let installed = built.and_then(|built| c.install_flush(job, built));
    if installed.is_err() {
        c.abandon_flush();
    }
    shared.changed.notify_all();
    installed.map(|()| true)
}

/// Plans and runs the next due compaction; false when none is due.
fn run_job(shared: &Shared, builder: Option<&Arc<dyn IndexBuilder>>) -> Result<bool> {
    let job = shared.state.lock().unwrap_or_else(|p| p.into_inner()).plan(false);
    match job {
        Some(job) => execute(shared, builder, job).map(|()| true),
        None => Ok(false),
    }
}

/// A background job: does one unit of work, false when there is none.
type Job = fn(&Shared, Option<&Arc<dyn IndexBuilder>>) -> Result<bool>;

/// A background thread of one collection, running `job` until stopped.
fn worker(shared: &Shared, builder: Option<Arc<dyn IndexBuilder>>, job: Job) {
    while !shared.stop.load(Ordering::SeqCst) {
        match job(shared, builder.as_ref()) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "background flush or compaction failed; retrying"),
        }
        let guard = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let _ = shared.changed.wait_timeout(guard, Duration::from_millis(500));
    }
}

/// The LSM engine.
pub struct LsmEngine {
    config: LsmConfig,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    collections: CollectionMap<Handle>,
}

impl std::fmt::Debug for LsmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsmEngine").field("config", &self.config).finish()
    }
}

impl Drop for LsmEngine {
    fn drop(&mut self) {
        for handle in self.collections.all() {
            handle.stop();
        }
    }
}

impl LsmEngine {
    /// Opens every collection under the root (run files checked and loaded, log tails replayed).
    pub async fn open(config: LsmConfig, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Self> {
        let (options, builder) = (config.clone(), index_builder.clone());
        let collections = blocking(move || {
            let root = &options.root;
            std::fs::create_dir_all(root).map_err(|e| Error::io(format!("cannot create {}", root.display()), e))?;
            remove_dir_if_exists(&root.join(STAGING))?;
            let mut collections = BTreeMap::new();
            let entries =
                std::fs::read_dir(root).map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if !path.is_dir() || proxima_core::validate::collection_name(&name).is_err() {
                    continue;
                }
                match LsmCollection::open(&path, options.clone(), builder.clone())? {
                    Some(c) => {
                        collections.insert(name, Handle::new(c, builder.clone()));
                    }
                    None => remove_dir_if_exists(&path)?,
                }
            }
            Ok(collections)
        })
        .await?;
        Ok(Self { config, index_builder, collections: collections.into() })
    }

    fn collection(&self, name: &str) -> Result<Arc<Handle>> {
        self.collections.get(name)
    }

    /// Runs of level 0 in `collection` (for tests and monitoring).
    pub fn level0_runs(&self, collection: &str) -> Result<usize> {
        Ok(self.collection(collection)?.lock().l0_runs())
    }
}

#[async_trait]
impl VectorStorage for LsmEngine {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            persistent: true,
            object_storage: false,
            zero_copy_reads: false,
            write_throughput: 5,
            scan_throughput: 3,
            update_throughput: 5,
        }
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        config.validate()?;
        self.collections.ensure_free(&config.name)?;
        let dir = self.config.root.join(&config.name);
        let (c, options, builder) = (config.clone(), self.config.clone(), self.index_builder.clone());
        let created = blocking(move || LsmCollection::create(&dir, c, options, builder)).await?;
        let handle = Handle::new(created, self.index_builder.clone());
        let inserted = self.collections.insert_new(&config.name, handle.clone());
        if inserted.is_err() {
            handle.stop(); // lost a race for the name: let its threads go
        }
        inserted
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        let removed = self.collections.remove(name)?;
        blocking(move || {
            removed.stop();
            let dir = removed.lock().dir().to_path_buf();
            remove_collection_dir(&dir, manifest::MANIFEST)
        })
        .await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        Ok(self.collections.all().iter().map(|c| c.lock().config().clone()).collect())
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        let handle = self.collection(collection)?;
        let (stall_runs, stall_timeout) = (self.config.l0_stall_runs, self.config.stall_timeout);
        let memtable_bytes = self.config.memtable_bytes;
        blocking(move || {
            let shared = &handle.shared;
            let mut c = handle.lock();
            // Flushing or compaction is behind: wait rather than let memory or
            // level 0 (and reads) grow without bound.
            let deadline = Instant::now() + stall_timeout;
            while c.l0_runs() >= stall_runs || c.frozen_bytes() >= memtable_bytes.saturating_mul(MAX_FROZEN_BUDGETS) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::unavailable(format!(
                        "writes to `{}` are stalled: {} level-0 runs and {} bytes of memtables wait to be written",
                        c.config().name,
                        c.l0_runs(),
                        c.frozen_bytes()
                    )));
                }
                shared.changed.notify_all();
                c = shared.changed.wait_timeout(c, left).unwrap_or_else(|p| p.into_inner()).0;
            }
            let receipt = c.write(batch, now_unix_secs())?;
            if c.freeze_if_full() {
                shared.changed.notify_all(); // the worker writes it out
            }
            Ok(receipt)
        })
        .await
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        let handle = self.collection(collection)?;
        let c = handle.lock();
        let now = now_unix_secs();
        ids.iter().map(|id| c.get(id, now)).collect()
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        self.collection(collection)?.lock().view()
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        let handle = self.collection(collection)?;
        blocking(move || handle.lock().declare_field(field)).await
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        let handle = self.collection(collection)?;
        blocking(move || {
            let mut c = handle.lock();
            // One flush at a time: a background one finishes first.
            while c.flushing {
                c = handle.shared.changed.wait(c).unwrap_or_else(|p| p.into_inner());
            }
            c.flush()?;
            handle.shared.changed.notify_all();
            Ok(())
        })
        .await
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        let handle = self.collection(collection)?;
        let policy = *policy;
        let builder = self.index_builder.clone();
        blocking(move || {
            let shared = &handle.shared;
            let (job, segments_before, rows_before) = {
                let mut c = handle.lock();
                // Let background jobs finish first, then flush and plan in the same
                // hold of the lock, so the worker cannot start another in between.
                while c.compacting || c.flushing {
                    c = shared.changed.wait(c).unwrap_or_else(|p| p.into_inner());
                }
                c.flush()?;
                let stats = c.stats(now_unix_secs());
                let dead = stats.dead_rows as f32 / c.total_rows().max(1) as f32;
                if dead < policy.min_dead_ratio && stats.segments <= 1 {
                    return Ok(CompactionReport {
                        segments_before: stats.segments,
                        segments_after: stats.segments,
                        rows_removed: 0,
                    });
                }
                (c.plan(true), c.segment_count(), c.total_rows())
            };
            if let Some(job) = job {
                execute(shared, builder.as_ref(), job)?;
            }
            let c = handle.lock();
            Ok(CompactionReport {
                segments_before,
                segments_after: c.segment_count(),
                rows_removed: rows_before.saturating_sub(c.total_rows()),
            })
        })
        .await
    }

    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        Ok(self.collection(collection)?.lock().stats(now_unix_secs()))
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        let handle = self.collection(collection)?;
        let path = dir.join(CHECKPOINT_FILE);
        blocking(move || handle.lock().portable_checkpoint()?.write_to(&path)).await
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        let checkpoint = Checkpoint::read_from(&dir.join(CHECKPOINT_FILE), collection)?;
        let target = self.config.root.join(collection);
        let staging = self.config.root.join(STAGING).join(collection);
        let (options, builder) = (self.config.clone(), self.index_builder.clone());
        let built = {
            let (staging, options, builder) = (staging.clone(), options.clone(), builder.clone());
            blocking(move || LsmCollection::create_from_checkpoint(&staging, checkpoint, options, builder)).await?
        };
        let () = built;
        let previous = self.collections.remove(collection).ok();
        let opened = blocking(move || {
            if let Some(previous) = previous {
                previous.stop();
                drop(previous.lock());
            }
            remove_collection_dir(&target, manifest::MANIFEST)?;
            std::fs::rename(&staging, &target)
                .map_err(|e| Error::io(format!("cannot move {}", staging.display()), e))?;
            LsmCollection::open(&target, options, builder.clone())?
                .map(|c| Handle::new(c, builder))
                .ok_or_else(|| Error::internal(format!("restored collection in {} has no manifest", target.display())))
        })
        .await?;
        self.collections.insert(collection, opened);
        Ok(())
    }
}
