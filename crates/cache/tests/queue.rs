//! The write queue in front of a slow layer: writes never wait, a full queue
//! drops and counts, a caller can await its write, shutdown drains, and a
//! queued write never brings back what an invalidation removed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use proxima_cache::{
    CacheContext, CacheEntry, CacheLayer, Health, LayerResult, LayerStats, MemoryConfig, MemoryLayer, WriteQueue,
};
use proxima_core::Result;

/// L1 behind a delay on every set: a stand-in for a slow remote layer.
#[derive(Debug)]
struct Slow(MemoryLayer, Duration);

#[async_trait]
impl CacheLayer for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult {
        self.0.get(key, ctx).await
    }
    async fn set(&self, entry: CacheEntry) -> Result<()> {
        tokio::time::sleep(self.1).await;
        self.0.set(entry).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        self.0.remove(key).await
    }
    async fn remove_tag(&self, tag: &str) -> Result<u64> {
        self.0.remove_tag(tag).await
    }
    async fn clear(&self) -> Result<()> {
        self.0.clear().await
    }
    async fn health(&self) -> Health {
        Health::healthy()
    }
    fn stats(&self) -> LayerStats {
        self.0.stats()
    }
}

fn slow(delay_ms: u64) -> Arc<Slow> {
    Arc::new(Slow(MemoryLayer::new(MemoryConfig::default()).unwrap(), Duration::from_millis(delay_ms)))
}

async fn present(layer: &dyn CacheLayer, key: &str) -> bool {
    matches!(layer.get(key, &mut CacheContext::new()).await, LayerResult::Hit(_))
}

#[tokio::test]
async fn a_full_queue_drops_writes_without_waiting_and_counts_them() {
    let queue = WriteQueue::new(slow(200), 2);
    let started = std::time::Instant::now();
    let refused = {
        let mut refused = 0;
        for i in 0..10 {
            if queue.set(CacheEntry::new(format!("k{i}"), &b"v"[..])).await.is_err() {
                refused += 1;
            }
        }
        refused
    };
    assert!(started.elapsed() < Duration::from_millis(150), "no write waited: {:?}", started.elapsed());
    // One taken by the worker, two queued: the rest dropped.
    assert!(refused >= 7, "{refused} refused");
    assert_eq!(queue.stats().dropped, refused);
}

#[tokio::test]
async fn a_caller_can_wait_for_its_write_and_shutdown_drains() {
    let inner = slow(20);
    let queue = WriteQueue::new(inner.clone(), 100);
    queue.set_and_wait(CacheEntry::new("waited", &b"v"[..])).await.unwrap();
    assert!(present(&*inner, "waited").await, "stored before set_and_wait returned");
    for i in 0..5 {
        queue.set(CacheEntry::new(format!("k{i}"), &b"v"[..])).await.unwrap();
    }
    queue.shutdown().await.unwrap();
    for i in 0..5 {
        assert!(present(&*inner, &format!("k{i}")).await, "k{i} stored by the drain");
    }
    assert!(queue.set(CacheEntry::new("late", &b"v"[..])).await.is_err(), "a shut queue takes nothing");
}

#[tokio::test]
async fn a_queued_write_never_outlives_a_later_invalidation() {
    let inner = slow(50);
    let queue = WriteQueue::new(inner.clone(), 100);
    // The first write is being stored while the others wait behind it.
    queue.set(CacheEntry::new("first", &b"v"[..]).with_tag("docs")).await.unwrap();
    queue.set(CacheEntry::new("tagged", &b"v"[..]).with_tag("docs")).await.unwrap();
    queue.set(CacheEntry::new("keyed", &b"v"[..])).await.unwrap();
    queue.set(CacheEntry::new("kept", &b"v"[..]).with_tag("books")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    queue.remove_tag("docs").await.unwrap();
    assert!(!present(&*inner, "first").await, "the write in progress finished before the invalidation");
    queue.remove("keyed").await.unwrap();
    queue.shutdown().await.unwrap();
    assert!(!present(&*inner, "tagged").await);
    assert!(!present(&*inner, "keyed").await);
    assert!(present(&*inner, "kept").await, "an unrelated write still lands");
}
