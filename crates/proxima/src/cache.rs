//! Cached answers (searches, reads by id, query estimates) through the
//! `proxima-cache` pipeline, and the rule that keeps them safe.
//!
//! A key holds the collection, a version of its data and the normalised
//! request. Where every engine holding the collection names its data durably
//! ([`proxima_engine::DataVersion`]: a lineage chosen when the data was
//! created, the version of its files, the last operation applied), that is
//! the version: read from the engine before the answer is computed, equal on
//! every node and across restarts for the same data, so entries in L2 and L3
//! are shared, and moved on by any write before it is acknowledged. Elsewhere
//! the version is the collection's generation in this process, moved on by
//! every change the invalidation layer sees (`layers/invalidation.rs`) and by
//! every invalidation another instance publishes on the backplane, with the
//! process's incarnation beside it, so entries an earlier process left in L2
//! or L3 are never read as current.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use proxima_cache::{CacheContext, CacheEntry, CacheLayer, Health, LayerStats, MemoryConfig, MemoryLayer, Pipeline};
use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// How a request uses the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Answer from the cache when it can, else compute and store.
    #[default]
    Use,
    /// Compute, neither reading nor storing.
    Bypass,
    /// Answer from the cache alone; a miss is said, not computed.
    Only,
}

/// The cache's settings (the server's `[cache]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether answers are cached at all.
    pub enabled: bool,
    /// L1's bound in bytes.
    pub l1_max_bytes: u64,
    /// Seconds an L1 entry lives after it was stored.
    pub l1_ttl_seconds: u64,
    /// Seconds an L1 entry lives after it was last read.
    pub l1_tti_seconds: u64,
    /// L3's directory (`DATA_DIR/cache` when unset and `l3_max_bytes` is set).
    pub l3_path: Option<std::path::PathBuf>,
    /// L3's bound in bytes; L3 is off when 0.
    pub l3_max_bytes: u64,
    /// Redis for L2 (and the backplane); L2 is off when unset.
    pub redis_url: Option<String>,
    /// Whether invalidations go to, and come from, other instances over Redis.
    pub backplane: bool,
    /// Writes queued for L2 and L3 before further ones are dropped.
    pub write_queue: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let l1 = MemoryConfig::default();
        Self {
            enabled: true,
            l1_max_bytes: l1.max_bytes,
            l1_ttl_seconds: l1.time_to_live.as_secs(),
            l1_tti_seconds: l1.time_to_idle.as_secs(),
            l3_path: None,
            l3_max_bytes: 0,
            redis_url: None,
            backplane: false,
            write_queue: 1_024,
        }
    }
}

impl CacheConfig {
    fn memory(&self) -> MemoryConfig {
        MemoryConfig {
            max_bytes: self.l1_max_bytes,
            time_to_live: Duration::from_secs(self.l1_ttl_seconds),
            time_to_idle: Duration::from_secs(self.l1_tti_seconds),
        }
    }

    /// Refuses settings that cannot work, naming the setting.
    pub fn validate(&self) -> Result<()> {
        self.memory().validate()?;
        if self.write_queue == 0 {
            return Err(Error::invalid("cache.write_queue must be more than 0"));
        }
        if self.backplane && self.redis_url.is_none() {
            return Err(Error::invalid("cache.backplane needs cache.redis_url"));
        }
        if self.redis_url.is_some() && !cfg!(feature = "cache-redis") {
            return Err(Error::unsupported("cache.redis_url needs a build with the `cache-redis` feature"));
        }
        Ok(())
    }
}

/// One layer's name, health and statistics.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LayerReport {
    /// `l1`, `l2`, `l3` or `backplane`.
    pub layer: String,
    /// `healthy`, `degraded` or `down`.
    pub state: String,
    /// Why, when not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Gets answered.
    pub hits: u64,
    /// Gets not answered.
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
    /// Calls that failed.
    pub errors: u64,
    /// Writes dropped by a full queue.
    pub dropped: u64,
    /// Entries held, where known.
    pub entries: u64,
    /// Bytes held, where known.
    pub bytes: u64,
    /// Backplane messages sent.
    pub messages_sent: u64,
    /// Backplane messages received.
    pub messages_received: u64,
}

fn report(layer: String, health: Health, stats: LayerStats) -> LayerReport {
    let state = serde_json::to_value(health.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    LayerReport {
        layer,
        state,
        detail: health.detail,
        hits: stats.hits,
        misses: stats.misses,
        hit_ratio: stats.hit_ratio,
        errors: stats.errors,
        dropped: stats.dropped,
        entries: stats.entries,
        bytes: stats.bytes,
        messages_sent: stats.messages_sent,
        messages_received: stats.messages_received,
    }
}

/// Which layer answered a request, and which missed before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CacheOutcome {
    /// The layer that answered (`None`: computed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// Layers that missed, in order.
    pub missed: Vec<String>,
    /// Microseconds from the lookup to a decoded answer, when a layer answered
    /// (the server's own time for a cached answer).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lookup_us: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where a computed answer goes: the key as of before it was computed.
#[derive(Debug)]
pub(crate) struct Ticket {
    key: String,
    /// Tags every entry of the collection, whichever process stored it.
    collection: String,
    /// The collection and this process's generation the answer belongs to ([`entries_of`]).
    generation: String,
}

/// The tag of a collection's entries of one generation of this process: a
/// cleanup after an invalidation removes the older generations' entries,
/// never an answer stored meanwhile under the new one, nor one another
/// process sharing L2 or L3 stored under its own generations.
fn entries_of(collection: &str, incarnation: u64, generation: u64) -> String {
    format!("{collection}\u{1f}{incarnation:x}.{generation}")
}

/// The cache of answers, shared by `Proxima` and its invalidation layer.
#[derive(Debug)]
pub(crate) struct ResultCache {
    pipeline: Pipeline,
    enabled: bool,
    /// Each collection's generation; a missing one is 0.
    generations: Mutex<HashMap<String, u64>>,
    /// Each collection's oldest generation whose entries no cleanup removed yet.
    uncleaned: Mutex<HashMap<String, u64>>,
    /// Moves on when every collection's answers are dropped at once.
    epoch: AtomicU64,
    incarnation: u64,
    #[cfg(feature = "cache-redis")]
    backplane: Option<Arc<proxima_cache::Backplane>>,
    /// Told the collection of each invalidation another instance published.
    #[cfg_attr(not(feature = "cache-redis"), allow(dead_code))]
    remote_changes: Listeners,
}

/// Callbacks told a collection's name.
#[derive(Default)]
struct Listeners(Mutex<Vec<proxima_engine::ChangeListener>>);

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().unwrap_or_else(|e| e.into_inner()).len();
        f.debug_tuple("Listeners").field(&count).finish()
    }
}

impl ResultCache {
    /// A cache that stores nothing.
    pub(crate) fn disabled() -> Self {
        Self::with(Pipeline::default(), false)
    }

    fn with(pipeline: Pipeline, enabled: bool) -> Self {
        let incarnation = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
            as u64
            ^ u64::from(std::process::id()) << 32;
        Self {
            pipeline,
            enabled,
            generations: Mutex::default(),
            uncleaned: Mutex::default(),
            epoch: AtomicU64::new(0),
            incarnation,
            #[cfg(feature = "cache-redis")]
            backplane: None,
            remote_changes: Listeners::default(),
        }
    }

    /// The layers `config` names, started.
    pub(crate) async fn open(config: &CacheConfig, data_dir: &std::path::Path) -> Result<Arc<Self>> {
        config.validate()?;
        if !config.enabled {
            return Ok(Arc::new(Self::disabled()));
        }
        let mut layers: Vec<Arc<dyn CacheLayer>> = vec![Arc::new(MemoryLayer::new(config.memory())?)];
        #[cfg(feature = "cache-redis")]
        if let Some(url) = &config.redis_url {
            let l2 = Arc::new(proxima_cache::RedisLayer::new(proxima_cache::RedisConfig::new(url.clone()))?);
            layers.push(Arc::new(proxima_cache::WriteQueue::new(l2, config.write_queue)));
        }
        if config.l3_max_bytes > 0 {
            let dir = config.l3_path.clone().unwrap_or_else(|| data_dir.join("cache"));
            let l3 = Arc::new(
                proxima_cache::DiskLayer::open(proxima_cache::DiskConfig { dir, max_bytes: config.l3_max_bytes })
                    .await?,
            );
            layers.push(Arc::new(proxima_cache::WriteQueue::new(l3, config.write_queue)));
        }
        let pipeline = Pipeline::new(layers);
        pipeline.start().await?;
        #[cfg_attr(not(feature = "cache-redis"), allow(unused_mut))]
        let mut cache = Self::with(pipeline, true);
        #[cfg(feature = "cache-redis")]
        if config.backplane {
            let url = config.redis_url.clone().unwrap_or_default();
            let instance_id = format!("{:x}", cache.incarnation);
            let settings =
                proxima_cache::BackplaneConfig { url, channel: "proximadb:invalidations".into(), instance_id };
            cache.backplane = Some(Arc::new(proxima_cache::Backplane::new(settings)?));
        }
        let cache = Arc::new(cache);
        #[cfg(feature = "cache-redis")]
        if let Some(backplane) = &cache.backplane {
            let weak = Arc::downgrade(&cache);
            backplane.start(Arc::new(move |invalidation| {
                if let Some(cache) = weak.upgrade() {
                    cache.invalidated_elsewhere(invalidation);
                }
            }));
        }
        Ok(cache)
    }

    /// Whether answers may come from the cache now: it is on, and, with a
    /// backplane, subscribed (else another instance's invalidation may have
    /// been missed).
    fn usable(&self) -> bool {
        #[cfg(feature = "cache-redis")]
        if let Some(backplane) = &self.backplane {
            return self.enabled && backplane.is_subscribed();
        }
        self.enabled
    }

    fn generation(&self, collection: &str) -> u64 {
        self.generations.lock().unwrap_or_else(|e| e.into_inner()).get(collection).copied().unwrap_or(0)
    }

    /// Moves `collection` to its next generation; returns it.
    fn bump(&self, collection: &str) -> u64 {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        let generation = generations.entry(collection.to_string()).or_default();
        *generation += 1;
        *generation
    }

    #[cfg(feature = "cache-redis")]
    fn invalidated_elsewhere(&self, invalidation: proxima_cache::Invalidation) {
        match invalidation {
            proxima_cache::Invalidation::Tag(collection) => {
                self.bump(&collection);
                let listeners = self.remote_changes.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
                for listener in listeners {
                    listener(&collection);
                }
            }
            proxima_cache::Invalidation::All => {
                self.epoch.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Whether a request in `mode` would be looked up now.
    pub(crate) fn consulted(&self, mode: CacheMode) -> bool {
        mode != CacheMode::Bypass && self.usable()
    }

    /// Looks an answer up, under `version` (the collection's data versions,
    /// read before the answer is computed) when the engines named it. `Err(ticket)`
    /// when it must be computed (the ticket says where to store it);
    /// `Ok(None)` when the cache must not be used.
    pub(crate) async fn lookup(
        &self,
        (collection, version): (&str, Option<&str>),
        kind: &str,
        request: &impl Serialize,
        mode: CacheMode,
        outcome: &mut CacheOutcome,
    ) -> std::result::Result<Option<Bytes>, Option<Ticket>> {
        if !self.consulted(mode) {
            return Err(None);
        }
        let body = serde_json::to_string(request).map_err(|_| None)?;
        // Versions are read before the answer is computed: a change after
        // this point moves them on, and the answer is stored where no one looks.
        let generation = self.generation(collection);
        let key = match version {
            Some(version) => format!("{collection}\u{1f}@{version}\u{1f}{kind}\u{1f}{body}"),
            None => format!(
                "{collection}\u{1f}{:x}.{}.{generation}\u{1f}{kind}\u{1f}{body}",
                self.incarnation,
                self.epoch.load(Ordering::SeqCst),
            ),
        };
        let mut ctx = CacheContext::new().with_tag(collection);
        let found = self.pipeline.get(&key, &mut ctx).await;
        outcome.answered_by = ctx.answered_by().map(String::from);
        outcome.missed = ctx.missed().into_iter().map(String::from).collect();
        match found {
            Some(entry) => Ok(Some(entry.value)),
            None => Err(Some(Ticket {
                key,
                collection: collection.to_string(),
                generation: entries_of(collection, self.incarnation, generation),
            })),
        }
    }

    /// Stores a computed answer, valid until unix milliseconds `expires_at_ms`.
    pub(crate) async fn store(&self, ticket: Ticket, value: Bytes, expires_at_ms: Option<u64>) {
        let mut entry = CacheEntry::new(ticket.key, value).with_tag(ticket.generation).with_tag(ticket.collection);
        entry.expires_at_ms = expires_at_ms;
        self.pipeline.set(entry).await;
    }

    /// Makes every cached answer of `collection` unreachable here, and tells
    /// the other instances.
    pub(crate) async fn invalidate(&self, collection: &str) {
        if !self.enabled {
            return;
        }
        self.forget(collection);
        #[cfg(feature = "cache-redis")]
        if let Some(backplane) = &self.backplane
            && let Err(e) = backplane.publish(&proxima_cache::Invalidation::Tag(collection.to_string())).await
        {
            tracing::warn!(collection, error = %e, "could not publish a cache invalidation");
        }
    }

    /// Removes every entry of `collection` from every layer, whichever process
    /// stored it, and tells the other instances to move on.
    pub(crate) async fn purge(&self, collection: &str) {
        if !self.enabled {
            return;
        }
        self.invalidate(collection).await;
        // A layer that is down keeps its entries: they are keyed by versions
        // that only move on, so none of them can answer for newer data.
        if let Err(e) = self.pipeline.remove_tag(collection).await {
            tracing::warn!(collection, error = %e, "a cache purge reached not every layer");
        }
    }

    /// Calls `listener` with the collection of each invalidation another
    /// instance publishes on the backplane (a change it made there).
    pub(crate) fn on_remote_change(&self, listener: proxima_engine::ChangeListener) {
        self.remote_changes.0.lock().unwrap_or_else(|e| e.into_inner()).push(listener);
    }

    /// Makes every cached answer of `collection` unreachable here only: a
    /// change every instance sees for itself (a cluster node applying what
    /// the collection's writer stored).
    pub(crate) fn forget(&self, collection: &str) {
        if !self.enabled {
            return;
        }
        // The new generation is what makes the old answers unreachable, at once.
        let now = self.bump(collection);
        let older = {
            let mut uncleaned = self.uncleaned.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(uncleaned.entry(collection.to_string()).or_default(), now)
        };
        // Removing them from the layers only frees their room: it runs beside
        // the write (L2 is a network round trip), not in front of its answer.
        let (pipeline, collection, incarnation) = (self.pipeline.clone(), collection.to_string(), self.incarnation);
        tokio::spawn(async move {
            for generation in older..now {
                if let Err(e) = pipeline.remove_tag(&entries_of(&collection, incarnation, generation)).await {
                    tracing::debug!(%collection, error = %e, "cache cleanup reached not every layer");
                }
            }
        });
    }

    /// Each layer's health and statistics.
    pub(crate) async fn report(&self) -> Vec<LayerReport> {
        let stats = self.pipeline.stats();
        let health = self.pipeline.health().await;
        #[cfg_attr(not(feature = "cache-redis"), allow(unused_mut))]
        let mut out: Vec<LayerReport> =
            health.into_iter().zip(stats).map(|((name, h), (_, s))| report(name, h, s)).collect();
        #[cfg(feature = "cache-redis")]
        if let Some(backplane) = &self.backplane {
            out.push(report("backplane".into(), backplane.health(), backplane.stats()));
        }
        out
    }

    /// Stops the layers' background work, storing what is queued.
    pub(crate) async fn shutdown(&self) -> Result<()> {
        #[cfg(feature = "cache-redis")]
        if let Some(backplane) = &self.backplane {
            backplane.shutdown();
        }
        self.pipeline.shutdown().await
    }
}
