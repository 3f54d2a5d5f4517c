//! VIPER on local disk passes the engine conformance suite, with the write
//! buffer mostly in memory, with a flush every few operations, and with
//! uncompressed vectors in its files.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_engine::testkit::{EngineHarness, run_all};
use proxima_engine::{IndexBuilder, VectorStorage};
use proxima_engine_viper::{VectorCompression, ViperConfig, ViperEngine};

struct Local {
    dir: tempfile::TempDir,
    flush_rows: usize,
    budget: u64,
    vectors: VectorCompression,
}

#[async_trait]
impl EngineHarness for Local {
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        let config = ViperConfig {
            flush_rows: self.flush_rows,
            row_group_rows: 4,
            resident_budget_bytes: self.budget,
            vector_compression: self.vectors,
            ..ViperConfig::local(self.dir.path())
        };
        Ok(Arc::new(ViperEngine::open(config, index_builder).await?))
    }
}

/// Runs the suite on a fresh directory with these settings.
async fn conforms(flush_rows: usize, budget: u64, vectors: VectorCompression) {
    run_all(&Local { dir: tempfile::tempdir().unwrap(), flush_rows, budget, vectors }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_conforms_with_large_buffer() {
    conforms(1_000_000, u64::MAX, VectorCompression::Zstd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_conforms_with_frequent_flushes() {
    conforms(5, u64::MAX, VectorCompression::Zstd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_conforms_with_a_zero_memory_budget() {
    // Every segment in a file is evicted after every call and decoded again when needed.
    conforms(5, 0, VectorCompression::Zstd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_conforms_with_uncompressed_vectors() {
    // A zero budget, so every read decodes the uncompressed files again.
    conforms(5, 0, VectorCompression::None).await;
}
