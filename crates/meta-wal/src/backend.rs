//! The backend: a catalogue in memory, made durable by the log and checkpoints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use proxima_core::{Error, Result};
use proxima_meta::{
    BackendStats, BatchOp, Catalog, Change, CollectionMetadata, Health, ListFilter, ListPage, MetaCapabilities,
    MetadataBackend, OpCounters, snapshot,
};
use proxima_wal::{Wal, WalOptions};
use serde::{Deserialize, Serialize};

use crate::WalBackendConfig;

const CHECKPOINT: &str = "checkpoint.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    format_version: u32,
    /// Every log record up to this sequence is included.
    last_seq: u64,
    entries: Vec<CollectionMetadata>,
}

struct State {
    catalog: Catalog,
    wal: Wal<Change>,
    since_checkpoint: u64,
}

struct Inner {
    config: WalBackendConfig,
    state: Mutex<State>,
    counters: OpCounters,
}

/// The embedded metadata backend.
#[derive(Clone)]
pub struct WalBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalBackend").field("config", &self.inner.config).finish()
    }
}

impl WalBackend {
    /// Opens (or creates) the catalogue in `config.dir`: checkpoint, then the log after it.
    pub async fn open(config: WalBackendConfig) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|e| Error::internal(format!("open task failed: {e}")))?
    }

    fn open_blocking(config: WalBackendConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| Error::io(format!("cannot create {}", config.dir.display()), e))?;
        let (mut catalog, last_seq) = match read_checkpoint(&config.dir.join(CHECKPOINT))? {
            Some(c) => (Catalog::from_entries(c.entries), c.last_seq),
            None => (Catalog::new(), 0),
        };
        let wal = Wal::open(config.dir.join("wal"), WalOptions { fsync: config.fsync, ..WalOptions::default() })?;
        let mut replayed = 0;
        wal.replay(last_seq + 1, |_, change| {
            catalog.apply(change);
            replayed += 1;
            Ok(())
        })?;
        let state = State { catalog, wal, since_checkpoint: replayed };
        Ok(Self { inner: Arc::new(Inner { config, state: Mutex::new(state), counters: OpCounters::default() }) })
    }

    /// Writes a checkpoint now and truncates the log below it.
    pub async fn checkpoint(&self) -> Result<()> {
        self.blocking(|inner| inner.checkpoint(&mut inner.lock())).await
    }

    /// Runs `f` on the blocking pool: file I/O and fsync never stall tokio's workers.
    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::internal(format!("metadata task failed: {e}")))?
    }

    /// Plans `plan(catalog)`, logs the changes as one frame, applies them.
    async fn commit(
        &self,
        op: &'static str,
        plan: impl FnOnce(&Catalog) -> Result<Vec<Change>> + Send + 'static,
    ) -> Result<Vec<Option<CollectionMetadata>>> {
        let started = std::time::Instant::now();
        let result = self
            .blocking(move |inner| {
                let mut state = inner.lock();
                let changes = plan(&state.catalog)?;
                if !changes.is_empty() {
                    state.wal.append(&changes)?;
                }
                state.since_checkpoint += changes.len() as u64;
                let stored = state.catalog.apply_all(changes);
                if state.since_checkpoint >= inner.config.checkpoint_every {
                    inner.checkpoint(&mut state)?;
                }
                Ok(stored)
            })
            .await;
        self.inner.counters.record_timed(op, started, result)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic cannot leave a change half-applied: appends and applies are
        // each complete before anything else touches the state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn checkpoint(&self, state: &mut State) -> Result<()> {
        let last_seq = state.wal.next_seq() - 1;
        let checkpoint = Checkpoint {
            format_version: FORMAT_VERSION,
            last_seq,
            entries: state.catalog.entries().cloned().collect(),
        };
        let bytes =
            serde_json::to_vec(&checkpoint).map_err(|e| Error::internal("cannot encode checkpoint").with_source(e))?;
        snapshot::write_atomically(&self.config.dir.join(CHECKPOINT), &bytes)?;
        state.wal.truncate_before(last_seq + 1)?;
        state.since_checkpoint = 0;
        Ok(())
    }
}

fn read_checkpoint(path: &Path) -> Result<Option<Checkpoint>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let checkpoint: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
        Error::corrupted("metadata checkpoint does not decode").with_context("file", path.display()).with_source(e)
    })?;
    if checkpoint.format_version != FORMAT_VERSION {
        return Err(Error::unsupported(format!("checkpoint format {} is not supported", checkpoint.format_version))
            .with_context("file", path.display()));
    }
    Ok(Some(checkpoint))
}

fn first(mut stored: Vec<Option<CollectionMetadata>>) -> Result<CollectionMetadata> {
    stored.pop().flatten().ok_or_else(|| Error::internal("a put produced no entry"))
}

#[async_trait]
impl MetadataBackend for WalBackend {
    fn scheme(&self) -> &'static str {
        crate::SCHEME
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: true,
            atomic_batch: true,
            native_text_search: false,
            native_ttl: false,
            shared: false,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        first(self.commit("create", move |c| c.plan(&[BatchOp::Create(metadata)])).await?)
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        self.inner.counters.record("get", Ok(self.inner.lock().catalog.get(name).cloned()))
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        first(self.commit("update", move |c| c.plan(&[BatchOp::Update(metadata)])).await?)
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let op = BatchOp::Delete { name: name.to_string(), expected_version };
        self.commit("delete", move |c| c.plan(&[op])).await.map(|_| ())
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        self.inner.counters.record("list", self.inner.lock().catalog.list(filter))
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        self.commit("batch", move |c| c.plan(&ops)).await
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        self.commit("import", move |c| c.plan_import(entries)).await.map(|_| ())
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let location = location.to_string();
        let started = std::time::Instant::now();
        let result = self
            .blocking(move |inner| {
                let entries: Vec<_> = inner.lock().catalog.entries().cloned().collect();
                snapshot::write_new(&location, entries)
            })
            .await;
        self.inner.counters.record_timed("backup", started, result)
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let entries = snapshot::read(location, backup_id);
        let entries = self.inner.counters.record("restore", entries)?;
        // One frame: after a crash the catalogue is wholly old or wholly restored.
        self.commit("restore", move |c| c.plan_replace(entries)).await.map(|_| ())
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let dir: PathBuf = self.inner.config.dir.clone();
        let writable = self.blocking(move |_| Ok(std::fs::metadata(&dir).map(|m| !m.permissions().readonly()))).await?;
        let count = self.inner.lock().catalog.visible_count();
        Ok(Health {
            healthy: writable.unwrap_or(false),
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            detail: format!("{} ({count} collections)", self.inner.config.dir.display()),
        })
    }

    async fn stats(&self) -> Result<BackendStats> {
        Ok(self.inner.counters.stats(self.inner.lock().catalog.visible_count() as u64))
    }
}
