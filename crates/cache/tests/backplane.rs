//! The backplane between two instances on a real Redis: one's invalidation
//! reaches the other within a second and not itself; a lost subscription is
//! known, and a new one tells the handler to drop everything.

#![cfg(feature = "redis")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proxima_cache::{Backplane, BackplaneConfig, Invalidation};
use proxima_tests::redis::RedisProcess;
use proxima_tests::{service_url, service_var};

type Seen = Arc<Mutex<Vec<Invalidation>>>;

fn instance(url: &str, channel: &str, id: &str) -> (Backplane, Seen) {
    let config = BackplaneConfig { url: url.to_string(), channel: channel.to_string(), instance_id: id.to_string() };
    let backplane = Backplane::new(config).unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    backplane.start(Arc::new(move |inv| log.lock().unwrap().push(inv)));
    (backplane, seen)
}

async fn until(what: &str, within: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_reaches_the_other_instance_within_a_second() {
    let Some(url) = service_url("REDIS") else { return };
    let channel = format!("test-backplane-{}", std::process::id());
    let (a, seen_a) = instance(&url, &channel, "a");
    let (b, seen_b) = instance(&url, &channel, "b");
    until("both subscribed", Duration::from_secs(5), || a.is_subscribed() && b.is_subscribed()).await;
    seen_a.lock().unwrap().clear();
    seen_b.lock().unwrap().clear();

    let sent = Instant::now();
    a.publish(&Invalidation::Tag("docs".into())).await.unwrap();
    until("b hears a", Duration::from_secs(1), || seen_b.lock().unwrap().contains(&Invalidation::Tag("docs".into())))
        .await;
    assert!(sent.elapsed() < Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(seen_a.lock().unwrap().is_empty(), "an instance does not hear itself");
    assert_eq!((a.stats().messages_sent, b.stats().messages_received), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_is_known_and_a_new_one_drops_everything() {
    let Some(binary) = service_var("PROXIMA_TEST_REDIS_SERVER") else { return };
    let mut server = RedisProcess::start(&binary);
    let (backplane, seen) = instance(&server.url(), "invalidations", "a");
    until("subscribed", Duration::from_secs(5), || backplane.is_subscribed()).await;
    assert_eq!(seen.lock().unwrap().as_slice(), &[Invalidation::All], "the first subscription drops everything");

    server.stop();
    until("the loss is noticed", Duration::from_secs(5), || !backplane.is_subscribed()).await;
    assert!(backplane.publish(&Invalidation::All).await.is_err(), "publishing to a stopped Redis fails");

    server.resume();
    until("subscribed again", Duration::from_secs(10), || backplane.is_subscribed()).await;
    assert_eq!(seen.lock().unwrap().len(), 2, "the new subscription dropped everything again");
}
