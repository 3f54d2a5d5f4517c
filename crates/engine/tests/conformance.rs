//! The memory engine passes the engine conformance suite.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_engine::testkit::{EngineHarness, run_all};
use proxima_engine::{EngineOptions, EngineRegistry, IndexBuilder, MemoryEngine, VectorStorage};

struct Memory;

#[async_trait]
impl EngineHarness for Memory {
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        let engine = MemoryEngine::new();
        Ok(Arc::new(match index_builder {
            Some(b) => engine.with_index_builder(b),
            None => engine,
        }))
    }
}

#[tokio::test]
async fn memory_engine_conforms() {
    run_all(&Memory).await;
}

#[tokio::test]
async fn registry_opens_engines_by_name_and_lists_known_ones() {
    let registry = EngineRegistry::with_memory();
    let engine = registry.open("memory", EngineOptions::default()).await.unwrap();
    assert_eq!(engine.name(), "memory");
    let err = registry.open("viper", EngineOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), proxima_core::ErrorKind::NotFound);
    assert!(err.message().contains("registered: memory"), "{err}");
}
