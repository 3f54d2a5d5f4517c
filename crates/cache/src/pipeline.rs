//! The layers in priority order: a get stops at the first hit and promotes
//! the value into the layers above it; set and remove reach every layer.

use std::sync::Arc;

use proxima_core::Result;

use crate::{CacheContext, CacheEntry, CacheLayer, Health, LayerResult, LayerStats};

/// A stack of cache layers, fastest first.
#[derive(Debug, Default, Clone)]
pub struct Pipeline {
    layers: Vec<Arc<dyn CacheLayer>>,
}

impl Pipeline {
    /// The layers, fastest first.
    pub fn new(layers: Vec<Arc<dyn CacheLayer>>) -> Self {
        Self { layers }
    }

    /// Whether it has no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Arc<dyn CacheLayer>] {
        &self.layers
    }

    /// The first layer's value for `key`, promoted into the layers above the one
    /// that had it; `None` when every layer missed or one said to stop.
    pub async fn get(&self, key: &str, ctx: &mut CacheContext) -> Option<CacheEntry> {
        for (i, layer) in self.layers.iter().enumerate() {
            match layer.get(key, ctx).await {
                LayerResult::Hit(entry) => {
                    for upper in &self.layers[..i] {
                        if let Err(e) = upper.set(entry.clone()).await {
                            tracing::debug!(layer = upper.name(), error = %e, "cache promotion failed");
                        }
                    }
                    return Some(entry);
                }
                LayerResult::Miss | LayerResult::NotHandled => {}
                LayerResult::StopWithoutValue => return None,
            }
        }
        None
    }

    /// Stores `entry` in every layer. A layer's failure is its own to count: a
    /// cache write never fails a request.
    pub async fn set(&self, entry: CacheEntry) {
        for layer in &self.layers {
            if let Err(e) = layer.set(entry.clone()).await {
                tracing::debug!(layer = layer.name(), error = %e, "cache write failed");
            }
        }
    }

    /// Removes `key` from every layer; the first failure, after trying them all.
    pub async fn remove(&self, key: &str) -> Result<()> {
        let mut first = Ok(());
        for layer in &self.layers {
            if let Err(e) = layer.remove(key).await {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// Removes every entry tagged `tag` from every layer; returns the most any
    /// one layer removed, or the first failure after trying them all.
    pub async fn remove_tag(&self, tag: &str) -> Result<u64> {
        let (mut most, mut first) = (0, Ok(()));
        for layer in &self.layers {
            match layer.remove_tag(tag).await {
                Ok(n) => most = most.max(n),
                Err(e) => first = first.and(Err(e)),
            }
        }
        first.map(|_| most)
    }

    /// Empties every layer.
    pub async fn clear(&self) -> Result<()> {
        let mut first = Ok(());
        for layer in &self.layers {
            if let Err(e) = layer.clear().await {
                first = first.and(Err(e));
            }
        }
        first
    }

    /// Each layer's name and health.
    pub async fn health(&self) -> Vec<(String, Health)> {
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            out.push((layer.name().to_string(), layer.health().await));
        }
        out
    }

    /// Each layer's name and statistics.
    pub fn stats(&self) -> Vec<(String, LayerStats)> {
        self.layers.iter().map(|l| (l.name().to_string(), l.stats())).collect()
    }

    /// Starts every layer.
    pub async fn start(&self) -> Result<()> {
        for layer in &self.layers {
            layer.start().await?;
        }
        Ok(())
    }

    /// Shuts every layer down, slowest last; the first failure after trying them all.
    pub async fn shutdown(&self) -> Result<()> {
        let mut first = Ok(());
        for layer in &self.layers {
            if let Err(e) = layer.shutdown().await {
                first = first.and(Err(e));
            }
        }
        first
    }
}
