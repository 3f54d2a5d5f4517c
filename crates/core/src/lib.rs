#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
pub mod filter;
pub mod json_text;
mod metric;
pub mod process;
mod record;
mod search;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod url;
pub mod validate;
pub mod vector_bytes;

pub use config::{
    CollectionConfig, FSYNC_INTERVAL_MS, FieldSpec, FieldType, FsyncPolicy, HNSW_EF_CONSTRUCTION, HNSW_M, IVF_NLIST,
    IndexConfig,
};
pub use error::{Error, ErrorKind, Result};
pub use filter::Filter;
pub use metric::DistanceMetric;
pub use record::{Metadata, VectorRecord, now_unix_secs};
pub use search::{SearchHit, SearchRequest};
