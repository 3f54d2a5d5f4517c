#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod config;
mod items;
mod lease;

use std::sync::Arc;

pub use backend::DynamoBackend;
pub use config::DynamoConfig;
use proxima_meta::{MetadataBackend, MetadataBackendFactory};

/// The connection-string scheme.
pub const SCHEME: &str = "dynamodb";

/// Registers this backend for `dynamodb://` connection strings.
pub fn register(factory: &MetadataBackendFactory) {
    factory.register(SCHEME, |uri| {
        Box::pin(async move {
            let config = DynamoConfig::from_uri(&uri)?;
            Ok(Arc::new(DynamoBackend::open(config).await?) as Arc<dyn MetadataBackend>)
        })
    });
}
