//! L1: entries in this process, bounded by bytes, with time-to-live and
//! time-to-idle. `moka` does the bounding and expiry (a maintained concurrent
//! cache with a TinyLFU admission policy); a [`TagIndex`] beside it
//! invalidates a tag in O(its keys).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use proxima_core::{Error, Result};

use crate::{CacheContext, CacheEntry, CacheLayer, Counters, Health, LayerResult, LayerStats, TagIndex, now_unix_ms};

/// L1's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Most bytes of entries held (keys, values and tags).
    pub max_bytes: u64,
    /// An entry goes this long after it was stored.
    pub time_to_live: Duration,
    /// An entry goes this long after it was last read.
    pub time_to_idle: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { max_bytes: 256 << 20, time_to_live: Duration::from_secs(300), time_to_idle: Duration::from_secs(60) }
    }
}

impl MemoryConfig {
    /// Refuses limits that would make the layer useless or overflow.
    pub fn validate(&self) -> Result<()> {
        if self.max_bytes == 0 {
            return Err(Error::invalid("cache.l1_max_bytes must be more than 0"));
        }
        for (name, d) in [("cache.l1_ttl_seconds", self.time_to_live), ("cache.l1_tti_seconds", self.time_to_idle)] {
            if d.is_zero() || d > Duration::from_secs(365 * 24 * 3600) {
                return Err(Error::invalid(format!("{name} must be between 1 second and a year")));
            }
        }
        Ok(())
    }
}

/// The in-process layer.
#[derive(Debug)]
pub struct MemoryLayer {
    /// Each value with the generation its tags were indexed under.
    entries: moka::sync::Cache<String, (u64, Arc<CacheEntry>)>,
    tags: Arc<TagIndex>,
    counters: Counters,
}

impl MemoryLayer {
    /// An empty L1 (the config is checked with [`MemoryConfig::validate`]).
    pub fn new(config: MemoryConfig) -> Result<Self> {
        config.validate()?;
        let tags = Arc::new(TagIndex::default());
        let forget = Arc::clone(&tags);
        let entries = moka::sync::Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_, (_, e): &(u64, Arc<CacheEntry>)| u32::try_from(e.weight()).unwrap_or(u32::MAX))
            .time_to_live(config.time_to_live)
            .time_to_idle(config.time_to_idle)
            .eviction_listener(move |key: Arc<String>, (generation, _): (u64, Arc<CacheEntry>), _| {
                forget.remove_generation(&key, generation)
            })
            .build();
        Ok(Self { entries, tags, counters: Counters::default() })
    }
}

#[async_trait]
impl CacheLayer for MemoryLayer {
    fn name(&self) -> &str {
        "l1"
    }

    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult {
        let found = self.entries.get(key).map(|(_, entry)| entry);
        let live = found.as_ref().filter(|e| !e.expired(now_unix_ms())).map(|e| (**e).clone());
        if found.is_some() && live.is_none() {
            self.entries.invalidate(key);
        }
        self.counters.found(self.name(), ctx, live)
    }

    async fn set(&self, entry: CacheEntry) -> Result<()> {
        self.counters.operation();
        let generation = self.tags.insert(&entry.key, &entry.tags);
        self.entries.insert(entry.key.clone(), (generation, Arc::new(entry)));
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.counters.operation();
        self.entries.invalidate(key);
        self.tags.remove_key(key);
        Ok(())
    }

    async fn remove_tag(&self, tag: &str) -> Result<u64> {
        self.counters.operation();
        let keys = self.tags.take_tag(tag);
        for key in &keys {
            self.entries.invalidate(key);
        }
        Ok(keys.len() as u64)
    }

    async fn clear(&self) -> Result<()> {
        self.counters.operation();
        self.entries.invalidate_all();
        self.tags.clear();
        Ok(())
    }

    async fn health(&self) -> Health {
        Health::healthy()
    }

    fn stats(&self) -> LayerStats {
        self.entries.run_pending_tasks();
        self.counters.snapshot(self.entries.entry_count(), self.entries.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l1(max_bytes: u64) -> MemoryLayer {
        MemoryLayer::new(MemoryConfig { max_bytes, ..MemoryConfig::default() }).unwrap()
    }

    async fn get(layer: &MemoryLayer, key: &str) -> LayerResult {
        layer.get(key, &mut CacheContext::new()).await
    }

    #[tokio::test]
    async fn stores_answers_and_removes_by_key_and_tag() {
        let layer = l1(1 << 20);
        layer.set(CacheEntry::new("a", &b"1"[..]).with_tag("docs")).await.unwrap();
        layer.set(CacheEntry::new("b", &b"2"[..]).with_tag("docs")).await.unwrap();
        layer.set(CacheEntry::new("c", &b"3"[..]).with_tag("books")).await.unwrap();
        assert_eq!(get(&layer, "a").await, LayerResult::Hit(CacheEntry::new("a", &b"1"[..]).with_tag("docs")));
        assert_eq!(layer.remove_tag("docs").await.unwrap(), 2);
        assert_eq!(get(&layer, "b").await, LayerResult::Miss);
        layer.remove("c").await.unwrap();
        assert_eq!(get(&layer, "c").await, LayerResult::Miss);
        let stats = layer.stats();
        assert_eq!((stats.hits, stats.misses), (1, 2));
        assert!((stats.hit_ratio - 1.0 / 3.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn an_expired_entry_is_a_miss() {
        let layer = l1(1 << 20);
        layer.set(CacheEntry::new("a", &b"1"[..]).expiring_at(now_unix_ms() - 1)).await.unwrap();
        assert_eq!(get(&layer, "a").await, LayerResult::Miss);
    }

    #[tokio::test]
    async fn holds_no_more_bytes_than_its_bound() {
        let layer = l1(64 << 10);
        for i in 0..1_000 {
            layer.set(CacheEntry::new(format!("k{i}"), vec![0u8; 1_000]).with_tag("t")).await.unwrap();
        }
        let stats = layer.stats();
        assert!(stats.bytes <= 64 << 10, "{stats:?}");
        assert!(stats.entries < 100, "{stats:?}");
        // Evicted keys leave the tag index with them.
        assert!(layer.tags.len() as u64 <= stats.entries + 1, "{} tagged keys", layer.tags.len());
    }

    #[test]
    fn bad_limits_are_refused_by_name() {
        let zero = MemoryConfig { max_bytes: 0, ..MemoryConfig::default() };
        assert!(MemoryLayer::new(zero).unwrap_err().to_string().contains("l1_max_bytes"));
        let idle = MemoryConfig { time_to_idle: Duration::ZERO, ..MemoryConfig::default() };
        assert!(MemoryLayer::new(idle).unwrap_err().to_string().contains("l1_tti_seconds"));
    }
}
