#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod config;
mod lease;
mod schema;
mod sql;

use std::sync::Arc;

pub use backend::{PostgresBackend, bounded, checkout};
pub use config::{PostgresConfig, TlsRoots};
use proxima_meta::{MetadataBackend, MetadataBackendFactory};
pub use schema::migrate;
pub use sql::db_error;

/// The connection-string schemes.
pub const SCHEMES: [&str; 2] = ["postgresql", "postgres"];

/// Registers this backend for `postgresql://` and `postgres://` connection strings.
pub fn register(factory: &MetadataBackendFactory) {
    for scheme in SCHEMES {
        factory.register(scheme, |uri| {
            Box::pin(async move {
                let config = PostgresConfig::from_uri(&uri)?;
                Ok(Arc::new(PostgresBackend::open(config).await?) as Arc<dyn MetadataBackend>)
            })
        });
    }
}
