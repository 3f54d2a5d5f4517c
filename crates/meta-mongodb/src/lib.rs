#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod config;
mod document;
mod lease;

use std::sync::Arc;

pub use backend::MongoBackend;
pub use config::MongoConfig;
use proxima_meta::{MetadataBackend, MetadataBackendFactory};

/// The connection-string scheme.
pub const SCHEME: &str = "mongodb";

/// Registers this backend for `mongodb://` connection strings.
pub fn register(factory: &MetadataBackendFactory) {
    factory.register(SCHEME, |uri| {
        Box::pin(async move {
            let config = MongoConfig::from_uri(&uri)?;
            Ok(Arc::new(MongoBackend::open(config).await?) as Arc<dyn MetadataBackend>)
        })
    });
}
