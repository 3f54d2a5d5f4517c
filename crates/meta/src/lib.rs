#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod backend;
mod catalog;
mod factory;
mod lease;
mod memory;
mod metadata;
mod migrate;
pub mod retry;
mod rules;
pub mod snapshot;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use backend::{BackendStats, Health, MetaCapabilities, MetadataBackend, MetadataBackendExt, OpCounters};
pub use catalog::{Catalog, Change, list_sorted};
pub use factory::{BackendConstructor, BackendFuture, KNOWN_SCHEMES, MetadataBackendFactory, scheme_of};
pub use lease::{Lease, LeaseClaim, lost};
pub use memory::MemoryBackend;
pub use metadata::{AccessPattern, BatchOp, CollectionMetadata, ListFilter, ListPage, now_millis};
pub use migrate::{MigrateAction, MigrateOptions, MigrateReport, differences, migrate, migrate_uris};
pub use rules::missing;
