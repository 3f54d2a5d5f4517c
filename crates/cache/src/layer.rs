//! The contract every cache layer keeps.

use async_trait::async_trait;
use proxima_core::Result;
use serde::Serialize;

use crate::{CacheContext, CacheEntry, LayerStats};

/// What a layer's get found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerResult {
    /// The value: the pipeline stops here and promotes it upward.
    Hit(CacheEntry),
    /// Not here: the pipeline asks the next layer.
    Miss,
    /// This layer does not serve this key (e.g. it is down): the next one is asked.
    NotHandled,
    /// Stop the pipeline without a value: no layer below may answer (e.g. a
    /// collection whose invalidations cannot be proven delivered).
    StopWithoutValue,
}

/// How a layer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Working.
    Healthy,
    /// Answering misses or reconnecting; requests go on without it.
    Degraded,
    /// Not working at all.
    Down,
}

/// A layer's health, with what explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The state.
    pub state: HealthState,
    /// Why, when not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Health {
    /// Healthy, nothing to say.
    pub fn healthy() -> Self {
        Self { state: HealthState::Healthy, detail: None }
    }

    /// Degraded, because of `detail`.
    pub fn degraded(detail: impl Into<String>) -> Self {
        Self { state: HealthState::Degraded, detail: Some(detail.into()) }
    }

    /// Down, because of `detail`.
    pub fn down(detail: impl Into<String>) -> Self {
        Self { state: HealthState::Down, detail: Some(detail.into()) }
    }
}

/// One layer of the cache. Errors are the layer's to count: the pipeline
/// never fails a request because a cache layer did.
#[async_trait]
pub trait CacheLayer: Send + Sync + std::fmt::Debug {
    /// A short name for statistics and responses (`"l1"`, `"l2"`, …).
    fn name(&self) -> &str;

    /// Looks `key` up, noting a hit or a miss in `ctx`.
    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult;

    /// Stores an entry (replacing one under the same key).
    async fn set(&self, entry: CacheEntry) -> Result<()>;

    /// Removes one key.
    async fn remove(&self, key: &str) -> Result<()>;

    /// Removes every entry carrying `tag`; returns how many it removed.
    async fn remove_tag(&self, tag: &str) -> Result<u64>;

    /// Removes everything.
    async fn clear(&self) -> Result<()>;

    /// How the layer is doing.
    async fn health(&self) -> Health;

    /// Its counters.
    fn stats(&self) -> LayerStats;

    /// Starts background work (connections, workers).
    async fn start(&self) -> Result<()> {
        Ok(())
    }

    /// Stops background work, finishing what was accepted.
    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}
