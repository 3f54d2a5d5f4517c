#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!("the vector file stores little-endian f32s and is mapped as native ones");

mod collection;
mod config;
mod engine;
mod slot_file;
mod slot_table;
mod vector_file;
mod view;

use std::sync::Arc;

pub use config::MmapConfig;
pub use engine::MmapEngine;
use proxima_engine::{EngineRegistry, VectorStorage};

/// The registered engine name.
pub const NAME: &str = "mmap";

/// Registers the engine as `"mmap"`; the engine options' root is its
/// directory, with tuning parameters after `?` ([`MmapConfig::from_uri`]).
pub fn register(registry: &EngineRegistry) {
    registry.register(NAME, |options| {
        Box::pin(async move {
            let config = MmapConfig::from_uri(&options.root)?;
            Ok(Arc::new(MmapEngine::open(config, options.index_builder).await?) as Arc<dyn VectorStorage>)
        })
    });
}
