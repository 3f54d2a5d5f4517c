//! L2: entries in Redis, shared by every server instance that points at it.
//! Calls go through a connection manager (which reconnects by itself), at
//! most `max_in_flight` at once, each within `timeout`: a slow or stopped
//! Redis costs a request at most that long and answers as a miss, never an
//! error. Each tag is a Redis set of its keys, so a tag is invalidated by one
//! script call in O(its keys).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use proxima_core::url::redact_password;
use proxima_core::{Error, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Semaphore;

use crate::codec::{decode, encode};
use crate::{CacheContext, CacheEntry, CacheLayer, Counters, Health, LayerResult, LayerStats, now_unix_ms};

/// Deletes a tag's keys and the tag's set, atomically.
const REMOVE_TAG: &str = "local keys = redis.call('SMEMBERS', KEYS[1]) \
    for i = 1, #keys do redis.call('DEL', keys[i]) end \
    redis.call('DEL', KEYS[1]) return #keys";

/// How a failure is remembered for health: this long after it, the layer is healthy again.
const DEGRADED_FOR: Duration = Duration::from_secs(5);

/// Where L2 is and how it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prepended to every key, so several deployments can share a server.
    pub prefix: String,
    /// The most a call may take (default 50 ms).
    pub timeout: Duration,
    /// Calls in flight at once (default 64); a call beyond waits within its timeout.
    pub max_in_flight: usize,
    /// How long Redis keeps an entry (default 10 minutes).
    pub time_to_live: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_password(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("time_to_live", &self.time_to_live)
            .finish()
    }
}

impl RedisConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "proximadb:".into(),
            timeout: Duration::from_millis(50),
            max_in_flight: 64,
            time_to_live: Duration::from_secs(600),
        }
    }
}

/// The Redis layer.
pub struct RedisLayer {
    config: RedisConfig,
    client: redis::Client,
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// When a connection was last attempted, so a stopped Redis is not dialled on every call.
    last_dial: Mutex<Option<Instant>>,
    in_flight: Semaphore,
    last_error: Mutex<Option<(Instant, String)>>,
    counters: Counters,
}

impl std::fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLayer").field("config", &self.config).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisLayer {
    /// A layer for `config`; it connects on first use (and again after losing Redis).
    pub fn new(config: RedisConfig) -> Result<Self> {
        if config.timeout.is_zero() || config.max_in_flight == 0 || config.time_to_live.is_zero() {
            return Err(Error::invalid("cache.redis timeout, max_in_flight and ttl must be more than 0"));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| Error::invalid(format!("cache.redis_url `{}`: {e}", redact_password(&config.url))))?;
        Ok(Self {
            in_flight: Semaphore::new(config.max_in_flight),
            config,
            client,
            manager: tokio::sync::Mutex::new(None),
            last_dial: Mutex::new(None),
            last_error: Mutex::new(None),
            counters: Counters::default(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}k:{key}", self.config.prefix)
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}t:{tag}", self.config.prefix)
    }

    fn failed(&self, what: &str, e: impl std::fmt::Display) -> Error {
        self.counters.error();
        let message = format!("redis {what}: {e}");
        *lock(&self.last_error) = Some((Instant::now(), message.clone()));
        Error::unavailable(message)
    }

    /// A connection: the manager once made (it reconnects by itself), else a
    /// new one, dialled at most once a second.
    async fn connection(&self) -> Result<ConnectionManager> {
        let mut manager = self.manager.lock().await;
        if let Some(m) = manager.as_ref() {
            return Ok(m.clone());
        }
        {
            let mut last = lock(&self.last_dial);
            if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                return Err(Error::unavailable("redis is not connected"));
            }
            *last = Some(Instant::now());
        }
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(self.config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let made =
            tokio::time::timeout(self.config.timeout * 4, self.client.get_connection_manager_with_config(settings))
                .await;
        match made {
            Ok(Ok(m)) => {
                *manager = Some(m.clone());
                Ok(m)
            }
            Ok(Err(e)) => Err(self.failed("connect", e)),
            Err(_) => Err(self.failed("connect", "timed out")),
        }
    }

    /// Runs one call within the layer's limits.
    async fn call<T: redis::FromRedisValue>(&self, what: &str, command: &redis::Cmd) -> Result<T> {
        let limited = async {
            let _permit = self.in_flight.acquire().await.map_err(|e| self.failed(what, e))?;
            let mut connection = self.connection().await?;
            command.query_async::<T>(&mut connection).await.map_err(|e| self.failed(what, e))
        };
        tokio::time::timeout(self.config.timeout, limited).await.map_err(|_| self.failed(what, "timed out"))?
    }

    async fn pipe(&self, what: &str, pipe: &redis::Pipeline) -> Result<()> {
        let limited = async {
            let _permit = self.in_flight.acquire().await.map_err(|e| self.failed(what, e))?;
            let mut connection = self.connection().await?;
            pipe.query_async::<()>(&mut connection).await.map_err(|e| self.failed(what, e))
        };
        tokio::time::timeout(self.config.timeout, limited).await.map_err(|_| self.failed(what, "timed out"))?
    }
}

#[async_trait]
impl CacheLayer for RedisLayer {
    fn name(&self) -> &str {
        "l2"
    }

    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult {
        let found: Result<Option<Vec<u8>>> = self.call("get", redis::cmd("GET").arg(self.key(key))).await;
        let entry = match found {
            Ok(Some(bytes)) => match decode(&bytes) {
                Some(entry) if entry.key == key => Some(entry).filter(|e| !e.expired(now_unix_ms())),
                _ => {
                    self.counters.error(); // undecodable: a miss, counted
                    None
                }
            },
            Ok(None) => None,
            Err(_) => {
                // Down or slow: the layers below answer.
                self.counters.miss();
                ctx.miss(self.name());
                return LayerResult::NotHandled;
            }
        };
        self.counters.found(self.name(), ctx, entry)
    }

    async fn set(&self, entry: CacheEntry) -> Result<()> {
        self.counters.operation();
        let mut ttl_ms = self.config.time_to_live.as_millis() as u64;
        if let Some(at) = entry.expires_at_ms {
            ttl_ms = ttl_ms.min(at.saturating_sub(now_unix_ms()));
            if ttl_ms == 0 {
                return Ok(());
            }
        }
        let key = self.key(&entry.key);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("SET").arg(&key).arg(encode(&entry)).arg("PX").arg(ttl_ms).ignore();
        for tag in &entry.tags {
            let tag_key = self.tag_key(tag);
            pipe.cmd("SADD").arg(&tag_key).arg(&key).ignore();
            // The set lives as long as the entries it lists may.
            pipe.cmd("PEXPIRE").arg(&tag_key).arg(self.config.time_to_live.as_millis() as u64).ignore();
        }
        self.pipe("set", &pipe).await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.counters.operation();
        self.call::<()>("remove", redis::cmd("DEL").arg(self.key(key))).await
    }

    async fn remove_tag(&self, tag: &str) -> Result<u64> {
        self.counters.operation();
        self.call("remove_tag", redis::cmd("EVAL").arg(REMOVE_TAG).arg(1).arg(self.tag_key(tag))).await
    }

    async fn clear(&self) -> Result<()> {
        self.counters.operation();
        let pattern = format!("{}*", self.config.prefix);
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .call("clear", redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(500))
                .await?;
            if !keys.is_empty() {
                self.call::<()>("clear", redis::cmd("DEL").arg(keys)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn health(&self) -> Health {
        if let Some((at, why)) = lock(&self.last_error).as_ref()
            && at.elapsed() < DEGRADED_FOR
        {
            return Health::degraded(why.clone());
        }
        match self.call::<String>("ping", &redis::cmd("PING")).await {
            Ok(_) => Health::healthy(),
            Err(e) => Health::degraded(e.to_string()),
        }
    }

    fn stats(&self) -> LayerStats {
        self.counters.snapshot(0, 0)
    }

    async fn start(&self) -> Result<()> {
        // A Redis that is down at start-up is not fatal: the layer answers misses until it is up.
        let _ = self.connection().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let config = RedisConfig::new("redis://app:hunter2@cache.internal:6379/2");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:<redacted>@cache.internal:6379/2"), "{shown}");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(RedisLayer::new(RedisConfig::new("not a url")).is_err());
        let zero = RedisConfig { timeout: Duration::ZERO, ..RedisConfig::new("redis://127.0.0.1:1") };
        assert!(RedisLayer::new(zero).is_err());
    }
}
