//! The engine: the `VectorStorage` implementation over its collections.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result, now_unix_secs};
use proxima_engine::WriteOp;
use proxima_engine::files::{blocking, remove_dir_if_exists};
use proxima_engine::state::{CHECKPOINT_FILE, Checkpoint, CollectionState};
use proxima_engine::{
    Capabilities, ChangeListener, CollectionMap, CollectionStats, CompactionPolicy, CompactionReport, DataVersion,
    IndexBuilder, ReadView, SharedPosition, SharedStorage, StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};
use proxima_wal::ObjectLog;
use tokio::sync::Mutex;

use crate::collection::{self, Refreshed, Rewrite, ViperCollection};
use crate::config::ViperConfig;
use crate::segment_file::Encoders;
use crate::store::Store;
use crate::{NAME, rewrite};

type Shared = Arc<Mutex<ViperCollection>>;

/// A writer that finds this many flushes' worth of rows unflushed waits for a
/// flush itself instead of leaving it to the background.
const MAX_BACKLOG_FLUSHES: usize = 4;

/// The VIPER engine: one directory (or key prefix) per collection.
pub struct ViperEngine {
    config: ViperConfig,
    store: Store,
    index_builder: Option<Arc<dyn IndexBuilder>>,
    collections: Arc<CollectionMap<Mutex<ViperCollection>>>,
    /// Told of each collection a refresh changed (`SharedStorage::on_change`).
    listeners: Listeners,
}

/// The callbacks `SharedStorage::on_change` registered.
type Listeners = Arc<std::sync::Mutex<Vec<ChangeListener>>>;

fn tell(listeners: &Listeners, collection: &str) {
    let listeners = listeners.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for listener in listeners {
        listener(collection);
    }
}

impl std::fmt::Debug for ViperEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViperEngine").field("config", &self.config).finish()
    }
}

impl ViperEngine {
    /// Opens every collection under the root.
    pub async fn open(config: ViperConfig, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Self> {
        config.validate()?;
        let store = Store::open(&config.root)?;
        if config.follow {
            return Self::open_following(config, store, index_builder).await;
        }
        let mut collections = BTreeMap::new();
        for name in collection_names(&store).await? {
            match ViperCollection::open(&name, &config, &store, index_builder.clone()).await? {
                Some(mut c) => {
                    c.enforce_budget(config.resident_budget_bytes);
                    collections.insert(name, Arc::new(Mutex::new(c)));
                }
                None => store.delete_dir(&name).await?,
            }
        }
        let engine = Self {
            config,
            store,
            index_builder,
            collections: Arc::new(collections.into()),
            listeners: Default::default(),
        };
        // What the log replayed is a buffer like any other.
        for c in engine.collections.all() {
            if c.lock().await.unflushed_ops() > 0 {
                engine.flush_when_old(&c);
            }
        }
        Ok(engine)
    }

    /// Opens every collection under the root as its writer has it, and
    /// refreshes them every `follow_interval_ms` while the engine lives.
    async fn open_following(
        config: ViperConfig,
        store: Store,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Self> {
        let engine =
            Self { config, store, index_builder, collections: Default::default(), listeners: Default::default() };
        engine.refresh().await?;
        let (collections, store, builder, listeners) = (
            Arc::downgrade(&engine.collections),
            engine.store.clone(),
            engine.index_builder.clone(),
            Arc::clone(&engine.listeners),
        );
        let every = Duration::from_millis(engine.config.follow_interval_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(collections) = collections.upgrade() else { return };
                if let Err(e) = follow(&collections, &store, &builder, &listeners).await {
                    tracing::warn!(error = %e, "a follower's refresh failed; the next one retries");
                }
            }
        });
        Ok(engine)
    }

    /// Reads now what the writers of the collections this node follows
    /// stored: new and dropped collections, new manifests, logged
    /// operations. Polled every `follow_interval_ms` (`follow=true`); call
    /// it to catch up at once.
    pub async fn refresh(&self) -> Result<()> {
        if !self.config.follow {
            return Err(proxima_core::Error::invalid("only a follower (`follow=true`) refreshes"));
        }
        follow(&self.collections, &self.store, &self.index_builder, &self.listeners).await
    }

    /// Refuses to drop or replace a collection another node writes.
    async fn writable(&self, collection: &str) -> Result<()> {
        match self.collections.get(collection) {
            Ok(c) if c.lock().await.following() => Err(collection::not_the_writer(collection)),
            _ => Ok(()),
        }
    }

    /// Flushes a collection's write buffer once its oldest row is
    /// `flush_interval_ms` old, unless a flush took the buffer meanwhile: a
    /// buffer that stops growing is flushed, and indexed, all the same.
    fn flush_when_old(&self, shared: &Shared) {
        let (shared, config, store) = (Arc::downgrade(shared), self.config.clone(), self.store.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(config.flush_interval_ms)).await;
            let Some(collection) = shared.upgrade() else { return };
            let flush_lock = {
                let c = collection.lock().await;
                if !c.flush_due(&config) {
                    return; // flushed meanwhile: the buffer's first write set another timer
                }
                c.flush_lock()
            };
            drop(collection);
            let _only = flush_lock.lock().await;
            if let Err(e) = rewrite::flush_and_maintain(&shared, &config, Encoders::LeaveOneCore, &store).await {
                tracing::warn!(error = %e, "flush of an old write buffer failed; the next write retries");
            }
        });
    }

    /// Bytes of decoded vectors `collection` keeps in memory for segments already in files.
    pub async fn resident_vector_bytes(&self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection)?.lock().await.state.resident_vector_bytes())
    }

    fn collection(&self, name: &str) -> Result<Shared> {
        self.collections.get(name)
    }

    async fn remove_files(&self, name: &str) -> Result<()> {
        // The manifest goes first: without it the directory is no collection.
        self.store.delete(&format!("{name}/manifest.json")).await?;
        if let Ok((objects, dir)) = self.store.log_location(name) {
            ObjectLog::<WriteOp>::destroy(&*objects, &dir).await?;
        }
        self.store.delete_dir(name).await?;
        let wal_dir = self.config.wal_dir.join(name);
        blocking(move || remove_dir_if_exists(&wal_dir)).await
    }
}

#[async_trait]
impl VectorStorage for ViperEngine {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            persistent: true,
            object_storage: true,
            zero_copy_reads: false,
            write_throughput: 4,
            scan_throughput: 5,
            update_throughput: 2,
        }
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        config.validate()?;
        self.collections.ensure_free(&config.name)?;
        let created =
            ViperCollection::create(config.clone(), &self.config, &self.store, self.index_builder.clone()).await?;
        // Its manifest was created, not replaced, so this handle is the
        // collection's one writer: it replaces a following handle a refresh
        // may have opened on that manifest meanwhile.
        self.collections.insert(&config.name, Arc::new(Mutex::new(created)));
        Ok(())
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.writable(name).await?;
        let removed = self.collections.remove(name)?;
        // Wait for in-flight operations (a background flush among them) before deleting its files.
        let flush_lock = removed.lock().await.flush_lock();
        let _only = flush_lock.lock().await;
        let _guard = removed.lock().await;
        self.remove_files(name).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        let all = self.collections.all();
        let mut configs = Vec::with_capacity(all.len());
        for c in all {
            configs.push(c.lock().await.state.config().clone());
        }
        Ok(configs)
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        let shared = self.collection(collection)?;
        // The frame's writeback starts when it is logged and runs while the
        // batch is applied; the sync comes after the collection's lock is
        // released, so writers arriving meanwhile log theirs and one fsync
        // covers them all.
        let (receipt, log, point) = {
            let mut c = shared.lock().await;
            let logged = c.log(batch, &self.store).await?;
            let (log, point) = (c.write_log(), logged.point);
            let opens_buffer = c.unflushed_ops() == 0;
            let receipt = c.apply_logged(logged);
            if opens_buffer && c.unflushed_ops() > 0 {
                self.flush_when_old(&shared);
            }
            (receipt, log, point)
        };
        let synced = log.make_durable(point).await;
        let mut c = shared.lock().await;
        if let Err(e) = synced {
            c.poison(&e);
            return Err(e);
        }
        c.enforce_budget(self.config.resident_budget_bytes);
        if c.flush_due(&self.config) {
            let flush_lock = c.flush_lock();
            let backlog = c.unflushed_ops() >= self.config.flush_rows.saturating_mul(MAX_BACKLOG_FLUSHES);
            drop(c);
            if backlog {
                // Flushing is behind: this writer waits and flushes, so the buffer stays bounded.
                let _only = flush_lock.lock().await;
                rewrite::in_steps(
                    &Arc::downgrade(&shared),
                    Rewrite::Flush,
                    &self.config,
                    Encoders::AllCores,
                    &self.store,
                )
                .await?;
            } else if let Ok(only) = flush_lock.try_lock_owned() {
                // The write is durable in the log already; the flush (and the
                // compaction it may leave due) runs in the background. A failed
                // flush changes no file the manifest names, and the next flush
                // retries it.
                let (shared, config, store) = (Arc::downgrade(&shared), self.config.clone(), self.store.clone());
                tokio::spawn(async move {
                    let done = rewrite::flush_and_maintain(&shared, &config, Encoders::LeaveOneCore, &store);
                    if let Err(e) = done.await {
                        tracing::warn!(error = %e, "background flush failed; the next flush retries");
                    }
                    drop(only);
                });
            }
        }
        Ok(receipt)
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        let c = self.collection(collection)?;
        let mut c = c.lock().await;
        c.make_durable().await?;
        let needed = c.state.segments_of(ids.iter().map(String::as_str));
        c.ensure_loaded(&needed, &self.store).await?;
        let now = now_unix_secs();
        let got = ids.iter().map(|id| c.state.get(id, now)).collect();
        c.enforce_budget(self.config.resident_budget_bytes);
        got
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        let c = self.collection(collection)?;
        let mut c = c.lock().await;
        c.make_durable().await?;
        c.ensure_all_loaded(&self.store).await?;
        c.merge_view_chunks()?;
        let view = c.state.view();
        c.enforce_budget(self.config.resident_budget_bytes);
        view
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        let c = self.collection(collection)?;
        let flush_lock = c.lock().await.flush_lock();
        let _only = flush_lock.lock().await;
        // In steps, like a background flush: writes go on while it runs.
        // Someone waits for this one: every core.
        let flushed =
            rewrite::flush_and_maintain(&Arc::downgrade(&c), &self.config, Encoders::AllCores, &self.store).await;
        c.lock().await.enforce_budget(self.config.resident_budget_bytes);
        flushed
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        let c = self.collection(collection)?;
        let flush_lock = c.lock().await.flush_lock();
        let _only = flush_lock.lock().await;
        let mut c = c.lock().await;
        let declared = c.declare_field(field, &self.store).await;
        c.enforce_budget(self.config.resident_budget_bytes);
        declared
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        let c = self.collection(collection)?;
        let flush_lock = c.lock().await.flush_lock();
        let _only = flush_lock.lock().await;
        let report = rewrite::compact(&c, policy, &self.config, &self.store).await;
        c.lock().await.enforce_budget(self.config.resident_budget_bytes);
        report
    }

    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        let c = self.collection(collection)?;
        let mut c = c.lock().await;
        c.make_durable().await?;
        Ok(c.stats())
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        let checkpoint = {
            let c = self.collection(collection)?;
            let mut c = c.lock().await;
            c.make_durable().await?;
            c.ensure_all_loaded(&self.store).await?;
            let checkpoint = c.state.checkpoint();
            c.enforce_budget(self.config.resident_budget_bytes);
            checkpoint?
        };
        let path = dir.join(CHECKPOINT_FILE);
        blocking(move || checkpoint.write_to(&path)).await
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        self.writable(collection).await?;
        let path = dir.join(CHECKPOINT_FILE);
        let name = collection.to_string();
        let checkpoint = blocking(move || Checkpoint::read_from(&path, &name)).await?;
        let config = checkpoint.config.clone();
        let mut state = CollectionState::from_checkpoint(checkpoint, self.index_builder.clone())?;
        state.defer_indexing();
        if self.collection(collection).is_ok() {
            self.drop_collection(collection).await?;
        }
        let mut created =
            ViperCollection::create(config, &self.config, &self.store, self.index_builder.clone()).await?;
        created.state = state;
        // Persist the restored state as files, the way every flush does; the
        // log starts after it. Nothing else sees the collection yet.
        let created = Arc::new(Mutex::new(created));
        rewrite::in_steps(&Arc::downgrade(&created), Rewrite::Flush, &self.config, Encoders::AllCores, &self.store)
            .await?;
        self.collections.insert(collection, created);
        Ok(())
    }

    async fn data_version(&self, collection: &str) -> Result<Option<DataVersion>> {
        let c = self.collection(collection)?;
        let c = c.lock().await;
        Ok(c.data_version())
    }

    fn shared(&self) -> Option<&dyn SharedStorage> {
        self.config.follow.then_some(self as &dyn SharedStorage)
    }
}

#[async_trait]
impl SharedStorage for ViperEngine {
    async fn take_writer(&self, collection: &str) -> Result<()> {
        let current = self.collection(collection)?;
        let current = current.lock().await;
        if !current.following() {
            return Ok(());
        }
        let Some(taken) =
            ViperCollection::open(collection, &self.config, &self.store, self.index_builder.clone()).await?
        else {
            return Err(proxima_core::Error::not_found(format!("no collection named `{collection}`")));
        };
        let taken = Arc::new(Mutex::new(taken));
        self.collections.insert(collection, Arc::clone(&taken));
        drop(current);
        tell(&self.listeners, collection);
        if taken.lock().await.unflushed_ops() > 0 {
            self.flush_when_old(&taken);
        }
        Ok(())
    }

    async fn follow(&self, collection: &str) -> Result<()> {
        let current = self.collection(collection)?;
        let current = current.lock().await;
        if current.following() {
            return Ok(());
        }
        match ViperCollection::open_following(collection, &self.store, self.index_builder.clone()).await? {
            Some(following) => self.collections.insert(collection, Arc::new(Mutex::new(following))),
            None => {
                let _ = self.collections.remove(collection);
            }
        }
        drop(current);
        tell(&self.listeners, collection);
        Ok(())
    }

    async fn writes(&self, collection: &str) -> Result<bool> {
        Ok(!self.collection(collection)?.lock().await.following())
    }

    async fn refresh(&self) -> Result<()> {
        ViperEngine::refresh(self).await
    }

    fn on_change(&self, changed: ChangeListener) {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).push(changed);
    }

    async fn positions(&self) -> Result<Vec<SharedPosition>> {
        let mut positions = Vec::new();
        for c in self.collections.all() {
            positions.push(c.lock().await.position());
        }
        Ok(positions)
    }
}

/// The collections under the root: `_wal` and other underscore names are
/// ours, and a directory without a manifest is a collection whose drop was
/// interrupted (the opener finds no manifest).
async fn collection_names(store: &Store) -> Result<Vec<String>> {
    let names = store.list("").await?;
    Ok(names
        .into_iter()
        .filter(|n| !n.starts_with('_') && proxima_core::validate::collection_name(n).is_ok())
        .collect())
}

/// One refresh of a follower: every collection its writers have now.
async fn follow(
    collections: &CollectionMap<Mutex<ViperCollection>>,
    store: &Store,
    index_builder: &Option<Arc<dyn IndexBuilder>>,
    listeners: &Listeners,
) -> Result<()> {
    let mut names = collection_names(store).await?;
    names.extend(collections.names());
    names.sort();
    names.dedup();
    // One collection that cannot be read now does not hold the others back.
    let mut first_error = None;
    for name in names {
        let refreshed = match collections.get(&name) {
            Ok(shared) => {
                let mut c = shared.lock().await;
                if !c.following() {
                    continue; // this node writes it
                }
                let refreshed = c.refresh(store).await;
                drop(c);
                refreshed.map(|r| {
                    if r == Refreshed::Dropped {
                        let _ = collections.remove(&name);
                    }
                    if r != (Refreshed::Current { changed: false }) {
                        tell(listeners, &name);
                    }
                })
            }
            // Unless this node created or took it meanwhile.
            Err(_) => ViperCollection::open_following(&name, store, index_builder.clone()).await.map(|opened| {
                if let Some(c) = opened
                    && collections.insert_new(&name, Arc::new(Mutex::new(c))).is_ok()
                {
                    tell(listeners, &name);
                }
            }),
        };
        if let Err(e) = refreshed {
            first_error.get_or_insert(e.with_context("collection", name));
        }
    }
    first_error.map_or(Ok(()), Err)
}
