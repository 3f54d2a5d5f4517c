//! What a cache holds: a value under a key, with tags and an expiry.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// One cached value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The key, unique in the cache.
    pub key: String,
    /// The value, opaque to the cache.
    pub value: Bytes,
    /// Tags that invalidate the entry with others (e.g. its collection).
    pub tags: Vec<String>,
    /// Unix milliseconds after which the entry is never returned; `None`: only
    /// the layers' own limits apply. Absolute, so every layer and instance agrees.
    pub expires_at_ms: Option<u64>,
}

impl CacheEntry {
    /// An entry without tags or expiry.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self { key: key.into(), value: value.into(), tags: Vec::new(), expires_at_ms: None }
    }

    /// The entry with `tag` added.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// The entry expiring at unix milliseconds `at`.
    pub fn expiring_at(mut self, at_ms: u64) -> Self {
        self.expires_at_ms = Some(at_ms);
        self
    }

    /// Whether it has expired at unix milliseconds `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Bytes it takes, roughly: what byte-bounded layers count.
    pub fn weight(&self) -> u64 {
        (self.key.len() + self.value.len() + self.tags.iter().map(String::len).sum::<usize>() + 48) as u64
    }
}

/// Unix time in milliseconds.
pub fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
