//! Cluster mode: every change to a collection first makes this node its
//! writer (holding or taking its lease), or fails naming the node that is,
//! so the server can send the request there. Reads pass straight through:
//! every node answers them.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result};
use proxima_engine::{
    Capabilities, CollectionStats, CompactionPolicy, CompactionReport, DataVersion, ReadView, SharedStorage,
    StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};

use crate::cluster::LeaseKeeper;

/// Takes the writer lease of a collection before each change below.
#[derive(Debug)]
pub(crate) struct LeaseLayer {
    inner: Arc<dyn VectorStorage>,
    keeper: Arc<LeaseKeeper>,
}

impl LeaseLayer {
    pub(crate) fn new(inner: Arc<dyn VectorStorage>, keeper: Arc<LeaseKeeper>) -> Self {
        Self { inner, keeper }
    }

    async fn writer(&self, collection: &str) -> Result<()> {
        self.keeper.ensure_writer(collection, &*self.inner).await
    }
}

#[async_trait]
impl VectorStorage for LeaseLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        self.keeper.ensure_creator(&config.name).await?;
        self.inner.create_collection(config).await
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.writer(name).await?;
        self.inner.drop_collection(name).await?;
        self.keeper.dropped(name).await;
        Ok(())
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        self.inner.list_collections().await
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        self.writer(collection).await?;
        self.inner.declare_field(collection, field).await
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        self.writer(collection).await?;
        self.inner.write(collection, batch).await
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        self.inner.get(collection, ids).await
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        self.inner.read_view(collection).await
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        self.writer(collection).await?;
        self.inner.flush(collection).await
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        self.writer(collection).await?;
        self.inner.compact(collection, policy).await
    }

    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        self.inner.stats(collection).await
    }

    async fn data_version(&self, collection: &str) -> Result<Option<DataVersion>> {
        self.inner.data_version(collection).await
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        self.inner.checkpoint_to(collection, dir).await
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        match self.writer(collection).await {
            // A restore may create the collection.
            Err(e) if e.kind() == proxima_core::ErrorKind::NotFound => self.keeper.ensure_creator(collection).await?,
            taken => taken?,
        }
        self.inner.restore_from(collection, dir).await
    }

    fn shared(&self) -> Option<&dyn SharedStorage> {
        self.inner.shared()
    }
}
