//! The memory backend: a [`Catalog`] behind a mutex. Nothing persists.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use proxima_core::Result;

use crate::{
    BackendStats, BatchOp, Catalog, CollectionMetadata, Health, Lease, LeaseClaim, ListFilter, ListPage,
    MetaCapabilities, MetadataBackend, OpCounters, snapshot,
};

/// A catalogue in process memory.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    catalog: Mutex<Catalog>,
    leases: Mutex<std::collections::HashMap<String, Lease>>,
    counters: OpCounters,
}

impl MemoryBackend {
    /// The connection-string scheme.
    pub const SCHEME: &'static str = "memory";

    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn one(&self, op: &str, batch: BatchOp) -> Result<Option<CollectionMetadata>> {
        self.counters.record(op, self.catalog().execute(&[batch]).map(|mut v| v.remove(0)))
    }
}

#[async_trait]
impl MetadataBackend for MemoryBackend {
    fn scheme(&self) -> &'static str {
        Self::SCHEME
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: false,
            atomic_batch: true,
            native_text_search: false,
            native_ttl: false,
            shared: false,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        Ok(self.one("create", BatchOp::Create(metadata))?.expect("create stores an entry"))
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        self.counters.record("get", Ok(self.catalog().get(name).cloned()))
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        Ok(self.one("update", BatchOp::Update(metadata))?.expect("update stores an entry"))
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        self.one("delete", BatchOp::Delete { name: name.to_string(), expected_version }).map(|_| ())
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        self.counters.record("list", self.catalog().list(filter))
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        self.counters.record("batch", self.catalog().execute(&ops))
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        let mut catalog = self.catalog();
        let imported = catalog.plan_import(entries).map(|changes| {
            catalog.apply_all(changes);
        });
        self.counters.record("import", imported)
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let entries: Vec<_> = self.catalog().entries().cloned().collect();
        self.counters.record("backup", snapshot::write_new(location, entries))
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let restored = snapshot::read(location, backup_id).map(Catalog::from_entries);
        self.counters.record("restore", restored.map(|c| *self.catalog() = c))
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let count = self.catalog().visible_count();
        Ok(Health {
            healthy: true,
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            detail: format!("in-memory catalogue with {count} collections"),
        })
    }

    async fn stats(&self) -> Result<BackendStats> {
        Ok(self.counters.stats(self.catalog().visible_count() as u64))
    }

    // Instances sharing one backend in a process (tests, embedders) share its leases.
    async fn claim_lease(&self, claim: LeaseClaim) -> Result<Lease> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let lease = claim.apply(leases.get(&claim.collection))?;
        leases.insert(claim.collection, lease.clone());
        Ok(lease)
    }

    async fn lease(&self, collection: &str) -> Result<Option<Lease>> {
        Ok(self.leases.lock().unwrap_or_else(|p| p.into_inner()).get(collection).cloned())
    }

    async fn list_leases(&self, prefix: &str) -> Result<Vec<Lease>> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let mut listed: Vec<Lease> =
            leases.iter().filter(|(name, _)| name.starts_with(prefix)).map(|(_, l)| l.clone()).collect();
        listed.sort_by(|a, b| a.collection.cmp(&b.collection));
        Ok(listed)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        match leases.get_mut(&lease.collection) {
            Some(stored) if stored.holder == lease.holder && stored.epoch == lease.epoch => {
                stored.expires_at_ms = 0;
                Ok(())
            }
            stored => Err(crate::lost(&lease.collection, lease.epoch, stored.as_deref())),
        }
    }
}

#[cfg(test)]
mod lease_tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::testkit::{MetaHarness, leases_conform};

    struct Shared(Arc<MemoryBackend>);

    #[async_trait]
    impl MetaHarness for Shared {
        async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
            Ok(self.0.clone())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_leases_conform() {
        leases_conform(&Shared(Arc::new(MemoryBackend::new()))).await.unwrap();
    }
}
