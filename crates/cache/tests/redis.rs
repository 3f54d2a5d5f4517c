//! L2 against a real Redis: entries, tags, damaged values, and a Redis that
//! stops mid-test and comes back (a private `redis-server` this test kills and
//! restarts): misses with no error meanwhile, health degraded, reconnection
//! by itself.

#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use proxima_cache::{CacheContext, CacheEntry, CacheLayer, HealthState, LayerResult, RedisConfig, RedisLayer};
use proxima_tests::redis::RedisProcess;
use proxima_tests::{service_url, service_var};

fn unique_prefix() -> String {
    format!(
        "test-{}-{}:",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

async fn get(layer: &RedisLayer, key: &str) -> LayerResult {
    layer.get(key, &mut CacheContext::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_tags_and_clear_on_a_real_redis() {
    let Some(url) = service_url("REDIS") else { return };
    let layer = RedisLayer::new(RedisConfig { prefix: unique_prefix(), ..RedisConfig::new(url) }).unwrap();
    let entry = CacheEntry::new("docs/v1/q", &b"answer"[..]).with_tag("docs");
    layer.set(entry.clone()).await.unwrap();
    layer.set(CacheEntry::new("docs/v1/r", &b"other"[..]).with_tag("docs")).await.unwrap();
    layer.set(CacheEntry::new("books/v1/q", &b"kept"[..]).with_tag("books")).await.unwrap();
    assert_eq!(get(&layer, "docs/v1/q").await, LayerResult::Hit(entry));
    assert_eq!(layer.remove_tag("docs").await.unwrap(), 2);
    assert_eq!(get(&layer, "docs/v1/q").await, LayerResult::Miss);
    assert!(matches!(get(&layer, "books/v1/q").await, LayerResult::Hit(_)));
    layer.remove("books/v1/q").await.unwrap();
    assert_eq!(get(&layer, "books/v1/q").await, LayerResult::Miss);
    layer.set(CacheEntry::new("x", &b"1"[..])).await.unwrap();
    layer.clear().await.unwrap();
    assert_eq!(get(&layer, "x").await, LayerResult::Miss);
    assert_eq!(layer.health().await.state, HealthState::Healthy);
    let stats = layer.stats();
    assert_eq!((stats.hits, stats.errors), (2, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_value_is_a_counted_miss() {
    let Some(url) = service_url("REDIS") else { return };
    let prefix = unique_prefix();
    let layer = RedisLayer::new(RedisConfig { prefix: prefix.clone(), ..RedisConfig::new(url.clone()) }).unwrap();
    layer.set(CacheEntry::new("k", &b"value"[..])).await.unwrap();
    // Overwrite the stored bytes behind the layer's back.
    let client = redis::Client::open(url).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET").arg(format!("{prefix}k:k")).arg("PXC1 garbage").query_async::<()>(&mut raw).await.unwrap();
    assert_eq!(get(&layer, "k").await, LayerResult::Miss);
    assert_eq!(layer.stats().errors, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_is_a_quick_miss_and_the_layer_comes_back_by_itself() {
    let Some(binary) = service_var("PROXIMA_TEST_REDIS_SERVER") else { return };
    let mut server = RedisProcess::start(&binary);
    let layer = RedisLayer::new(RedisConfig::new(server.url())).unwrap();
    // The first calls also connect, which a busy machine may not do within the call timeout.
    let mut stored = layer.set(CacheEntry::new("k", &b"v"[..])).await;
    for _ in 0..20 {
        if stored.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stored = layer.set(CacheEntry::new("k", &b"v"[..])).await;
    }
    stored.unwrap();
    assert!(matches!(get(&layer, "k").await, LayerResult::Hit(_)));

    server.stop();
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(get(&layer, "k").await, LayerResult::NotHandled, "a miss, not an error");
        assert!(layer.set(CacheEntry::new("k2", &b"v"[..])).await.is_err());
    }
    assert!(started.elapsed() < Duration::from_secs(3), "each call bounded by the timeout: {:?}", started.elapsed());
    assert_eq!(layer.health().await.state, HealthState::Degraded);

    server.resume();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if layer.set(CacheEntry::new("back", &b"v"[..])).await.is_ok()
            && matches!(get(&layer, "back").await, LayerResult::Hit(_))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the layer did not reconnect within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(layer.stats().errors > 0);
}
