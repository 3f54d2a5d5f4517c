//! The layers every engine call passes through, stacked once per engine when
//! `Proxima` opens or registers it, so that whatever reaches an engine —
//! writes, batches, partitions, backups, moves, maintenance — is seen by each:
//!
//! ```text
//! Proxima (route, write gate) → analytics → cache invalidation → engine
//! ```
//!
//! Each layer is a [`VectorStorage`] wrapping the one below, in the manner of
//! OpenDAL's layers over its services.

mod analytics;
mod invalidation;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use proxima_engine::VectorStorage;

pub(crate) use self::analytics::AnalyticsLayer;
pub(crate) use self::invalidation::InvalidationLayer;
use crate::analytics::Recorder;
use crate::cache::ResultCache;

/// `engine` under the layers, outermost first.
pub(crate) fn stack(
    engine: Arc<dyn VectorStorage>,
    recorder: Arc<Recorder>,
    in_flight: Arc<AtomicUsize>,
    cache: Arc<ResultCache>,
) -> Arc<dyn VectorStorage> {
    let invalidating = Arc::new(InvalidationLayer::new(engine, cache));
    Arc::new(AnalyticsLayer::new(invalidating, recorder, in_flight))
}
