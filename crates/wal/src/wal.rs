//! The log itself: appends with group commit, replay and truncation.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use proxima_core::{Error, FsyncPolicy, Result};
use serde::{Serialize, de::DeserializeOwned};

use crate::frame::{PendingFrame, decode_payload};
use crate::segment;
use crate::spare::Spare;

/// How a log is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment is rolled once it passes this size.
    pub segment_bytes: u64,
    /// When appends reach stable storage.
    pub fsync: FsyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self { segment_bytes: 64 << 20, fsync: FsyncPolicy::Always }
    }
}

/// A position in the log for [`Wal::wait_durable`]: everything appended before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SyncPoint(pub(crate) u64);

/// The sequence numbers given to one append, `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// The first record's sequence number.
    pub first: u64,
    /// The last record's sequence number (`first - 1` for an empty append).
    pub last: u64,
}

/// Counters since the log was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Frames appended (one per non-empty `append`).
    pub frames: u64,
    /// `fdatasync` calls made for group commit (segment rolls not counted).
    pub syncs: u64,
    /// Segments started from a spare (zero-filled or recycled) rather than an empty file.
    pub segments_from_spares: u64,
    /// Of those, the segments recycled: freed by truncation and used again
    /// instead of zero-filling a new file.
    pub segments_recycled: u64,
}

/// A write-ahead log of records of type `R`.
pub struct Wal<R> {
    shared: Arc<Shared>,
    _records: PhantomData<fn(R) -> R>,
}

impl<R> std::fmt::Debug for Wal<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("dir", &self.shared.dir).field("options", &self.shared.options).finish()
    }
}

struct Shared {
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    /// Held by the one thread running an fsync; the others queue behind it and are
    /// usually covered by its sync when they get the lock (group commit).
    sync_lock: Mutex<()>,
    /// Bytes ever appended by this process that are known durable.
    durable: AtomicU64,
    stopped: AtomicBool,
    frames: AtomicU64,
    syncs: AtomicU64,
    segments_from_spares: AtomicU64,
    segments_recycled: AtomicU64,
    /// Frame buffers to encode into again: a fresh buffer for each append costs
    /// page faults on every frame of a large batch.
    spare_buffers: Mutex<Vec<Vec<u8>>>,
    /// An exclusive lock on `<dir>/LOCK`: one open log per directory, across processes.
    _lock: File,
}

struct State {
    active: Arc<File>,
    active_first_seq: u64,
    active_len: u64,
    /// Closed segments as `(first_seq, path)`, oldest first.
    closed: Vec<(u64, PathBuf)>,
    next_seq: u64,
    /// Bytes ever appended by this process (a logical position for group commit).
    written: u64,
    /// Set when a failed write or fsync leaves the file in an unknown state.
    poisoned: Option<String>,
    /// The next segment, zero-filled ahead of time.
    spare: Spare,
}

impl<R: Serialize + DeserializeOwned> Wal<R> {
    /// Opens (or creates) the log in `dir`, cutting off a torn final frame.
    pub fn open(dir: impl AsRef<Path>, options: WalOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let lock = lock_dir(&dir)?;
        let mut segments = segment::list(&dir)?;
        let mut next_seq = 1;
        // Where the last segment's frames end: appends go on from there, over its
        // end mark (and a recycled segment's stale bytes past it).
        let mut active_len = 0;
        for (i, (first_seq, path)) in segments.iter().enumerate() {
            if i > 0 && *first_seq != next_seq {
                return Err(Error::corrupted(format!(
                    "log segment starts at sequence {first_seq}, expected {next_seq}"
                ))
                .with_context("file", path.display()));
            }
            let is_last = i + 1 == segments.len();
            let bytes = segment::read(path)?;
            let end = segment::scan(&path.display(), &bytes, *first_seq, is_last, |_, _| Ok(()))?;
            if end.torn {
                let file =
                    OpenOptions::new().write(true).open(path).map_err(|e| Error::io("cannot open segment", e))?;
                file.set_len(end.valid_len)
                    .and_then(|_| file.sync_all())
                    .map_err(|e| Error::io(format!("cannot cut the torn tail of {}", path.display()), e))?;
            }
            next_seq = end.next_seq;
            active_len = end.valid_len;
        }
        let (active_first_seq, active_path) = match segments.pop() {
            Some(last) => last,
            None => {
                let path = dir.join(segment::file_name(next_seq));
                (next_seq, path)
            }
        };
        let active = open_segment(&active_path)?;
        segment::sync_dir(&dir)?;
        let spare = Spare::new(&dir, options.segment_bytes);
        let state = State {
            active: Arc::new(active),
            active_first_seq,
            active_len,
            closed: segments,
            next_seq,
            written: 0,
            poisoned: None,
            spare,
        };
        let shared = Arc::new(Shared {
            dir,
            options,
            state: Mutex::new(state),
            sync_lock: Mutex::new(()),
            durable: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            frames: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            segments_from_spares: AtomicU64::new(0),
            segments_recycled: AtomicU64::new(0),
            spare_buffers: Mutex::new(Vec::new()),
            _lock: lock,
        });
        if let FsyncPolicy::IntervalMs(ms) = options.fsync {
            spawn_interval_syncer(Arc::downgrade(&shared), Duration::from_millis(ms.max(1)));
        }
        Ok(Self { shared, _records: PhantomData })
    }

    /// Appends `records` as one frame (replayed whole or not at all) and returns
    /// their sequence numbers once durable under the fsync policy.
    pub fn append(&self, records: &[R]) -> Result<SeqRange> {
        // The sync follows at once: it writes the frame back itself.
        let (range, point) = self.append_frame(records, false)?;
        self.wait_durable(point)?;
        Ok(range)
    }

    /// Writes `records` as one frame without waiting for the fsync; the caller
    /// must [`Wal::wait_durable`] (or [`Wal::try_make_durable`]) on the
    /// returned point before acknowledging. Lets a caller do other work (or
    /// let other writers join the same fsync) while the frame reaches the
    /// disk: under `FsyncPolicy::Always` its writeback starts now.
    pub fn append_unsynced(&self, records: &[R]) -> Result<(SeqRange, SyncPoint)> {
        self.append_frame(records, self.shared.options.fsync == FsyncPolicy::Always)
    }

    fn append_frame(&self, records: &[R], writeback: bool) -> Result<(SeqRange, SyncPoint)> {
        if records.is_empty() {
            // No frame: every frame holds a record, so a segment's name is never reused.
            let next = self.next_seq();
            return Ok((SeqRange { first: next, last: next - 1 }, SyncPoint(0)));
        }
        let mut frame = PendingFrame::encode(records, self.shared.take_buffer())?;
        let appended = self.write_frame(&mut frame);
        self.shared.give_back(frame.bytes);
        let (range, point, at) = appended?;
        if writeback {
            // Outside the log's lock: other appenders need not wait for it.
            start_writeback(&at.file, at.offset, at.len);
        }
        Ok((range, point))
    }

    /// Seals and writes one encoded frame under the log lock; returns, with its
    /// sequence numbers and sync point, the file and range it went to.
    fn write_frame(&self, frame: &mut PendingFrame) -> Result<(SeqRange, SyncPoint, FrameAt)> {
        let mut state = self.shared.lock_state();
        if let Some(why) = &state.poisoned {
            return Err(Error::unavailable(format!("write-ahead log is unusable after an I/O failure: {why}")));
        }
        if state.active_len > 0 && state.active_len + frame.bytes.len() as u64 > self.shared.options.segment_bytes {
            self.shared.roll(&mut state)?;
        }
        let first = state.next_seq;
        frame.seal(first);
        // At an offset, with its end mark: a segment made from a spare has zeros
        // or a recycled segment's stale frames past the frames written so far.
        if let Err(e) = state.active.write_all_at(&frame.bytes, state.active_len) {
            // Cut the partial frame so later appends do not follow garbage.
            let len = state.active_len;
            if state.active.set_len(len).is_err() {
                state.poisoned = Some(e.to_string());
            }
            return Err(Error::io("write-ahead log append failed", e));
        }
        let written_to = FrameAt { file: Arc::clone(&state.active), offset: state.active_len, len: frame.len() as u64 };
        state.active_len += frame.len() as u64;
        state.written += frame.len() as u64;
        if state.active_len > self.shared.options.segment_bytes / 2 {
            state.spare.start();
        }
        state.next_seq += u64::from(frame.count);
        self.shared.frames.fetch_add(1, Ordering::Relaxed);
        Ok((SeqRange { first, last: state.next_seq - 1 }, SyncPoint(state.written), written_to))
    }

    /// Returns once everything appended up to `point` is durable under the fsync
    /// policy (one fsync covers every writer waiting at the time: group commit).
    pub fn wait_durable(&self, point: SyncPoint) -> Result<()> {
        if self.shared.options.fsync == FsyncPolicy::Always { self.shared.sync_to(point.0) } else { Ok(()) }
    }

    /// Makes `point` durable on this thread (blocking it for the
    /// `fdatasync`) if no sync is running: `None` when one is (the caller
    /// waits with [`Wal::wait_durable`], which that sync or the next covers).
    /// Saves a writer the hand-off to another thread when it is the only one
    /// syncing.
    pub fn try_make_durable(&self, point: SyncPoint) -> Option<Result<()>> {
        if self.is_durable(point) {
            return Some(Ok(()));
        }
        let leader = match self.shared.sync_lock.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(self.shared.sync_locked(point.0, leader))
    }

    /// Whether `point` is durable under the fsync policy already (no waiting, no syscall).
    pub fn is_durable(&self, point: SyncPoint) -> bool {
        self.shared.options.fsync != FsyncPolicy::Always || self.shared.durable.load(Ordering::Acquire) >= point.0
    }

    /// The point covering everything appended so far.
    pub fn written(&self) -> SyncPoint {
        SyncPoint(self.shared.lock_state().written)
    }

    /// Appends one record and returns its sequence number.
    pub fn append_one(&self, record: &R) -> Result<u64>
    where
        R: Clone,
    {
        Ok(self.append(std::slice::from_ref(record))?.first)
    }

    /// Forces everything appended so far to stable storage.
    pub fn sync(&self) -> Result<()> {
        let end = self.shared.lock_state().written;
        self.shared.sync_to(end)
    }

    /// Frames appended and fsyncs made since open; frames per sync shows group commit at work.
    pub fn stats(&self) -> WalStats {
        WalStats {
            frames: self.shared.frames.load(Ordering::Relaxed),
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            segments_from_spares: self.shared.segments_from_spares.load(Ordering::Relaxed),
            segments_recycled: self.shared.segments_recycled.load(Ordering::Relaxed),
        }
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.shared.lock_state().next_seq
    }

    /// Calls `visit(seq, record)` for every record with `seq >= from`, in order.
    pub fn replay(&self, from: u64, mut visit: impl FnMut(u64, R) -> Result<()>) -> Result<()> {
        // Snapshot the segment list and the active length, so frames being
        // appended concurrently are not mistaken for a torn tail.
        let (mut segments, active_len) = {
            let state = self.shared.lock_state();
            let mut segments = state.closed.clone();
            segments.push((state.active_first_seq, self.shared.dir.join(segment::file_name(state.active_first_seq))));
            (segments, state.active_len)
        };
        let last = segments.len() - 1;
        let starts: Vec<u64> = segments.iter().map(|s| s.0).collect();
        for (i, (first_seq, path)) in segments.drain(..).enumerate() {
            if i < last && starts[i + 1] <= from {
                continue; // every record here is below `from`
            }
            let mut bytes = segment::read(&path)?;
            if i == last {
                bytes.truncate(active_len as usize);
            }
            segment::scan(&path.display(), &bytes, first_seq, false, |header, payload| {
                let frame_last = header.first_seq + u64::from(header.count);
                if frame_last <= from {
                    return Ok(());
                }
                for (j, record) in decode_payload::<R>(payload, header.count)?.into_iter().enumerate() {
                    let seq = header.first_seq + j as u64;
                    if seq >= from {
                        visit(seq, record)?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Makes the log start at `seq`, deleting every segment: for a caller whose
    /// state up to `seq - 1` is durable elsewhere (a restored checkpoint, or files
    /// that are ahead of a lost log). Does nothing if the log is already there.
    pub fn advance_to(&self, seq: u64) -> Result<()> {
        let mut state = self.shared.lock_state();
        if seq <= state.next_seq {
            return Ok(());
        }
        let path = self.shared.dir.join(segment::file_name(seq));
        let file = open_segment(&path)?;
        let old_active = self.shared.dir.join(segment::file_name(state.active_first_seq));
        for (_, old) in state.closed.drain(..).chain(std::iter::once((0, old_active))) {
            std::fs::remove_file(&old).map_err(|e| Error::io(format!("cannot delete {}", old.display()), e))?;
        }
        state.active = Arc::new(file);
        state.active_first_seq = seq;
        state.active_len = 0;
        state.next_seq = seq;
        segment::sync_dir(&self.shared.dir)
    }

    /// Deletes every segment whose records all have `seq < before`; call it once a
    /// checkpoint covering those records is durable. The active segment is rolled
    /// first when it is wholly below `before`.
    pub fn truncate_before(&self, before: u64) -> Result<()> {
        let mut state = self.shared.lock_state();
        if state.active_len > 0 && state.next_seq <= before {
            self.shared.roll(&mut state)?;
        }
        let mut keep_from = 0;
        for i in 0..state.closed.len() {
            let next_first = state.closed.get(i + 1).map_or(state.active_first_seq, |s| s.0);
            if next_first <= before {
                keep_from = i + 1;
            }
        }
        let mut doomed: Vec<PathBuf> = state.closed.drain(..keep_from).map(|(_, path)| path).collect();
        // The newest of them is kept for the next spare, unless one is kept
        // already: its blocks are written, so nothing needs zero-filling.
        let half_segment = self.shared.options.segment_bytes / 2;
        let kept = match doomed.last() {
            Some(newest) if std::fs::metadata(newest).is_ok_and(|m| m.len() >= half_segment) => {
                let to = state.spare.keep(newest);
                to.and_then(|to| Some((doomed.pop()?, to)))
            }
            _ => None,
        };
        // Unlinking a full segment takes milliseconds: appends and syncs go on meanwhile.
        drop(state);
        let unlinked = doomed.iter().try_for_each(|path| {
            std::fs::remove_file(path).map_err(|e| Error::io(format!("cannot delete {}", path.display()), e))
        });
        if let Some((segment, to)) = kept {
            // After the unlinks: if a crash undoes the rename, the old segment
            // is back whole, right before the ones kept.
            let moved = std::fs::rename(&segment, &to).is_ok();
            if !moved {
                let _ = std::fs::remove_file(&segment);
            }
            self.shared.lock_state().spare.kept(moved.then_some(to));
        }
        unlinked?;
        segment::sync_dir(&self.shared.dir)
    }
}

impl Shared {
    fn take_buffer(&self) -> Vec<u8> {
        self.spare_buffers.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default()
    }

    fn give_back(&self, buffer: Vec<u8>) {
        // A few buffers, none huge: one odd batch does not pin its memory for good.
        if buffer.capacity() <= MAX_SPARE_BUFFER_BYTES {
            let mut spare = self.spare_buffers.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < MAX_SPARE_BUFFERS {
                spare.push(buffer);
            }
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written frame
        // recorded in `State`, so the data is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the active segment (durably, unless fsync is off) and starts the next.
    fn roll(&self, state: &mut State) -> Result<()> {
        if self.options.fsync != FsyncPolicy::None {
            state.active.sync_data().map_err(|e| {
                state.poisoned = Some(e.to_string());
                Error::io("cannot sync the write-ahead log segment", e)
            })?;
        }
        let path = self.dir.join(segment::file_name(state.next_seq));
        let file = match state.spare.take(&path) {
            Some((spare, recycled)) => {
                self.segments_from_spares.fetch_add(1, Ordering::Relaxed);
                if recycled {
                    self.segments_recycled.fetch_add(1, Ordering::Relaxed);
                }
                spare
            }
            None => open_segment(&path)?,
        };
        segment::sync_dir(&self.dir)?;
        let old = std::mem::replace(&mut state.active, Arc::new(file));
        state.closed.push((state.active_first_seq, self.dir.join(segment::file_name(state.active_first_seq))));
        state.active_first_seq = state.next_seq;
        state.active_len = 0;
        if self.options.fsync != FsyncPolicy::None {
            // Everything written so far is in the synced old segment.
            self.durable.fetch_max(state.written, Ordering::AcqRel);
        }
        drop(old);
        Ok(())
    }

    /// Returns once every byte up to logical position `end` is durable.
    fn sync_to(&self, end: u64) -> Result<()> {
        if self.durable.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let leader = self.sync_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.sync_locked(end, leader)
    }

    /// [`Shared::sync_to`] with the sync lock held.
    fn sync_locked(&self, end: u64, _leader: MutexGuard<'_, ()>) -> Result<()> {
        if self.durable.load(Ordering::Acquire) >= end {
            return Ok(()); // a sync that ran while we queued covered us
        }
        let (file, upto) = {
            let state = self.lock_state();
            if let Some(why) = &state.poisoned {
                return Err(Error::unavailable(format!("write-ahead log is unusable after an I/O failure: {why}")));
            }
            (Arc::clone(&state.active), state.written)
        };
        if let Err(e) = file.sync_data() {
            // After a failed fsync the kernel may have dropped dirty pages: stop accepting writes.
            self.lock_state().poisoned = Some(e.to_string());
            return Err(Error::io("write-ahead log fsync failed", e));
        }
        self.durable.fetch_max(upto, Ordering::AcqRel);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl<R> Drop for Wal<R> {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
    }
}

/// Takes the directory's lock; a second writer would interleave frames and corrupt the log.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    // A previous handle in this process may be finishing background work (a
    // flush committing its manifest): give it a moment before refusing.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::unavailable(format!(
                    "the write-ahead log in {} is already open (in this or another process)",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", path.display()), e));
            }
        }
    }
}

/// Frame buffers kept for reuse, and the largest kept.
const MAX_SPARE_BUFFERS: usize = 4;
const MAX_SPARE_BUFFER_BYTES: usize = 16 << 20;

/// How long `open` waits for another handle to let go of the log.
const LOCK_WAIT: Duration = Duration::from_secs(3);

fn open_segment(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))
}

/// Where a frame was written.
struct FrameAt {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

/// Starts the frame's way to the disk without waiting, so that a sync some
/// time later finds it written and has little more than the disk's cache to
/// flush.
fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range takes a descriptor this File keeps open and
        // plain integers; it touches no memory of ours.
        let _ =
            unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

fn spawn_interval_syncer(shared: Weak<Shared>, every: Duration) {
    std::thread::Builder::new()
        .name("proxima-wal-sync".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(shared) = shared.upgrade() else { return };
                if shared.stopped.load(Ordering::Acquire) {
                    return;
                }
                let end = shared.lock_state().written;
                // A failure poisons the log; the next append reports it.
                let _ = shared.sync_to(end);
            }
        })
        .expect("spawning the WAL sync thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    type Log = Wal<(String, Vec<f32>)>;

    fn frame(id: &str) -> Vec<(String, Vec<f32>)> {
        vec![(id.to_string(), vec![1.0; 4])]
    }

    #[test]
    fn a_writer_syncs_on_its_own_thread_unless_a_sync_is_running() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Log::open(dir.path(), WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::Always }).unwrap();
        let (_, first) = wal.append_unsynced(&frame("a")).unwrap();
        assert!(!wal.is_durable(first));
        assert!(matches!(wal.try_make_durable(first), Some(Ok(()))));
        assert!(wal.is_durable(first));
        assert_eq!(wal.stats().syncs, 1);
        // Durable already: no second sync.
        assert!(matches!(wal.try_make_durable(first), Some(Ok(()))));
        assert_eq!(wal.stats().syncs, 1);

        // With another sync running (its lock held), the caller is told to wait.
        let (_, second) = wal.append_unsynced(&frame("b")).unwrap();
        let running = wal.shared.sync_lock.lock().unwrap();
        assert!(wal.try_make_durable(second).is_none());
        assert!(!wal.is_durable(second));
        drop(running);
        wal.wait_durable(second).unwrap();
        assert!(wal.is_durable(second));
        assert_eq!(wal.stats().syncs, 2);
    }

    #[test]
    fn without_fsync_always_nothing_waits_for_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Log::open(dir.path(), WalOptions { segment_bytes: 1 << 20, fsync: FsyncPolicy::None }).unwrap();
        let (_, point) = wal.append_unsynced(&frame("a")).unwrap();
        assert!(matches!(wal.try_make_durable(point), Some(Ok(()))));
        assert_eq!(wal.stats().syncs, 0);
    }
}
