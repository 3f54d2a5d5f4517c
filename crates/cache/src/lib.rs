#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "redis")]
mod backplane;
mod codec;
mod context;
mod disk;
mod entry;
mod layer;
mod memory;
mod pipeline;
mod queue;
#[cfg(feature = "redis")]
mod redis;
mod stats;
mod tags;

#[cfg(feature = "redis")]
pub use self::backplane::{Backplane, BackplaneConfig, Handler, Invalidation};
pub use self::context::{CacheContext, Outcome};
pub use self::disk::{DiskConfig, DiskLayer};
pub use self::entry::{CacheEntry, now_unix_ms};
pub use self::layer::{CacheLayer, Health, HealthState, LayerResult};
pub use self::memory::{MemoryConfig, MemoryLayer};
pub use self::pipeline::Pipeline;
pub use self::queue::WriteQueue;
#[cfg(feature = "redis")]
pub use self::redis::{RedisConfig, RedisLayer};
pub use self::stats::{Counters, LayerStats};
pub use self::tags::TagIndex;
