#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod collection;
mod config;
mod direct;
mod engine;
mod log;
mod manifest;
mod paced;
mod rewrite;
mod segment_file;
mod store;
mod vector_column;

use std::sync::Arc;

use proxima_engine::{EngineRegistry, VectorStorage};

pub use self::config::{LogPlacement, Root, VectorCompression, ViperConfig};
pub use self::engine::ViperEngine;

/// The registered engine name.
pub const NAME: &str = "viper";

/// Registers VIPER as `"viper"`; the engine options' root is parsed by [`ViperConfig::from_uri`].
pub fn register(registry: &EngineRegistry) {
    registry.register(NAME, |options| {
        Box::pin(async move {
            let config = ViperConfig::from_uri(&options.root)?;
            Ok(Arc::new(ViperEngine::open(config, options.index_builder).await?) as Arc<dyn VectorStorage>)
        })
    });
}
