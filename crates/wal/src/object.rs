//! The log in object storage: for a node whose disk holds nothing another
//! node needs. Each group commit puts one object; a write is acknowledged
//! once its object is stored and the writer still holds the log.
//!
//! Frames are those of the file log ([`crate::frame`]); an object is the
//! frames of every append that joined one commit. Writers are fenced by
//! epoch ([`fence`]): opening a log takes it from whoever held it.

mod fence;
mod names;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use proxima_core::{Error, Result};
use serde::{Serialize, de::DeserializeOwned};

use self::fence::{Claimed, WRITER};
use self::names::ObjectName;
use crate::frame::{PendingFrame, decode_payload};
use crate::{SeqRange, SyncPoint, segment};

fn store_error(path: &Path, e: object_store::Error) -> Error {
    Error::unavailable("object store call failed for the log").with_context("object", path).with_source(e)
}

/// A log whose records live in an object store, one object per group commit.
pub struct ObjectLog<R> {
    store: Arc<dyn ObjectStore>,
    dir: Path,
    epoch: u64,
    state: Mutex<State>,
    /// Held by the one commit in flight; appenders that queue behind it are
    /// usually covered by the next commit when they get it (group commit).
    commit: tokio::sync::Mutex<()>,
    /// The last sequence number known stored.
    durable: AtomicU64,
    commits: AtomicU64,
    _records: PhantomData<fn(R) -> R>,
}

impl<R> std::fmt::Debug for ObjectLog<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectLog").field("dir", &self.dir).field("epoch", &self.epoch).finish()
    }
}

struct State {
    /// Sealed frames appended since the last commit took them.
    pending: Vec<u8>,
    pending_first_seq: u64,
    next_seq: u64,
    /// Objects stored and not truncated, oldest first.
    objects: Vec<ObjectName>,
    /// Set when a commit failed: what was appended may or may not be stored.
    poisoned: Option<String>,
}

/// A log taken from its earlier writers, not yet replayed: see [`ObjectLog::claim`].
pub struct ClaimedLog {
    store: Arc<dyn ObjectStore>,
    dir: Path,
    claimed: Claimed,
}

impl ClaimedLog {
    /// The epoch this writer commits under.
    pub fn epoch(&self) -> u64 {
        self.claimed.fence.epoch
    }

    /// Reads every record from `from_seq` on (what state kept elsewhere does
    /// not hold), records where this writer's objects start, and opens the
    /// log for appending after them (at `from_seq` at the earliest).
    pub async fn recover<R: Serialize + DeserializeOwned>(
        mut self,
        from_seq: u64,
    ) -> Result<(ObjectLog<R>, Vec<(u64, R)>)> {
        let listed: Vec<ObjectName> = list(&*self.store, &self.dir).await?;
        let epoch = self.epoch();
        let mut objects = Vec::new();
        for name in listed {
            if self.claimed.fence.counts(name.epoch, name.first_seq) {
                objects.push(name);
            } else if name.epoch < epoch {
                // Put by a writer after it lost the log: never acknowledged.
                let path = self.dir.clone().join(name.file());
                self.store.delete(&path).await.or_else(not_found_is_fine).map_err(|e| store_error(&path, e))?;
            }
        }
        objects.sort();
        let (records, next_seq) = read_records(&*self.store, &self.dir, &objects, from_seq, Gap::Damage).await?;
        fence::start(&*self.store, &self.dir, &mut self.claimed, next_seq, from_seq).await?;
        let log = ObjectLog {
            store: self.store,
            dir: self.dir,
            epoch,
            state: Mutex::new(State {
                pending: Vec::new(),
                pending_first_seq: next_seq,
                next_seq,
                objects,
                poisoned: None,
            }),
            commit: tokio::sync::Mutex::new(()),
            durable: AtomicU64::new(next_seq - 1),
            commits: AtomicU64::new(0),
            _records: PhantomData,
        };
        Ok((log, records))
    }
}

/// What a gap between `from_seq` and the first object means.
#[derive(Clone, Copy)]
enum Gap {
    /// The writer's own replay: records are missing.
    Damage,
    /// A reader behind the writer's truncation: it must read newer state first.
    Truncated,
}

/// The records from `from_seq` on in `objects` (sorted, all counting), and
/// the sequence number after them (`from_seq` at the earliest).
async fn read_records<R: DeserializeOwned>(
    store: &dyn ObjectStore,
    dir: &Path,
    objects: &[ObjectName],
    from_seq: u64,
    gap: Gap,
) -> Result<(Vec<(u64, R)>, u64)> {
    let mut records = Vec::new();
    let mut next_seq = from_seq;
    for name in objects.iter().filter(|o| o.last_seq >= from_seq) {
        if name.first_seq > next_seq {
            let missing = format!("records {next_seq} to {}", name.first_seq - 1);
            return Err(match gap {
                Gap::Damage => Error::corrupted(format!("the log is missing {missing}")),
                Gap::Truncated => Error::conflict(format!("the log no longer holds {missing}: newer state holds them")),
            }
            .with_context("log", dir));
        }
        let path = dir.clone().join(name.file());
        let got = store.get(&path).await.map_err(|e| store_error(&path, e))?;
        let bytes = got.bytes().await.map_err(|e| store_error(&path, e))?;
        let end = segment::scan(&path, &bytes, name.first_seq, false, |header, payload| {
            let batch: Vec<R> = decode_payload(payload, header.count)?;
            let seqs = header.first_seq..;
            records.extend(seqs.zip(batch).filter(|(seq, _)| *seq >= from_seq));
            Ok(())
        })?;
        if end.next_seq != name.last_seq + 1 {
            return Err(
                Error::corrupted("a log object holds other records than its name says").with_context("object", &path)
            );
        }
        next_seq = next_seq.max(end.next_seq);
    }
    Ok((records, next_seq))
}

fn not_found_is_fine(e: object_store::Error) -> std::result::Result<(), object_store::Error> {
    match e {
        object_store::Error::NotFound { .. } => Ok(()),
        e => Err(e),
    }
}

/// The log's objects under `dir`, in no particular order.
async fn list(store: &dyn ObjectStore, dir: &Path) -> Result<Vec<ObjectName>> {
    let listed: Vec<_> = store.list(Some(dir)).try_collect().await.map_err(|e| store_error(dir, e))?;
    let mut names = Vec::new();
    for meta in listed {
        if let Some(name) = meta.location.filename().map(ObjectName::parse).transpose()?.flatten() {
            names.push(name);
        }
    }
    Ok(names)
}

impl<R: Serialize + DeserializeOwned> ObjectLog<R> {
    /// Takes the log under `dir` from whoever wrote it before: their commits
    /// fail from now on. Follow with [`ClaimedLog::recover`].
    pub async fn claim(store: Arc<dyn ObjectStore>, dir: Path) -> Result<ClaimedLog> {
        let claimed = fence::claim(&*store, &dir).await?;
        Ok(ClaimedLog { store, dir, claimed })
    }

    /// The records from `from_seq` on, read without taking the log (a
    /// reader following its writer). Records of a commit still being checked
    /// are included: a reader may see a write a moment before its writer
    /// acknowledges it, or one whose writer lost the log in that moment.
    /// `Conflict` when the writer truncated past `from_seq` (state stored
    /// since holds those records).
    pub async fn read_from(store: &dyn ObjectStore, dir: &Path, from_seq: u64) -> Result<Vec<(u64, R)>> {
        let fence = fence::read(store, dir).await?.fence;
        let mut objects: Vec<ObjectName> =
            list(store, dir).await?.into_iter().filter(|o| fence.counts(o.epoch, o.first_seq)).collect();
        objects.sort();
        Ok(read_records(store, dir, &objects, from_seq, Gap::Truncated).await?.0)
    }

    /// Deletes every object of the log under `dir`, its writer record last.
    pub async fn destroy(store: &dyn ObjectStore, dir: &Path) -> Result<()> {
        for name in list(store, dir).await? {
            let path = dir.clone().join(name.file());
            store.delete(&path).await.or_else(not_found_is_fine).map_err(|e| store_error(&path, e))?;
        }
        let path = dir.clone().join(WRITER);
        store.delete(&path).await.or_else(not_found_is_fine).map_err(|e| store_error(&path, e))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `records` as one frame to the next commit; the caller awaits
    /// [`ObjectLog::make_durable`] on the returned point before acknowledging.
    pub fn append_unsynced(&self, records: &[R]) -> Result<(SeqRange, SyncPoint)> {
        if records.is_empty() {
            let next = self.next_seq();
            return Ok((SeqRange { first: next, last: next - 1 }, SyncPoint(0)));
        }
        let mut frame = PendingFrame::encode(records, Vec::new())?;
        let mut state = self.lock();
        if let Some(why) = &state.poisoned {
            return Err(Error::unavailable(format!("the log is unusable after a failed commit: {why}")));
        }
        let first = state.next_seq;
        frame.seal(first);
        state.pending.extend_from_slice(&frame.bytes[..frame.len()]);
        state.next_seq += u64::from(frame.count);
        let last = state.next_seq - 1;
        Ok((SeqRange { first, last }, SyncPoint(last)))
    }

    /// Whether everything up to `point` is stored.
    pub fn is_durable(&self, point: SyncPoint) -> bool {
        self.durable.load(Ordering::Acquire) >= point.0
    }

    /// Returns once everything appended up to `point` is in an object and
    /// this writer still held the log after storing it. One commit at a
    /// time; it takes every frame appended before it starts.
    pub async fn make_durable(&self, point: SyncPoint) -> Result<()> {
        if self.is_durable(point) {
            return Ok(());
        }
        let _turn = self.commit.lock().await;
        if self.is_durable(point) {
            return Ok(());
        }
        let (bytes, name) = {
            let mut state = self.lock();
            if let Some(why) = &state.poisoned {
                return Err(Error::unavailable(format!("the log is unusable after a failed commit: {why}")));
            }
            if state.pending.is_empty() {
                return Err(Error::internal("a sync point past every append"));
            }
            let name =
                ObjectName { first_seq: state.pending_first_seq, last_seq: state.next_seq - 1, epoch: self.epoch };
            state.pending_first_seq = state.next_seq;
            (std::mem::take(&mut state.pending), name)
        };
        match self.store_commit(Bytes::from(bytes), name).await {
            Ok(()) => {
                self.lock().objects.push(name);
                self.durable.fetch_max(name.last_seq, Ordering::AcqRel);
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.lock().poisoned = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Puts one commit's object, then checks that no writer took the log
    /// meanwhile: one that did might not have seen the object.
    async fn store_commit(&self, bytes: Bytes, name: ObjectName) -> Result<()> {
        let path = self.dir.clone().join(name.file());
        let options = PutOptions::from(PutMode::Create);
        self.store.put_opts(&path, PutPayload::from(bytes), options).await.map_err(|e| match e {
            object_store::Error::AlreadyExists { .. } => {
                Error::conflict("another writer took the log").with_context("object", &path).with_source(e)
            }
            e => store_error(&path, e),
        })?;
        let current = fence::current_epoch(&*self.store, &self.dir).await?;
        if current != self.epoch {
            return Err(Error::conflict(format!(
                "another writer took the log (epoch {current}, this writer's is {})",
                self.epoch
            ))
            .with_context("log", &self.dir));
        }
        Ok(())
    }

    /// The sequence number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    /// The epoch this writer commits under.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Commits made since the log was opened (each one object).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Deletes the objects wholly below `before` (held elsewhere now).
    pub async fn truncate_before(&self, before: u64) -> Result<()> {
        let gone: Vec<ObjectName> = {
            let mut state = self.lock();
            let (gone, kept) = state.objects.iter().partition(|o| o.last_seq < before);
            state.objects = kept;
            gone
        };
        for name in gone {
            let path = self.dir.clone().join(name.file());
            self.store.delete(&path).await.or_else(not_found_is_fine).map_err(|e| store_error(&path, e))?;
        }
        Ok(())
    }

    /// Moves an emptied log past state kept elsewhere: the next record gets
    /// `seq` at the earliest.
    pub fn advance_to(&self, seq: u64) -> Result<()> {
        let mut state = self.lock();
        if state.next_seq >= seq {
            return Ok(());
        }
        if !state.pending.is_empty() || self.durable.load(Ordering::Acquire) + 1 != state.next_seq {
            return Err(Error::internal("cannot advance a log with records not yet committed"));
        }
        state.next_seq = seq;
        state.pending_first_seq = seq;
        drop(state);
        self.durable.fetch_max(seq - 1, Ordering::AcqRel);
        Ok(())
    }
}
