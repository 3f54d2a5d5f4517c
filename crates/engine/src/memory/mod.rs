//! The in-memory engine: no persistence, no dependencies; the reference the
//! conformance suite and the property tests compare real engines against.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result, now_unix_secs};

use crate::state::{CHECKPOINT_FILE, Checkpoint, CollectionState as MemCollection, VIEW_CHUNK_LIMIT};
use crate::{
    Capabilities, CollectionMap, CollectionStats, CompactionPolicy, CompactionReport, IndexBuilder, ReadView,
    StoredRecord, VectorStorage, WriteBatch, WriteReceipt, prepare_batch,
};

/// An engine that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryEngine {
    collections: CollectionMap<Mutex<MemCollection>>,
    index_builder: Option<Arc<dyn IndexBuilder>>,
}

impl MemoryEngine {
    /// The registered name.
    pub const NAME: &'static str = "memory";

    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty engine as a trait object.
    pub fn shared() -> Arc<dyn VectorStorage> {
        Arc::new(Self::new())
    }

    /// Runs `builder` on every sealed chunk.
    pub fn with_index_builder(mut self, builder: Arc<dyn IndexBuilder>) -> Self {
        self.index_builder = Some(builder);
        self
    }

    fn collection(&self, name: &str) -> Result<Arc<Mutex<MemCollection>>> {
        self.collections.get(name)
    }
}

fn lock(c: &Arc<Mutex<MemCollection>>) -> MutexGuard<'_, MemCollection> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl VectorStorage for MemoryEngine {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            persistent: false,
            object_storage: false,
            zero_copy_reads: true,
            write_throughput: 5,
            scan_throughput: 5,
            update_throughput: 5,
        }
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        config.validate()?;
        let collection = MemCollection::new(config.clone(), self.index_builder.clone());
        self.collections.insert_new(&config.name, Arc::new(Mutex::new(collection)))
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.collections.remove(name).map(|_| ())
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        Ok(self.collections.all().iter().map(|c| lock(c).config().clone()).collect())
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        let c = self.collection(collection)?;
        let mut c = lock(&c);
        let Some(config) = c.declaring(&field, now_unix_secs())? else { return Ok(false) };
        c.declared(config);
        Ok(true)
    }

    async fn write(&self, collection: &str, mut batch: WriteBatch) -> Result<WriteReceipt> {
        let c = self.collection(collection)?;
        let mut c = lock(&c);
        let now = now_unix_secs();
        let config = c.config().clone();
        prepare_batch(&mut batch, &config, now)?;
        c.write(batch, now)
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        let c = self.collection(collection)?;
        let c = lock(&c);
        let now = now_unix_secs();
        ids.iter().map(|id| c.get(id, now)).collect()
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        let c = self.collection(collection)?;
        let mut c = lock(&c);
        // Everything here is in memory: merging all chunks is this engine's compaction.
        if c.chunk_count() > VIEW_CHUNK_LIMIT {
            c.compact_all()?;
        }
        c.view()
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        lock(&self.collection(collection)?).seal().map(|_| ())
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        let c = self.collection(collection)?;
        let mut c = lock(&c);
        let segments_before = c.chunk_count() as u64;
        let worth_it = c.dead_ratio() >= policy.min_dead_ratio || segments_before > 1;
        let rows_removed = if worth_it { c.compact_all()? } else { 0 };
        Ok(CompactionReport { segments_before, segments_after: c.chunk_count() as u64, rows_removed })
    }

    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        Ok(lock(&self.collection(collection)?).stats(now_unix_secs()))
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        lock(&self.collection(collection)?).checkpoint()?.write_to(&dir.join(CHECKPOINT_FILE))
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        let checkpoint = Checkpoint::read_from(&dir.join(CHECKPOINT_FILE), collection)?;
        let restored = MemCollection::from_checkpoint(checkpoint, self.index_builder.clone())?;
        self.collections.insert(collection, Arc::new(Mutex::new(restored)));
        Ok(())
    }
}
