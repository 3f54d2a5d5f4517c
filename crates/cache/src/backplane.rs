//! The backplane: invalidations published on a Redis channel, so every
//! server instance sharing the channel evicts what another instance's write
//! made stale. An instance knows whether it is subscribed: while it is not
//! (Redis stopped, connection lost), it may have missed messages, so the
//! caller must not serve cached answers it cannot prove current; on every
//! (re)subscription the handler is told to drop everything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxima_core::{Error, Result};
use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;

use crate::{Counters, Health, LayerStats};
use proxima_core::url::redact_password;

/// Where the backplane runs.
#[derive(Clone, PartialEq, Eq)]
pub struct BackplaneConfig {
    /// `redis://…`.
    pub url: String,
    /// The pub/sub channel every instance shares.
    pub channel: String,
    /// This instance's id; its own messages are not applied twice.
    pub instance_id: String,
}

impl std::fmt::Debug for BackplaneConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackplaneConfig")
            .field("url", &redact_password(&self.url))
            .field("channel", &self.channel)
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

/// What an invalidation message says to drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Every entry carrying the tag.
    Tag(String),
    /// Everything (also what a (re)subscription tells the handler).
    All,
}

impl Invalidation {
    fn encode(&self, instance: &str) -> String {
        match self {
            Invalidation::Tag(tag) => format!("{instance}\ntag\n{tag}"),
            Invalidation::All => format!("{instance}\nall\n"),
        }
    }

    fn decode(message: &str) -> Option<(&str, Invalidation)> {
        let mut parts = message.splitn(3, '\n');
        let (from, kind, tag) = (parts.next()?, parts.next()?, parts.next()?);
        match kind {
            "tag" => Some((from, Invalidation::Tag(tag.to_string()))),
            "all" => Some((from, Invalidation::All)),
            _ => None,
        }
    }
}

/// What the backplane calls for each invalidation it receives.
pub type Handler = Arc<dyn Fn(Invalidation) + Send + Sync>;

/// One instance's end of the backplane.
pub struct Backplane {
    config: BackplaneConfig,
    client: redis::Client,
    publisher: tokio::sync::Mutex<Option<ConnectionManager>>,
    subscribed: Arc<AtomicBool>,
    listener: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane").field("config", &self.config).finish()
    }
}

const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);

impl Backplane {
    /// A backplane for `config`; nothing connects before [`Backplane::start`].
    pub fn new(config: BackplaneConfig) -> Result<Self> {
        if config.channel.is_empty() || config.instance_id.is_empty() {
            return Err(Error::invalid("cache.backplane channel and instance id must not be empty"));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| Error::invalid(format!("cache.redis_url `{}`: {e}", redact_password(&config.url))))?;
        Ok(Self {
            config,
            client,
            publisher: tokio::sync::Mutex::new(None),
            subscribed: Arc::new(AtomicBool::new(false)),
            listener: Mutex::new(None),
            counters: Arc::new(Counters::default()),
        })
    }

    /// Starts listening: `handler` gets every other instance's invalidation, and
    /// [`Invalidation::All`] at each (re)subscription. Reconnects by itself.
    pub fn start(&self, handler: Handler) {
        let (client, channel, me) = (self.client.clone(), self.config.channel.clone(), self.config.instance_id.clone());
        let (subscribed, counters) = (Arc::clone(&self.subscribed), Arc::clone(&self.counters));
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                match listen(&client, &channel, &me, &subscribed, &counters, &handler).await {
                    Ok(()) => backoff = Duration::from_millis(50),
                    Err(e) => {
                        counters.error();
                        tracing::debug!(error = %e, "backplane subscription failed");
                    }
                }
                subscribed.store(false, Ordering::SeqCst);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
        if let Some(old) = self.listener.lock().unwrap_or_else(|e| e.into_inner()).replace(task) {
            old.abort();
        }
    }

    /// Whether this instance is subscribed now (and so receives every invalidation).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::SeqCst)
    }

    /// Tells every other instance to drop what `invalidation` names.
    pub async fn publish(&self, invalidation: &Invalidation) -> Result<()> {
        let message = invalidation.encode(&self.config.instance_id);
        let sent = tokio::time::timeout(PUBLISH_TIMEOUT, async {
            let mut publisher = self.publisher.lock().await;
            if publisher.is_none() {
                *publisher = Some(self.client.get_connection_manager().await?);
            }
            let connection = publisher.as_mut().expect("set above");
            redis::cmd("PUBLISH").arg(&self.config.channel).arg(&message).query_async::<()>(connection).await
        })
        .await;
        match sent {
            Ok(Ok(())) => {
                self.counters.sent();
                Ok(())
            }
            Ok(Err(e)) => {
                self.counters.error();
                Err(Error::unavailable(format!("backplane publish: {e}")))
            }
            Err(_) => {
                self.counters.error();
                Err(Error::unavailable("backplane publish timed out"))
            }
        }
    }

    /// Healthy while subscribed.
    pub fn health(&self) -> Health {
        if self.is_subscribed() { Health::healthy() } else { Health::degraded("not subscribed to the backplane") }
    }

    /// Messages sent and received, and errors.
    pub fn stats(&self) -> LayerStats {
        self.counters.snapshot(0, 0)
    }

    /// Stops listening.
    pub fn shutdown(&self) {
        if let Some(task) = self.listener.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
        self.subscribed.store(false, Ordering::SeqCst);
    }
}

impl Drop for Backplane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One subscription, until its connection ends.
async fn listen(
    client: &redis::Client,
    channel: &str,
    me: &str,
    subscribed: &AtomicBool,
    counters: &Counters,
    handler: &Handler,
) -> std::result::Result<(), redis::RedisError> {
    use futures_util::StreamExt;

    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    // Whatever was published while we were not subscribed is lost: drop everything first.
    handler(Invalidation::All);
    subscribed.store(true, Ordering::SeqCst);
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) else { continue };
        match Invalidation::decode(text) {
            Some((from, invalidation)) if from != me => {
                counters.received();
                handler(invalidation);
            }
            Some(_) => {}
            None => counters.error(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_junk_is_refused() {
        for inv in [Invalidation::Tag("docs".into()), Invalidation::Tag("a\nb".into()), Invalidation::All] {
            assert_eq!(Invalidation::decode(&inv.encode("node-1")), Some(("node-1", inv.clone())));
        }
        assert_eq!(Invalidation::decode("node-1\nexplode\n"), None);
        assert_eq!(Invalidation::decode("garbage"), None);
    }
}
