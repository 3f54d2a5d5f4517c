#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod config;
mod schema;
mod sql;

use std::sync::Arc;

pub use backend::SqliteBackend;
pub use config::SqliteConfig;
use proxima_meta::{MetadataBackend, MetadataBackendFactory};

/// The connection-string scheme.
pub const SCHEME: &str = "sqlite";

/// Registers this backend for `sqlite://` connection strings.
pub fn register(factory: &MetadataBackendFactory) {
    factory.register(SCHEME, |uri| {
        Box::pin(async move {
            let config = SqliteConfig::from_uri(&uri)?;
            Ok(Arc::new(SqliteBackend::open(config).await?) as Arc<dyn MetadataBackend>)
        })
    });
}
