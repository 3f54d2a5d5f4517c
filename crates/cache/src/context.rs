//! What travels with one cache operation through the pipeline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What one layer did with a get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It answered.
    Hit,
    /// It had nothing.
    Miss,
}

/// One operation's context: its id, when it started, its tags, and which
/// layers hit or missed, in order.
#[derive(Debug, Clone)]
pub struct CacheContext {
    /// Unique in this process.
    pub operation_id: u64,
    /// When the operation started.
    pub started: Instant,
    /// The operation's tags (e.g. its collection).
    pub tags: Vec<String>,
    outcomes: Vec<(String, Outcome)>,
}

impl Default for CacheContext {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheContext {
    /// A new operation.
    pub fn new() -> Self {
        Self {
            operation_id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            started: Instant::now(),
            tags: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// The operation with `tag` added.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Time since the operation started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes that `layer` answered.
    pub fn hit(&mut self, layer: &str) {
        self.outcomes.push((layer.to_string(), Outcome::Hit));
    }

    /// Notes that `layer` had nothing.
    pub fn miss(&mut self, layer: &str) {
        self.outcomes.push((layer.to_string(), Outcome::Miss));
    }

    /// The layer that answered, if one did.
    pub fn answered_by(&self) -> Option<&str> {
        self.outcomes.iter().find(|(_, o)| *o == Outcome::Hit).map(|(l, _)| l.as_str())
    }

    /// The layers that missed, in order.
    pub fn missed(&self) -> Vec<&str> {
        self.outcomes.iter().filter(|(_, o)| *o == Outcome::Miss).map(|(l, _)| l.as_str()).collect()
    }
}
