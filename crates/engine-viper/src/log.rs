//! A collection's write-ahead log: files on the node's disk, or objects
//! beside the segments ([`LogPlacement`](crate::LogPlacement)).

use std::sync::Arc;

use proxima_core::Result;
use proxima_engine::WriteOp;
use proxima_engine::files::blocking;
use proxima_wal::{ObjectLog, SeqRange, SyncPoint, Wal};

pub(crate) enum CollectionLog {
    Local(Arc<Wal<WriteOp>>),
    Object(ObjectLog<WriteOp>),
    /// Another node writes the collection: nothing is appended here (the
    /// collection refuses every change before it reaches its log).
    Following,
}

impl CollectionLog {
    /// Writes a batch without waiting for it to be durable; the caller
    /// awaits [`CollectionLog::make_durable`] on the point before acknowledging.
    pub(crate) fn append_unsynced(&self, ops: &[WriteOp]) -> Result<(SeqRange, SyncPoint)> {
        match self {
            Self::Local(wal) => wal.append_unsynced(ops),
            Self::Object(log) => log.append_unsynced(ops),
            Self::Following => Err(followed()),
        }
    }

    pub(crate) fn is_durable(&self, point: SyncPoint) -> bool {
        match self {
            Self::Local(wal) => wal.is_durable(point),
            Self::Object(log) => log.is_durable(point),
            Self::Following => true,
        }
    }

    /// Returns once everything up to `point` is durable.
    pub(crate) async fn make_durable(&self, point: SyncPoint) -> Result<()> {
        match self {
            // With no sync running, this writer syncs on its own thread: the
            // hand-offs to the blocking pool and back cost more than the
            // overlap they bought (docs/perf-journal.md). Behind a running
            // sync it waits on the pool, leaving this thread to other writers.
            Self::Local(wal) => match wal.try_make_durable(point) {
                Some(synced) => synced,
                None => {
                    let wal = Arc::clone(wal);
                    blocking(move || wal.wait_durable(point)).await
                }
            },
            Self::Object(log) => log.make_durable(point).await,
            Self::Following => Ok(()),
        }
    }

    /// Lets the log go of everything below `below` (in the files now), and
    /// moves a log that is behind the files (after a restore) past them.
    pub(crate) async fn truncate_before(&self, below: u64) -> Result<()> {
        match self {
            Self::Local(wal) => {
                let wal = Arc::clone(wal);
                blocking(move || wal.truncate_before(below).and_then(|_| wal.advance_to(below))).await
            }
            Self::Object(log) => {
                log.truncate_before(below).await?;
                log.advance_to(below)
            }
            Self::Following => Err(followed()),
        }
    }
}

fn followed() -> proxima_core::Error {
    proxima_core::Error::internal("a followed collection has no log of its own")
}
