//! File writes that hand their pages to the disk as they go: the route of
//! files written through the page cache (manifests, index files, and segment
//! files where the filesystem refuses `O_DIRECT`, see [`crate::direct`]).
//!
//! A flush writes a segment file of tens of MB while writers wait on the log's
//! `fdatasync`, and both go to one disk. Left to the kernel, the file's pages
//! reach the disk in one burst at its fsync, and a log sync that arrives
//! meanwhile waits behind it: a 50-d ingest spent a quarter of its time in
//! batches over 5 ms, most of it waiting on the log's sync. Handing every
//! [`PACE`] bytes to the disk as they are written (`sync_file_range`), after
//! waiting for the range before, keeps at most two such ranges in flight and
//! leaves the closing fsync little to do.

use std::fs::File;
use std::io::Write;

/// Bytes written before their writeback starts. Paired runs of one writer
/// (`ingest_latency`) had 32 KiB to 512 KiB all ahead of no pacing; 128 KiB
/// was the best of them.
pub(crate) const PACE: u64 = 128 << 10;

/// Writes into a file, starting writeback every [`PACE`] bytes (Linux; plain
/// writes elsewhere). The caller still fsyncs the file at the end.
pub(crate) struct PacedWriter<'a> {
    file: &'a mut File,
    /// Bytes written so far.
    written: u64,
    /// Writeback has been started for everything before this offset...
    started: u64,
    /// ...and has finished for everything before this one.
    waited: u64,
}

impl<'a> PacedWriter<'a> {
    pub(crate) fn new(file: &'a mut File) -> Self {
        Self { file, written: 0, started: 0, waited: 0 }
    }

    /// Waits for the range started last, then starts the one written since.
    fn pace(&mut self) -> std::io::Result<()> {
        if self.started > self.waited {
            sync_range(self.file, self.waited, self.started - self.waited, Sync::Wait)?;
            self.waited = self.started;
        }
        sync_range(self.file, self.started, self.written - self.started, Sync::Start)?;
        self.started = self.written;
        Ok(())
    }
}

impl Write for PacedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= PACE {
            self.pace()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[derive(Clone, Copy)]
enum Sync {
    /// Start writing the range's dirty pages back; do not wait.
    Start,
    /// Wait until the range's pages are written back (starting any not yet started).
    Wait,
}

#[cfg(target_os = "linux")]
fn sync_range(file: &File, offset: u64, len: u64, sync: Sync) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = match sync {
        Sync::Start => libc::SYNC_FILE_RANGE_WRITE,
        Sync::Wait => {
            libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER
        }
    };
    // SAFETY: sync_file_range takes an open descriptor and plain integers, and
    // touches no memory of ours.
    let status = unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, len as i64, flags) };
    if status == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn sync_range(_file: &File, _offset: u64, _len: u64, _sync: Sync) -> std::io::Result<()> {
    Ok(())
}

/// Tests: `bytes` in consecutive pieces of varied sizes from 1 to `largest`
/// bytes, so that writes end off every boundary.
#[cfg(test)]
pub(crate) fn in_pieces(bytes: &[u8], largest: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    (1usize..).map_while(move |i| {
        if rest.is_empty() {
            return None;
        }
        let (piece, later) = rest.split_at(((i * 104_729) % largest + 1).min(rest.len()));
        rest = later;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes of every size land in order, and writeback is started once per
    /// [`PACE`] bytes written, with all but the last range waited for.
    #[test]
    fn writes_land_whole_and_writeback_follows_every_pace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paced");
        let mut file = File::create(&path).unwrap();
        let bytes: Vec<u8> = (0..(PACE as usize) * 5 + 1234).map(|i| (i * 7 % 251) as u8).collect();
        let mut paced = PacedWriter::new(&mut file);
        // Writes of 1 byte to a little over PACE, so ranges end off any boundary.
        for piece in in_pieces(&bytes, PACE as usize + 100) {
            paced.write_all(piece).unwrap();
        }
        let (written, started, waited) = (paced.written, paced.started, paced.waited);
        assert_eq!(written, bytes.len() as u64);
        assert!(written - started < PACE, "at most PACE bytes not yet handed over: {started} of {written}");
        assert!(started >= 4 * PACE && waited > 0 && waited < started, "waited {waited}, started {started}");
        file.sync_all().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
