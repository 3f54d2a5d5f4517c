//! The engine: the `VectorStorage` implementation over its collections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use proxima_core::{CollectionConfig, Error, FieldSpec, Result, now_unix_secs};
use proxima_engine::files::{blocking, remove_collection_dir, remove_dir_if_exists};
use proxima_engine::state::Checkpoint;
use proxima_engine::{
    Capabilities, CollectionMap, CollectionStats, CompactionPolicy, CompactionReport, IndexBuilder, ReadView,
    StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};

use crate::collection::MmapCollection;
use crate::slot_file;
use crate::{MmapConfig, NAME};

/// Where restores build a collection before swapping it in.
const STAGING: &str = "#restore";

type Shared = Arc<Mutex<MmapCollection>>;

/// The mmap engine.
pub struct MmapEngine {
    config: MmapConfig,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    collections: CollectionMap<Mutex<MmapCollection>>,
}

impl std::fmt::Debug for MmapEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapEngine").field("config", &self.config).finish()
    }
}

fn lock(c: &Shared) -> MutexGuard<'_, MmapCollection> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

impl MmapEngine {
    /// Opens every collection under the root (maps files, loads slot tables, replays log tails).
    pub async fn open(config: MmapConfig, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Self> {
        let root = config.root.clone();
        let builder = index_builder.clone();
        let collections = blocking(move || {
            std::fs::create_dir_all(&root).map_err(|e| Error::io(format!("cannot create {}", root.display()), e))?;
            remove_dir_if_exists(&root.join(STAGING))?;
            let mut collections = BTreeMap::new();
            let entries =
                std::fs::read_dir(&root).map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if !path.is_dir() || proxima_core::validate::collection_name(&name).is_err() {
                    continue;
                }
                match MmapCollection::open(&path, builder.clone())? {
                    Some(c) => {
                        collections.insert(name, Arc::new(Mutex::new(c)));
                    }
                    // No slot table: a create or drop that did not finish.
                    None => remove_dir_if_exists(&path)?,
                }
            }
            Ok(collections)
        })
        .await?;
        Ok(Self { config, index_builder, collections: collections.into() })
    }

    fn collection(&self, name: &str) -> Result<Shared> {
        self.collections.get(name)
    }

    fn dir_of(&self, name: &str) -> PathBuf {
        self.config.root.join(name)
    }
}

#[async_trait]
impl VectorStorage for MmapEngine {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            persistent: true,
            object_storage: false,
            zero_copy_reads: true,
            write_throughput: 3,
            scan_throughput: 5,
            update_throughput: 3,
        }
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        config.validate()?;
        self.collections.ensure_free(&config.name)?;
        let (dir, c, builder) = (self.dir_of(&config.name), config.clone(), self.index_builder.clone());
        let created = blocking(move || MmapCollection::create(&dir, c, builder)).await?;
        self.collections.insert_new(&config.name, Arc::new(Mutex::new(created)))
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        let removed = self.collections.remove(name)?;
        let dir = lock(&removed).dir().to_path_buf();
        drop(removed);
        blocking(move || remove_collection_dir(&dir, slot_file::SLOTS_FILE)).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        Ok(self.collections.all().iter().map(|c| lock(c).config().clone()).collect())
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        let c = self.collection(collection)?;
        let checkpoint_ops = self.config.checkpoint_ops;
        blocking(move || lock(&c).write(batch, now_unix_secs(), checkpoint_ops)).await
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        let c = self.collection(collection)?;
        let c = lock(&c);
        let now = now_unix_secs();
        ids.iter().map(|id| c.get(id, now)).collect()
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        lock(&self.collection(collection)?).view()
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        let c = self.collection(collection)?;
        blocking(move || lock(&c).declare_field(field)).await
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        let c = self.collection(collection)?;
        blocking(move || lock(&c).flush()).await
    }

    async fn compact(&self, collection: &str, _policy: &CompactionPolicy) -> Result<CompactionReport> {
        // There is nothing to merge: compaction frees, for reuse, the dead slots
        // that no reader can still see.
        let c = self.collection(collection)?;
        blocking(move || {
            let mut c = lock(&c);
            let segments = c.stats(now_unix_secs()).segments;
            let rows_removed = c.reclaim()?;
            Ok(CompactionReport { segments_before: segments, segments_after: segments, rows_removed })
        })
        .await
    }

    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        Ok(lock(&self.collection(collection)?).stats(now_unix_secs()))
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        let c = self.collection(collection)?;
        let path = MmapCollection::checkpoint_path(dir);
        blocking(move || lock(&c).portable_checkpoint()?.write_to(&path)).await
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        let checkpoint = Checkpoint::read_from(&MmapCollection::checkpoint_path(dir), collection)?;
        let target = self.dir_of(collection);
        // `#` is not allowed in collection names, so `open` never mistakes a leftover for a collection.
        let staging = self.config.root.join(STAGING).join(collection);
        let builder = self.index_builder.clone();
        // Built beside the collection, then swapped in: the old files stay until the new ones are complete.
        let built = blocking(move || {
            drop(MmapCollection::create_from_checkpoint(&staging, checkpoint, None)?);
            Ok(staging)
        })
        .await?;
        let previous = self.collections.remove(collection).ok();
        // Wait for writers holding the old collection, then let it go (its log lock with it).
        if let Some(previous) = previous {
            drop(lock(&previous));
        }
        let opened = blocking(move || {
            remove_collection_dir(&target, slot_file::SLOTS_FILE)?;
            std::fs::rename(&built, &target).map_err(|e| Error::io(format!("cannot move {}", built.display()), e))?;
            MmapCollection::open(&target, builder)?.ok_or_else(|| {
                Error::internal(format!("restored collection in {} has no slot table", target.display()))
            })
        })
        .await?;
        self.collections.insert(collection, Arc::new(Mutex::new(opened)));
        Ok(())
    }
}
