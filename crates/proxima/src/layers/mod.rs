//! The layers every engine call passes through, stacked once per engine when
//! `Proxima` opens or registers it, so that whatever reaches an engine —
//! writes, batches, partitions, backups, moves, maintenance — is seen by each:
//!
//! ```text
//! Proxima (route, write gate) → [writer lease] → analytics → cache invalidation → engine
//! ```
//!
//! The writer-lease layer is there in cluster mode only.
//!
//! Each layer is a [`VectorStorage`] wrapping the one below, in the manner of
//! OpenDAL's layers over its services.

mod analytics;
mod invalidation;
mod lease;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use proxima_engine::VectorStorage;

pub(crate) use self::analytics::AnalyticsLayer;
pub(crate) use self::invalidation::InvalidationLayer;
pub(crate) use self::lease::LeaseLayer;
use crate::analytics::Recorder;
use crate::cache::ResultCache;
use crate::cluster::LeaseKeeper;

/// `engine` under the layers, outermost first.
pub(crate) fn stack(
    engine: Arc<dyn VectorStorage>,
    recorder: Arc<Recorder>,
    in_flight: Arc<AtomicUsize>,
    cache: Arc<ResultCache>,
    leases: Option<Arc<LeaseKeeper>>,
) -> Arc<dyn VectorStorage> {
    let invalidating = Arc::new(InvalidationLayer::new(engine, cache));
    let timed: Arc<dyn VectorStorage> = Arc::new(AnalyticsLayer::new(invalidating, recorder, in_flight));
    match leases {
        Some(keeper) => Arc::new(LeaseLayer::new(timed, keeper)),
        None => timed,
    }
}
