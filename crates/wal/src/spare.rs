//! The next segment, made ahead of time.
//!
//! Appending to a file makes every `fdatasync` write the inode too (its size
//! changed); overwriting blocks the file already has does not. On ext4 that
//! halves the sync (measured: ~500 µs → ~280 µs for a 260 KB frame) and the
//! write itself gets cheaper. So the next segment is a file whose blocks are
//! written already, made one of two ways:
//! - **recycled**: truncation keeps the newest segment it frees (one at most,
//!   renamed `<name>.wal.recyclable`), and the next spare is made from it: renamed
//!   again, its head cleared ([`recycle`]). Nothing is written but the head. A
//!   log truncated as it goes (VIPER truncates after each flush) makes its
//!   spares this way.
//! - **zero-filled**: otherwise a thread fills a new file with zeros and syncs
//!   it.
//!
//! A spare is started once the active segment is half full, so logs that never
//! fill half a segment never pay for one.
//!
//! Either way a header's worth of zeros ends a segment's frames (every frame is
//! written with such an end mark after it), so what lies past the frames is
//! never read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::frame::END_MARK_LEN;

/// The spare's name in the log directory (not a segment name, so listing skips it).
const FILE_NAME: &str = "next-segment.tmp";
/// What a freed segment kept to become a spare is renamed to: its segment name
/// plus this (not a segment name, so listing skips it). Each has its own name,
/// so a segment being kept never lands on one being made a spare.
const KEPT_SUFFIX: &str = ".recyclable";

/// Zeros written per step; the filler checks for a stop between steps.
const STEP: usize = 1 << 20;

/// The freed segment kept for the next spare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pool {
    Empty,
    /// Being renamed by a truncation, outside the log's lock.
    Moving,
    Held(PathBuf),
}

pub(crate) struct Spare {
    path: PathBuf,
    bytes: u64,
    /// The thread making the spare (recycling or zero-filling).
    maker: Option<JoinHandle<()>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Whether the spare on its way or ready is a recycled segment.
    recycled: bool,
    pool: Pool,
}

impl Spare {
    /// No spare yet; files an earlier process left (a spare perhaps half
    /// made, kept segments) are removed.
    pub(crate) fn new(dir: &Path, bytes: u64) -> Self {
        let path = dir.join(FILE_NAME);
        let _ = std::fs::remove_file(&path);
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_str().is_some_and(|n| n.ends_with(KEPT_SUFFIX)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Self {
            path,
            bytes,
            maker: None,
            ready: Default::default(),
            stop: Default::default(),
            recycled: false,
            pool: Pool::Empty,
        }
    }

    /// Starts making a spare, unless one is on its way or ready: from the kept
    /// segment if there is one, else zero-filled.
    pub(crate) fn start(&mut self) {
        if self.maker.as_ref().is_some_and(|maker| !maker.is_finished()) {
            return;
        }
        // Joined first, so a maker that finished has shown whether it succeeded.
        if let Some(maker) = self.maker.take() {
            let _ = maker.join();
        }
        if self.ready.load(Ordering::Acquire) {
            return;
        }
        // Here no spare is ready and none is on its way (a maker that failed,
        // on a full disk say, is tried again).
        let (ready, stop) = (Arc::clone(&self.ready), Arc::clone(&self.stop));
        let spawned = if let Some(from) = self.take_kept() {
            self.recycled = true;
            let to = self.path.clone();
            std::thread::Builder::new().name("proxima-wal-spare".into()).spawn(move || {
                if recycle(&from, &to).is_ok() {
                    ready.store(true, Ordering::Release);
                } else {
                    let _ = std::fs::remove_file(&from);
                }
            })
        } else {
            // Created here, under the log's lock, not in the thread: a directory
            // being removed never sees a file appear in it afterwards.
            let Ok(file) = OpenOptions::new().create(true).truncate(true).write(true).open(&self.path) else {
                return;
            };
            self.recycled = false;
            let bytes = self.bytes;
            std::thread::Builder::new().name("proxima-wal-spare".into()).spawn(move || {
                if fill(file, bytes, &stop).is_ok() {
                    ready.store(true, Ordering::Release);
                }
            })
        };
        self.maker = spawned.ok();
    }

    /// The kept segment's path, if one is held (a `Moving` one stays: its
    /// truncation reports to [`Spare::kept`]).
    fn take_kept(&mut self) -> Option<PathBuf> {
        match std::mem::replace(&mut self.pool, Pool::Empty) {
            Pool::Held(path) => Some(path),
            other => {
                self.pool = other;
                None
            }
        }
    }

    /// Where to move `segment`, which truncation frees, if it is to be kept for
    /// the next spare (nothing is kept yet); report the move with [`Spare::kept`].
    pub(crate) fn keep(&mut self, segment: &Path) -> Option<PathBuf> {
        let mut name = segment.file_name()?.to_os_string();
        if self.pool != Pool::Empty {
            return None;
        }
        self.pool = Pool::Moving;
        name.push(KEPT_SUFFIX);
        Some(segment.with_file_name(name))
    }

    /// Ends a [`Spare::keep`]: `moved_to` is the segment's new name, if the move worked.
    pub(crate) fn kept(&mut self, moved_to: Option<PathBuf>) {
        self.pool = moved_to.map_or(Pool::Empty, Pool::Held);
    }

    /// Renames a ready spare to `dest` and opens it, with whether it was
    /// recycled; `None` when none is ready (the caller creates an empty segment).
    pub(crate) fn take(&mut self, dest: &Path) -> Option<(File, bool)> {
        if !self.ready.load(Ordering::Acquire) {
            return None;
        }
        self.ready.store(false, Ordering::Release);
        if let Some(maker) = self.maker.take() {
            let _ = maker.join();
        }
        std::fs::rename(&self.path, dest).ok()?;
        let file = OpenOptions::new().read(true).write(true).open(dest).ok()?;
        Some((file, self.recycled))
    }
}

/// Makes the kept segment at `kept` the spare at `spare`: renamed, the rename
/// made durable, then its head cleared with an end mark, so it reads as empty
/// and its old frames past the mark are never read. The directory's sync also
/// makes the earlier rename away from its segment name durable: a crash never
/// brings that name back over a cleared head (an empty segment in the middle of
/// the log).
pub(crate) fn recycle(kept: &Path, spare: &Path) -> std::io::Result<()> {
    std::fs::rename(kept, spare)?;
    File::open(spare.parent().unwrap_or(Path::new(".")))?.sync_all()?;
    let file = OpenOptions::new().write(true).open(spare)?;
    file.write_all_at(&[0; END_MARK_LEN], 0)?;
    file.sync_data()
}

fn fill(mut file: File, bytes: u64, stop: &AtomicBool) -> std::io::Result<()> {
    let zeros = vec![0u8; STEP];
    let mut left = bytes;
    while left > 0 {
        if stop.load(Ordering::Acquire) {
            return Err(std::io::Error::other("the log was closed"));
        }
        let n = left.min(STEP as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    // The blocks and the size durable, so later syncs of the segment write data only.
    file.sync_all()
}

impl Drop for Spare {
    fn drop(&mut self) {
        // At most one step of writing, or one recycling, to wait for.
        self.stop.store(true, Ordering::Release);
        if let Some(maker) = self.maker.take() {
            let _ = maker.join();
        }
    }
}
