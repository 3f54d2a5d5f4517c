//! An async write queue in front of a slower layer: a bounded channel and a
//! worker that stores entries in it, so a user request never waits on Redis
//! or the disk to fill a cache. A full queue drops the write and counts it.
//!
//! Invalidations are not queued: they reach the layer before they return. A
//! write queued before an invalidation that concerns it (its key, one of its
//! tags, or everything) is skipped, and one being stored when the
//! invalidation arrives finishes first, so a queued write never brings back
//! what an invalidation removed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use proxima_core::{Error, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{CacheContext, CacheEntry, CacheLayer, Counters, Health, LayerResult, LayerStats};

/// Invalidations remembered for writes still queued; a write older than the
/// oldest remembered is skipped, as one that may have missed it.
const REMEMBERED: usize = 4_096;

struct Job {
    entry: CacheEntry,
    /// The invalidation count when it was queued.
    epoch: u64,
    done: Option<oneshot::Sender<Result<()>>>,
}

#[derive(Debug)]
enum Target {
    Key(String),
    Tag(String),
    All,
}

#[derive(Debug, Default)]
struct Invalidations {
    /// Invalidations so far.
    epoch: u64,
    /// The latest ones, with the epoch each made.
    recent: VecDeque<(u64, Target)>,
}

impl Invalidations {
    fn record(&mut self, target: Target) {
        self.epoch += 1;
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((self.epoch, target));
    }

    /// Whether an invalidation after `epoch` concerns `entry`.
    fn superseded(&self, entry: &CacheEntry, epoch: u64) -> bool {
        if self.epoch == epoch {
            return false;
        }
        let forgotten = self.recent.front().is_none_or(|(first, _)| *first > epoch + 1);
        forgotten
            || self.recent.iter().filter(|(e, _)| *e > epoch).any(|(_, target)| match target {
                Target::Key(key) => *key == entry.key,
                Target::Tag(tag) => entry.tags.contains(tag),
                Target::All => true,
            })
    }
}

/// A layer whose sets go through a bounded queue to `inner`; its gets and
/// invalidations go straight to it.
pub struct WriteQueue {
    inner: Arc<dyn CacheLayer>,
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    invalidations: Arc<Mutex<Invalidations>>,
    /// Held while the worker checks and stores a write, and by an
    /// invalidation before it reaches `inner`.
    applying: Arc<tokio::sync::Mutex<()>>,
    counters: Counters,
}

impl std::fmt::Debug for WriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueue").field("inner", &self.inner).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WriteQueue {
    /// A queue of `capacity` writes in front of `inner`, its worker started on
    /// the current tokio runtime.
    pub fn new(inner: Arc<dyn CacheLayer>, capacity: usize) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Job>(capacity.max(1));
        let invalidations = Arc::new(Mutex::new(Invalidations::default()));
        let applying = Arc::new(tokio::sync::Mutex::new(()));
        let (layer, seen, gate) = (Arc::clone(&inner), Arc::clone(&invalidations), Arc::clone(&applying));
        let worker = tokio::spawn(async move {
            while let Some(job) = receiver.recv().await {
                let _applying = gate.lock().await;
                let result = if lock(&seen).superseded(&job.entry, job.epoch) {
                    Ok(()) // an invalidation since it was queued: storing it would bring back what it removed
                } else {
                    layer.set(job.entry).await
                };
                if let Some(done) = job.done {
                    let _ = done.send(result);
                }
            }
        });
        Self {
            inner,
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            invalidations,
            applying,
            counters: Counters::default(),
        }
    }

    fn enqueue(&self, entry: CacheEntry, done: Option<oneshot::Sender<Result<()>>>) -> Result<()> {
        self.counters.operation();
        let epoch = lock(&self.invalidations).epoch;
        let sender = lock(&self.sender).clone();
        let Some(sender) = sender else { return Err(Error::unavailable("the cache write queue is shut down")) };
        sender.try_send(Job { entry, epoch, done }).map_err(|e| {
            self.counters.dropped();
            match e {
                mpsc::error::TrySendError::Full(_) => Error::unavailable("the cache write queue is full"),
                mpsc::error::TrySendError::Closed(_) => Error::unavailable("the cache write queue is shut down"),
            }
        })
    }

    /// Queues a write and waits until the layer behind has stored it.
    pub async fn set_and_wait(&self, entry: CacheEntry) -> Result<()> {
        let (done, stored) = oneshot::channel();
        self.enqueue(entry, Some(done))?;
        stored.await.map_err(|_| Error::unavailable("the cache write queue stopped before the write"))?
    }

    async fn invalidate(&self, target: Target) {
        lock(&self.invalidations).record(target);
        // A write being stored finishes before the invalidation goes on.
        drop(self.applying.lock().await);
    }
}

#[async_trait]
impl CacheLayer for WriteQueue {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult {
        self.inner.get(key, ctx).await
    }

    /// Queued: returns once queued, or at once with an error when the queue is
    /// full (the write is dropped and counted).
    async fn set(&self, entry: CacheEntry) -> Result<()> {
        self.enqueue(entry, None)
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.invalidate(Target::Key(key.to_string())).await;
        self.inner.remove(key).await
    }

    async fn remove_tag(&self, tag: &str) -> Result<u64> {
        self.invalidate(Target::Tag(tag.to_string())).await;
        self.inner.remove_tag(tag).await
    }

    async fn clear(&self) -> Result<()> {
        self.invalidate(Target::All).await;
        self.inner.clear().await
    }

    async fn health(&self) -> Health {
        self.inner.health().await
    }

    fn stats(&self) -> LayerStats {
        let mut stats = self.inner.stats();
        stats.dropped += self.counters.snapshot(0, 0).dropped;
        stats
    }

    async fn start(&self) -> Result<()> {
        self.inner.start().await
    }

    /// Stops taking writes, stores every queued one, then shuts the layer down.
    async fn shutdown(&self) -> Result<()> {
        lock(&self.sender).take();
        let worker = lock(&self.worker).take();
        if let Some(worker) = worker {
            worker.await.map_err(|e| Error::internal(format!("the cache write worker failed: {e}")))?;
        }
        self.inner.shutdown().await
    }
}
