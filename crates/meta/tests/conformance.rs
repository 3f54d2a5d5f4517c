//! The memory backend passes the metadata conformance suite.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta::{MemoryBackend, MetadataBackend};

struct Memory(Arc<MemoryBackend>);

#[async_trait]
impl MetaHarness for Memory {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        Ok(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_conforms() {
    run_all(&Memory(Arc::new(MemoryBackend::new()))).await;
}
