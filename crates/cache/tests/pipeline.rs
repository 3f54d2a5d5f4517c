//! The pipeline over real layers: order, promotion, stop-without-value, tags
//! reaching every layer, health and statistics per layer.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_cache::{
    CacheContext, CacheEntry, CacheLayer, DiskConfig, DiskLayer, Health, LayerResult, LayerStats, MemoryConfig,
    MemoryLayer, Pipeline,
};
use proxima_core::Result;

/// A layer that always says stop (as one that cannot prove its answers current would).
#[derive(Debug)]
struct Stop;

#[async_trait]
impl CacheLayer for Stop {
    fn name(&self) -> &str {
        "stop"
    }
    async fn get(&self, _: &str, _: &mut CacheContext) -> LayerResult {
        LayerResult::StopWithoutValue
    }
    async fn set(&self, _: CacheEntry) -> Result<()> {
        Ok(())
    }
    async fn remove(&self, _: &str) -> Result<()> {
        Ok(())
    }
    async fn remove_tag(&self, _: &str) -> Result<u64> {
        Ok(0)
    }
    async fn clear(&self) -> Result<()> {
        Ok(())
    }
    async fn health(&self) -> Health {
        Health::down("always stops")
    }
    fn stats(&self) -> LayerStats {
        LayerStats::default()
    }
}

async fn layers(dir: &std::path::Path) -> (Arc<MemoryLayer>, Arc<DiskLayer>) {
    let l1 = Arc::new(MemoryLayer::new(MemoryConfig::default()).unwrap());
    let l3 = Arc::new(DiskLayer::open(DiskConfig { dir: dir.to_path_buf(), max_bytes: 1 << 20 }).await.unwrap());
    (l1, l3)
}

#[tokio::test]
async fn a_hit_below_is_promoted_and_answers_from_above_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let (l1, l3) = layers(dir.path()).await;
    let pipeline = Pipeline::new(vec![l1.clone(), l3.clone()]);
    let entry = CacheEntry::new("docs/v7/q", &b"hits"[..]).with_tag("docs");
    l3.set(entry.clone()).await.unwrap();

    let mut ctx = CacheContext::new();
    assert_eq!(pipeline.get("docs/v7/q", &mut ctx).await, Some(entry.clone()));
    assert_eq!((ctx.answered_by(), ctx.missed()), (Some("l3"), vec!["l1"]));

    let mut ctx = CacheContext::new();
    assert_eq!(pipeline.get("docs/v7/q", &mut ctx).await, Some(entry));
    assert_eq!((ctx.answered_by(), ctx.missed()), (Some("l1"), vec![]), "promoted into L1");

    let mut ctx = CacheContext::new();
    assert_eq!(pipeline.get("absent", &mut ctx).await, None);
    assert_eq!(ctx.missed(), vec!["l1", "l3"]);
}

#[tokio::test]
async fn stop_without_value_ends_the_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let (l1, l3) = layers(dir.path()).await;
    l3.set(CacheEntry::new("k", &b"v"[..])).await.unwrap();
    let pipeline = Pipeline::new(vec![l1, Arc::new(Stop), l3.clone()]);
    let mut ctx = CacheContext::new();
    assert_eq!(pipeline.get("k", &mut ctx).await, None, "L3 holds it, but the stop comes first");
    assert_eq!(l3.stats().hits, 0, "L3 was never asked");
}

#[tokio::test]
async fn sets_tags_and_removes_reach_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (l1, l3) = layers(dir.path()).await;
    let pipeline = Pipeline::new(vec![l1.clone(), l3.clone()]);
    pipeline.set(CacheEntry::new("docs/1", &b"a"[..]).with_tag("docs")).await;
    pipeline.set(CacheEntry::new("docs/2", &b"b"[..]).with_tag("docs")).await;
    pipeline.set(CacheEntry::new("books/1", &b"c"[..]).with_tag("books")).await;
    assert_eq!(pipeline.remove_tag("docs").await.unwrap(), 2);
    pipeline.remove("books/1").await.unwrap();
    for layer in [l1 as Arc<dyn CacheLayer>, l3] {
        for key in ["docs/1", "docs/2", "books/1"] {
            assert_eq!(layer.get(key, &mut CacheContext::new()).await, LayerResult::Miss, "{} {key}", layer.name());
        }
    }
    let names: Vec<String> = pipeline.stats().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, vec!["l1", "l3"]);
    let health = pipeline.health().await;
    assert!(health.iter().all(|(_, h)| *h == Health::healthy()), "{health:?}");
}
