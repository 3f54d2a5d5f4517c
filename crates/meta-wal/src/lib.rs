#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod config;

use std::sync::Arc;

pub use backend::WalBackend;
pub use config::WalBackendConfig;
use proxima_meta::{MetadataBackend, MetadataBackendFactory};

/// The connection-string scheme.
pub const SCHEME: &str = "file";

/// Registers this backend for `file://` connection strings.
pub fn register(factory: &MetadataBackendFactory) {
    factory.register(SCHEME, |uri| {
        Box::pin(async move {
            let config = WalBackendConfig::from_uri(&uri)?;
            Ok(Arc::new(WalBackend::open(config).await?) as Arc<dyn MetadataBackend>)
        })
    });
}
