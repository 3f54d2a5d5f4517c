#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod batch;
mod bitmap;
mod collections;
pub mod files;
mod hidden;
mod memory;
mod registry;
pub mod state;
mod storage;
#[cfg(feature = "testkit")]
pub mod testkit;
mod view;
mod zone;

pub use batch::{Presence, WriteBatch, WriteOp, WriteReceipt, check_presence, prepare_batch};
pub use bitmap::Bitmap;
pub use collections::CollectionMap;
pub use hidden::HiddenIds;
pub use memory::MemoryEngine;
pub use registry::{EngineConstructor, EngineFuture, EngineOptions, EngineRegistry};
pub use storage::{
    Capabilities, ChangeListener, CollectionStats, CompactionPolicy, CompactionReport, DataVersion, IndexBuilder,
    SharedPosition, SharedStorage, StoredRecord, VectorStorage,
};
pub use view::{EarlierIndex, ReadView, Segment, Snapshot, Tombstone};
pub use zone::{Zone, candidate_rows};
