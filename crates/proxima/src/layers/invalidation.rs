//! Makes cached answers of a collection unreachable after anything that may
//! change them — writes, flushes, compactions, restores, drops, creations —
//! and before the call returns, so no answer served after an acknowledgement
//! is older than it.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result};
use proxima_engine::{
    Capabilities, CollectionStats, CompactionPolicy, CompactionReport, DataVersion, ReadView, SharedStorage,
    StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};

use crate::cache::ResultCache;

/// Invalidates the collection's cached answers after each change below.
#[derive(Debug)]
pub(crate) struct InvalidationLayer {
    inner: Arc<dyn VectorStorage>,
    cache: Arc<ResultCache>,
}

impl InvalidationLayer {
    pub(crate) fn new(inner: Arc<dyn VectorStorage>, cache: Arc<ResultCache>) -> Self {
        Self { inner, cache }
    }

    /// The change's result, once the collection's cached answers are
    /// unreachable (even when it failed: it may have done part of its work).
    async fn changed<T>(&self, collection: &str, result: Result<T>) -> Result<T> {
        self.cache.invalidate(collection).await;
        result
    }
}

#[async_trait]
impl VectorStorage for InvalidationLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        let result = self.inner.create_collection(config).await;
        self.changed(&config.name, result).await
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        let result = self.inner.drop_collection(name).await;
        self.changed(name, result).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        self.inner.list_collections().await
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        // Answers stay the same, but their plans and estimates change.
        let result = self.inner.declare_field(collection, field).await;
        self.changed(collection, result).await
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        let result = self.inner.write(collection, batch).await;
        self.changed(collection, result).await
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        self.inner.get(collection, ids).await
    }

    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        self.inner.read_view(collection).await
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        let result = self.inner.flush(collection).await;
        self.changed(collection, result).await
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        let result = self.inner.compact(collection, policy).await;
        self.changed(collection, result).await
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
        let result = self.inner.restore_from(collection, dir).await;
        self.changed(collection, result).await
    }

    fn shared(&self) -> Option<&dyn SharedStorage> {
        self.inner.shared()
    }
}
