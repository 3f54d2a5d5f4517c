//! Per-layer counters and the statistics they report.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::{CacheContext, CacheEntry, LayerResult};

/// A layer's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerStats {
    /// Gets answered with a value.
    pub hits: u64,
    /// Gets that found nothing (a damaged value counts here too).
    pub misses: u64,
    /// Every call: gets, sets, removes.
    pub operations: u64,
    /// Calls that failed (timeouts, refused connections, damaged values).
    pub errors: u64,
    /// Writes dropped rather than wait (a full queue).
    pub dropped: u64,
    /// Invalidation messages sent to other instances.
    pub messages_sent: u64,
    /// Invalidation messages received from other instances.
    pub messages_received: u64,
    /// Entries held, where the layer knows.
    pub entries: u64,
    /// Bytes held, where the layer knows.
    pub bytes: u64,
    /// hits / (hits + misses), 0 before any get.
    pub hit_ratio: f64,
}

/// The atomic counters behind [`LayerStats`], for layers to share.
#[derive(Debug, Default)]
pub struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    operations: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

impl Counters {
    /// A hit (and an operation).
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.operation();
    }

    /// A miss (and an operation).
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.operation();
    }

    /// Counts a get's outcome in layer `layer`, notes it in the operation's
    /// context, and gives the layer's result.
    pub fn found(&self, layer: &str, ctx: &mut CacheContext, entry: Option<CacheEntry>) -> LayerResult {
        match entry {
            Some(entry) => {
                self.hit();
                ctx.hit(layer);
                LayerResult::Hit(entry)
            }
            None => {
                self.miss();
                ctx.miss(layer);
                LayerResult::Miss
            }
        }
    }

    /// An operation other than a get.
    pub fn operation(&self) {
        self.operations.fetch_add(1, Ordering::Relaxed);
    }

    /// A failed call.
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A dropped write.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A message sent.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A message received.
    pub fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// The statistics, with what the layer holds.
    pub fn snapshot(&self, entries: u64, bytes: u64) -> LayerStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (hits, misses) = (load(&self.hits), load(&self.misses));
        LayerStats {
            hits,
            misses,
            operations: load(&self.operations),
            errors: load(&self.errors),
            dropped: load(&self.dropped),
            messages_sent: load(&self.sent),
            messages_received: load(&self.received),
            entries,
            bytes,
            hit_ratio: if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
        }
    }
}
