//! The mmap engine passes the engine conformance suite, with checkpoints rare
//! (recovery mostly from the log) and after every few operations.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_engine::testkit::{EngineHarness, run_all};
use proxima_engine::{IndexBuilder, VectorStorage};
use proxima_engine_mmap::{MmapConfig, MmapEngine};

struct Local {
    dir: tempfile::TempDir,
    checkpoint_ops: usize,
}

#[async_trait]
impl EngineHarness for Local {
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        let config = MmapConfig { checkpoint_ops: self.checkpoint_ops, ..MmapConfig::new(self.dir.path()) };
        Ok(Arc::new(MmapEngine::open(config, index_builder).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mmap_conforms_with_rare_checkpoints() {
    run_all(&Local { dir: tempfile::tempdir().unwrap(), checkpoint_ops: 1_000_000 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mmap_conforms_with_frequent_checkpoints() {
    run_all(&Local { dir: tempfile::tempdir().unwrap(), checkpoint_ops: 3 }).await;
}
