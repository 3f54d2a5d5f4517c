#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use std::sync::{Once, OnceLock};

pub use proxima_core as core;
pub use proxima_engine as engine;
pub use proxima_meta as meta;

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
        // The memory engine and memory backend are registered by construction;
        // each feature-gated crate adds its own `register` call here.
        let _ = engine_registry();
        let _ = meta::MetadataBackendFactory::global();
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
        let err = meta::MetadataBackendFactory::global().open("mongodb://127.0.0.1:1/db").await.unwrap_err();
        assert_eq!(err.kind(), core::ErrorKind::Unsupported);
        assert!(err.message().contains("meta-mongodb"), "{err}");
    }
}
