#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod bloom;
mod collection;
mod config;
mod engine;
mod manifest;
mod part;
mod sst;

use std::sync::Arc;

pub use config::LsmConfig;
pub use engine::LsmEngine;
use proxima_engine::{EngineRegistry, VectorStorage};

/// The registered engine name.
pub const NAME: &str = "lsm";

/// Registers the engine as `"lsm"`; the engine options' root is its
/// directory, with tuning parameters after `?` ([`LsmConfig::from_uri`]).
pub fn register(registry: &EngineRegistry) {
    registry.register(NAME, |options| {
        Box::pin(async move {
            let config = LsmConfig::from_uri(&options.root)?;
            Ok(Arc::new(LsmEngine::open(config, options.index_builder).await?) as Arc<dyn VectorStorage>)
        })
    });
}
