//! Segment files written around the page cache (`O_DIRECT`, Linux).
//!
//! A segment file's rows are in memory already, so its pages in the page cache
//! would be a copy nothing reads. Written through the cache, every file takes
//! pages the kernel must find and zero, and where a hypervisor's balloon
//! reports freed pages to the host, each fresh page is a host fault too.
//! Written direct,
//! a file's bytes go from one buffer this writer reuses straight to the disk,
//! a megabyte at a time: the disk also never receives a whole file in one
//! burst that the log's syncs would queue behind.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Alignment of the buffer's address, of file offsets and of write lengths
/// that `O_DIRECT` asks for (a multiple of every common logical block size).
const ALIGN: usize = 4096;

/// Bytes gathered before each write to the disk.
const BUFFER: usize = 1 << 20;

/// Creates `path` for direct writes; `None` where the filesystem does not
/// take them (tmpfs, say) or off Linux, so the caller writes it buffered.
pub(crate) fn create(path: &Path) -> std::io::Result<Option<File>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        let refused = |e: &std::io::Error| e.raw_os_error() == Some(libc::EINVAL);
        let file =
            match OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path) {
                Ok(file) => file,
                Err(e) if refused(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
        // Some filesystems open with O_DIRECT and then refuse the writes: one
        // aligned block (overwritten or cut away later) tells before any data.
        let (memory, start) = aligned_zeros(ALIGN);
        match file.write_all_at(&memory[start..start + ALIGN], 0) {
            Ok(()) => Ok(Some(file)),
            Err(e) if refused(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, OpenOptions::new());
        Ok(None)
    }
}

/// `len` zero bytes at an `ALIGN`-aligned address: the vector that holds
/// them, and where in it they start.
fn aligned_zeros(len: usize) -> (Vec<u8>, usize) {
    let memory = vec![0u8; len + ALIGN];
    let start = memory.as_ptr().align_offset(ALIGN);
    (memory, start)
}

/// Writes a file through one aligned buffer, a block-aligned write at a time.
/// [`DirectWriter::finish`] writes the last partial block (zero-padded) and
/// cuts the file to its length; the caller then fsyncs it.
pub(crate) struct DirectWriter<'a> {
    file: &'a File,
    /// `BUFFER + ALIGN` bytes, of which `BUFFER` from `start` are aligned.
    memory: Vec<u8>,
    start: usize,
    /// Bytes in the buffer, not yet written in full blocks.
    filled: usize,
    /// File offset of the buffer's first byte (a multiple of `BUFFER`).
    offset: u64,
}

impl<'a> DirectWriter<'a> {
    pub(crate) fn new(file: &'a File) -> Self {
        let (memory, start) = aligned_zeros(BUFFER);
        Self { file, memory, start, filled: 0, offset: 0 }
    }

    fn buffer(&mut self) -> &mut [u8] {
        &mut self.memory[self.start..self.start + BUFFER]
    }

    /// Writes the buffer's first `len` bytes (a multiple of `ALIGN`) at its offset.
    fn write_blocks(&mut self, len: usize) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let offset = self.offset;
        let file = self.file;
        file.write_all_at(&self.buffer()[..len], offset)
    }

    /// Writes what the buffer holds, zero-padded to whole blocks, and cuts
    /// the file to the bytes written; returns the file's length.
    pub(crate) fn finish(mut self) -> std::io::Result<u64> {
        self.flush()?;
        let length = self.offset + self.filled as u64;
        self.file.set_len(length)?;
        Ok(length)
    }
}

impl Write for DirectWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(BUFFER - self.filled);
        let at = self.filled;
        self.buffer()[at..at + n].copy_from_slice(&buf[..n]);
        self.filled += n;
        if self.filled == BUFFER {
            self.write_blocks(BUFFER)?;
            self.offset += BUFFER as u64;
            self.filled = 0;
        }
        Ok(n)
    }

    /// Writes the partial buffer, zero-padded to whole blocks; the bytes stay
    /// buffered, and the next full write (or `finish`) covers that block again.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let (filled, padded) = (self.filled, self.filled.next_multiple_of(ALIGN));
        self.buffer()[filled..padded].fill(0);
        self.write_blocks(padded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paced::in_pieces;

    fn written_through(file: &File, bytes: &[u8], flush_every: usize) -> u64 {
        let mut writer = DirectWriter::new(file);
        for (i, piece) in in_pieces(bytes, BUFFER + 5_000).enumerate() {
            writer.write_all(piece).unwrap();
            if i % flush_every == 0 {
                writer.flush().unwrap();
            }
        }
        writer.finish().unwrap()
    }

    /// Writes of every size, with flushes between some of them, give back
    /// exactly the bytes written: nothing of the padding is left.
    #[test]
    fn a_file_holds_exactly_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        for (len, flush_every) in [(0usize, 1usize), (1, 1), (ALIGN, 3), (BUFFER * 3 + 12_345, 2), (BUFFER * 2, 5)] {
            let path = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8 + 1).collect();
            // Direct where the filesystem takes it; the same logic on a plain file otherwise.
            let file = create(&path).unwrap().unwrap_or_else(|| File::create(&path).unwrap());
            assert_eq!(written_through(&file, &bytes, flush_every), len as u64);
            file.sync_all().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{len} bytes");
        }
    }
}
