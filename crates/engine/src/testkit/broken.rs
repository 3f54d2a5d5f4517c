//! Deliberately broken engines: the suite must catch each of them.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, FieldSpec, Result};

use super::{EngineHarness, bad_input_changes_nothing, run_all_collecting, soft_delete_and_restore};
use crate::{
    Capabilities, CollectionStats, CompactionPolicy, CompactionReport, IndexBuilder, MemoryEngine, ReadView,
    StoredRecord, VectorStorage, WriteBatch, WriteOp, WriteReceipt,
};

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Applies a batch one operation at a time, so a bad operation leaves the earlier ones applied.
    PartialBatches,
    /// Turns soft deletes into hard deletes.
    SoftDeleteIsDelete,
}

#[derive(Debug)]
struct Broken {
    inner: MemoryEngine,
    fault: Fault,
}

#[async_trait]
impl VectorStorage for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        self.inner.create_collection(config).await
    }
    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.inner.drop_collection(name).await
    }
    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        self.inner.list_collections().await
    }
    async fn declare_field(&self, collection: &str, field: FieldSpec) -> Result<bool> {
        self.inner.declare_field(collection, field).await
    }
    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        match self.fault {
            Fault::PartialBatches => {
                let mut receipt = None;
                for op in batch.ops {
                    let r = self.inner.write(collection, WriteBatch { ops: vec![op] }).await?;
                    receipt.get_or_insert(r).last_seq = r.last_seq;
                }
                Ok(receipt.unwrap_or(WriteReceipt { first_seq: 0, last_seq: 0 }))
            }
            Fault::SoftDeleteIsDelete => {
                let ops = batch
                    .ops
                    .into_iter()
                    .map(|op| match op {
                        WriteOp::SoftDelete { id } => WriteOp::Delete { id },
                        other => other,
                    })
                    .collect();
                self.inner.write(collection, WriteBatch { ops }).await
            }
        }
    }
    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        self.inner.get(collection, ids).await
    }
    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        self.inner.read_view(collection).await
    }
    async fn flush(&self, collection: &str) -> Result<()> {
        self.inner.flush(collection).await
    }
    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        self.inner.compact(collection, policy).await
    }
    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        self.inner.stats(collection).await
    }
    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        self.inner.checkpoint_to(collection, dir).await
    }
    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        self.inner.restore_from(collection, dir).await
    }
}

struct BrokenHarness(Fault);

#[async_trait]
impl EngineHarness for BrokenHarness {
    async fn open(&self, _index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        Ok(Arc::new(Broken { inner: MemoryEngine::new(), fault: self.0 }))
    }
}

#[tokio::test]
async fn partial_batches_fail_the_bad_input_case() {
    let err = bad_input_changes_nothing(&BrokenHarness(Fault::PartialBatches)).await.unwrap_err();
    assert!(err.0.contains("changed the collection"), "{err}");
    let failures = run_all_collecting(&BrokenHarness(Fault::PartialBatches)).await;
    assert!(failures.iter().any(|f| f.starts_with("bad_input_changes_nothing")), "{failures:?}");
}

#[tokio::test]
async fn soft_delete_as_delete_fails_the_restore_case() {
    let err = soft_delete_and_restore(&BrokenHarness(Fault::SoftDeleteIsDelete)).await.unwrap_err();
    assert!(err.0.contains("stats after soft delete") || err.0.contains("restore"), "{err}");
}
