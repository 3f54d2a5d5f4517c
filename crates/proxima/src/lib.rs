#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod advice;
mod analytics;
mod backups;
mod batch;
mod cache;
mod catalogue;
mod cluster;
mod database;
mod fields;
mod hybrid;
mod indexing;
mod layers;
mod lifecycle;
mod operation;
mod partitions;
mod routing;
mod scan;
mod tiering;
mod unified;

use std::sync::{Once, OnceLock};

pub use analytics::{OperationCost, OperationSummary, OperationTable, PerformanceAnalytics, Recommendation};
pub use backups::NamespaceBackup;
pub use batch::{BatchError, BatchOperation, BatchResult};
pub use cache::{CacheConfig, CacheMode, CacheOutcome, LayerReport};
pub use catalogue::{
    CollectionEntry, CollectionPage, CollectionPatch, CollectionQuery, EngineInfo, MAX_DESCRIPTION_LEN, MAX_TAG_LEN,
    MAX_TAGS,
};
pub use cluster::{ClusterConfig, HeldLease, NodeStatus, WRITER_CONTEXT, WRITER_HEADER};
pub use database::Cached;
pub use database::{MAX_BATCH_SEARCHES, Proxima, ProximaConfig};
pub use hybrid::{
    EdgeError, Fusion, Leg, MAX_EDGES_PER_CALL, MAX_EVENTS_PER_CALL, MAX_OVERFETCH, QueryHit, QueryPlan, QueryRequest,
    QueryResponse, RelationsChange, RelationsChanged, ScoreParts, Strategy, StrategyLatency,
};
pub use indexing::IndexStatus;
pub use lifecycle::{CompactionConfig, CompactionResult};
pub use operation::{OperationOutcome, VectorOperation, VectorStorageCoordinator};
pub use partitions::partition_of;
pub use proxima_core as core;
pub use proxima_engine as engine;
#[cfg(feature = "engine-lsm")]
pub use proxima_engine_lsm as engine_lsm;
#[cfg(feature = "engine-mmap")]
pub use proxima_engine_mmap as engine_mmap;
#[cfg(feature = "engine-viper")]
pub use proxima_engine_viper as engine_viper;
pub use proxima_hybrid as relations;
pub use proxima_index as index;
pub use proxima_meta as meta;
#[cfg(feature = "meta-dynamodb")]
pub use proxima_meta_dynamodb as meta_dynamodb;
#[cfg(feature = "meta-mongodb")]
pub use proxima_meta_mongodb as meta_mongodb;
#[cfg(feature = "meta-postgres")]
pub use proxima_meta_postgres as meta_postgres;
#[cfg(feature = "meta-sqlite")]
pub use proxima_meta_sqlite as meta_sqlite;
#[cfg(feature = "meta-wal")]
pub use proxima_meta_wal as meta_wal;
pub use proxima_search as search;
pub use routing::{Condition, PlacementOperation, RoutingRule, RoutingStrategy};
pub use scan::{ScanPage, ScanRequest, id_order};
pub use tiering::Move;
pub use unified::{EngineOutcome, MergeStrategy, SearchStrategy, UnifiedSearchResponse, merge_rankings};

/// The process-wide engine registry that [`install_defaults`] fills.
pub fn engine_registry() -> &'static engine::EngineRegistry {
    static REGISTRY: OnceLock<engine::EngineRegistry> = OnceLock::new();
    REGISTRY.get_or_init(engine::EngineRegistry::with_memory)
}

/// Registers every engine and metadata backend compiled into this build with
/// [`engine_registry`] and [`meta::MetadataBackendFactory::global`]. Safe to call
/// any number of times; only the first call does anything.
pub fn install_defaults() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The memory engine and memory backend are registered by construction.
        let engines = engine_registry();
        #[cfg(feature = "engine-viper")]
        proxima_engine_viper::register(engines);
        #[cfg(feature = "engine-mmap")]
        proxima_engine_mmap::register(engines);
        #[cfg(feature = "engine-lsm")]
        proxima_engine_lsm::register(engines);
        let _ = engines;
        let factory = meta::MetadataBackendFactory::global();
        #[cfg(feature = "meta-wal")]
        proxima_meta_wal::register(factory);
        #[cfg(feature = "meta-sqlite")]
        proxima_meta_sqlite::register(factory);
        #[cfg(feature = "meta-postgres")]
        proxima_meta_postgres::register(factory);
        #[cfg(feature = "meta-mongodb")]
        proxima_meta_mongodb::register(factory);
        #[cfg(feature = "meta-dynamodb")]
        proxima_meta_dynamodb::register(factory);
        let _ = factory;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn defaults_resolve_memory_and_explain_missing_features() {
        install_defaults();
        install_defaults();
        assert!(engine_registry().names().contains(&"memory".to_string()));
        let factory = meta::MetadataBackendFactory::global();
        for (scheme, feature) in meta::KNOWN_SCHEMES {
            let registered = factory.schemes().iter().any(|s| s == scheme);
            if !registered {
                let err = factory.open(&format!("{scheme}://127.0.0.1:1/db")).await.unwrap_err();
                assert_eq!(err.kind(), core::ErrorKind::Unsupported, "{scheme}");
                assert!(err.message().contains(feature), "{err}");
            }
        }
        let err = factory.open("nosuchdb://x").await.unwrap_err();
        assert_eq!(err.kind(), core::ErrorKind::InvalidArgument);
    }
}

#[cfg(all(test, feature = "meta-wal"))]
mod wal_tests {
    #[tokio::test]
    async fn file_uris_open_the_wal_backend() {
        super::install_defaults();
        let dir = std::env::temp_dir().join(format!("proxima-facade-{}", std::process::id()));
        let uri = format!("file://{}", dir.display());
        let backend = crate::meta::MetadataBackendFactory::global().open(&uri).await.unwrap();
        assert_eq!(backend.scheme(), "file");
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(all(test, feature = "engine-viper"))]
mod viper_tests {
    #[tokio::test]
    async fn viper_is_registered_by_name() {
        super::install_defaults();
        let dir = std::env::temp_dir().join(format!("proxima-facade-viper-{}", std::process::id()));
        let options = crate::engine::EngineOptions { root: dir.display().to_string(), index_builder: None };
        let engine = super::engine_registry().open("viper", options).await.unwrap();
        assert_eq!(engine.name(), "viper");
        assert!(engine.capabilities().persistent);
        let _ = std::fs::remove_dir_all(dir);
    }
}
