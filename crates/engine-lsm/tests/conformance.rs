//! The LSM engine passes the engine conformance suite with a large memtable
//! (recovery mostly from the log) and with a tiny one (a run every few writes,
//! compactions running in the background throughout).

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_engine::testkit::{EngineHarness, run_all};
use proxima_engine::{IndexBuilder, VectorStorage};
use proxima_engine_lsm::{LsmConfig, LsmEngine};

struct Local {
    dir: tempfile::TempDir,
    memtable_bytes: usize,
}

#[async_trait]
impl EngineHarness for Local {
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        let config = LsmConfig {
            memtable_bytes: self.memtable_bytes,
            l0_compaction_trigger: 2,
            level1_rows: 40,
            level_size_ratio: 2,
            ..LsmConfig::new(self.dir.path())
        };
        Ok(Arc::new(LsmEngine::open(config, index_builder).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsm_conforms_with_a_large_memtable() {
    run_all(&Local { dir: tempfile::tempdir().unwrap(), memtable_bytes: 64 << 20 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsm_conforms_with_a_tiny_memtable() {
    run_all(&Local { dir: tempfile::tempdir().unwrap(), memtable_bytes: 600 }).await;
}
