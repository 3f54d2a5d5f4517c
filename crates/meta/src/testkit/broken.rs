//! A deliberately broken backend: the suite must catch it.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;

use super::{MetaHarness, run_all_collecting};
use crate::{
    BackendStats, BatchOp, CollectionMetadata, Health, ListFilter, ListPage, MemoryBackend, MetaCapabilities,
    MetadataBackend,
};

/// Last writer wins: updates skip the version check.
#[derive(Debug, Default)]
struct LastWriterWins(MemoryBackend);

#[async_trait]
impl MetadataBackend for LastWriterWins {
    fn scheme(&self) -> &'static str {
        "broken"
    }
    fn capabilities(&self) -> MetaCapabilities {
        self.0.capabilities()
    }
    async fn create(&self, m: CollectionMetadata) -> Result<CollectionMetadata> {
        self.0.create(m).await
    }
    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        self.0.get(name).await
    }
    async fn update(&self, mut m: CollectionMetadata) -> Result<CollectionMetadata> {
        if let Some(current) = self.0.get(&m.name).await? {
            m.version = current.version;
        }
        self.0.update(m).await
    }
    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        self.0.delete(name, expected_version).await
    }
    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        self.0.list(filter).await
    }
    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        self.0.batch(ops).await
    }
    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        self.0.import(entries).await
    }
    async fn backup(&self, location: &str) -> Result<String> {
        self.0.backup(location).await
    }
    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        self.0.restore(backup_id, location).await
    }
    async fn health(&self) -> Result<Health> {
        self.0.health().await
    }
    async fn stats(&self) -> Result<BackendStats> {
        self.0.stats().await
    }
}

struct Harness(Arc<LastWriterWins>);

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn skipping_version_checks_fails_the_version_cases() {
    let failures = run_all_collecting(&Harness(Arc::default())).await;
    assert!(failures.iter().any(|f| f.starts_with("update_checks_version")), "{failures:?}");
    assert!(failures.iter().any(|f| f.starts_with("concurrent_updates_have_one_winner")), "{failures:?}");
}
