//! Latency, in-flight count and outcome of every engine call, by collection
//! and engine (`Proxima::get_performance_analytics`).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result};
use proxima_engine::{
    Capabilities, CollectionStats, CompactionPolicy, CompactionReport, DataVersion, ReadView, StoredRecord,
    VectorStorage, WriteBatch, WriteReceipt,
};

use crate::analytics::Recorder;

/// Records each call on the engine below.
#[derive(Debug)]
pub(crate) struct AnalyticsLayer {
    inner: Arc<dyn VectorStorage>,
    recorder: Arc<Recorder>,
    in_flight: Arc<AtomicUsize>,
}

impl AnalyticsLayer {
    pub(crate) fn new(inner: Arc<dyn VectorStorage>, recorder: Arc<Recorder>, in_flight: Arc<AtomicUsize>) -> Self {
        Self { inner, recorder, in_flight }
    }

    async fn timed<T>(&self, collection: &str, op: &'static str, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = work.await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.recorder.record(collection, self.inner.name(), op, started.elapsed(), result.is_ok());
        result
    }
}

#[async_trait]
impl VectorStorage for AnalyticsLayer {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        self.timed(&config.name, "create_collection", self.inner.create_collection(config)).await
    }

    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        self.timed(collection, "declare_field", self.inner.declare_field(collection, field)).await
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.timed(name, "drop_collection", self.inner.drop_collection(name)).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        self.inner.list_collections().await
    }

    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        self.timed(collection, "write", self.inner.write(collection, batch)).await
    }

    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        self.timed(collection, "get", self.inner.get(collection, ids)).await
    }

    /// Not recorded on its own: a view is part of the search, estimate or
    /// maintenance pass that asks for it, which is recorded whole.
    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        self.inner.read_view(collection).await
    }

    async fn flush(&self, collection: &str) -> Result<()> {
        self.timed(collection, "flush", self.inner.flush(collection)).await
    }

    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        self.timed(collection, "compact", self.inner.compact(collection, policy)).await
    }

    /// Not recorded: statistics are polled (catalogue refreshes, maintenance), not asked for.
    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        self.inner.stats(collection).await
    }

    async fn data_version(&self, collection: &str) -> Result<Option<DataVersion>> {
        self.inner.data_version(collection).await
    }

    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        self.timed(collection, "checkpoint", self.inner.checkpoint_to(collection, dir)).await
    }

    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        self.timed(collection, "restore", self.inner.restore_from(collection, dir)).await
    }

    fn shared(&self) -> Option<&dyn proxima_engine::SharedStorage> {
        self.inner.shared()
    }
}
