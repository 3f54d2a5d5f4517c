//! Segment files: naming, listing and scanning frames with torn-tail detection.

use std::path::{Path, PathBuf};

use proxima_core::{Error, Result};

use crate::frame::{HEADER_LEN, Header, MAX_PAYLOAD};

const SUFFIX: &str = ".wal";

/// The file name of the segment whose first record has `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// Segments in `dir` as `(first_seq, path)`, in order.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else { continue };
        let first_seq = stem.parse::<u64>().map_err(|_| {
            Error::corrupted("unexpected file in the log directory").with_context("file", entry.path().display())
        })?;
        segments.push((first_seq, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

/// How a scan of one segment ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Bytes of whole, valid frames.
    pub(crate) valid_len: u64,
    /// The sequence number after the last valid record.
    pub(crate) next_seq: u64,
    /// Whether bytes past `valid_len` are a torn write to cut off (rather than
    /// an end mark, and whatever lies past it).
    pub(crate) torn: bool,
}

/// Walks the frames of one segment's bytes, calling `visit(header, payload)` for each.
///
/// A header's worth of zeros ends any segment's frames: every frame is written
/// with an end mark after it, and what lies past the mark (zeros in a spare,
/// stale frames in a recycled segment) is never read. Logs written before end
/// marks end at the end of the file or at a spare's zeros, which read the same.
/// With `tail_may_tear`, a frame cut short by the end of the data, or one whose
/// payload fails its checksum and is not followed by the next frame, ends the
/// scan as torn. Anything else that fails a checksum is `Corrupted`, naming the
/// file (or object) and offset.
pub(crate) fn scan(
    source: &dyn std::fmt::Display,
    bytes: &[u8],
    first_seq: u64,
    tail_may_tear: bool,
    mut visit: impl FnMut(&Header, &[u8]) -> Result<()>,
) -> Result<ScanEnd> {
    let corrupted = |offset: usize, why: &str| {
        Error::corrupted(format!("write-ahead log is damaged: {why}"))
            .with_context("file", source)
            .with_context("offset", offset)
    };
    let mut offset = 0usize;
    let mut next_seq = first_seq;
    let torn = |offset: usize, next_seq: u64| Ok(ScanEnd { valid_len: offset as u64, next_seq, torn: true });
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        if rest[..rest.len().min(HEADER_LEN)].iter().all(|b| *b == 0) {
            return Ok(ScanEnd { valid_len: offset as u64, next_seq, torn: false });
        }
        if rest.len() < HEADER_LEN {
            return if tail_may_tear { torn(offset, next_seq) } else { Err(corrupted(offset, "short frame header")) };
        }
        let Some(header) = Header::parse(rest[..HEADER_LEN].try_into().expect("header length")) else {
            // A bad checksum over real bytes is damage.
            return Err(corrupted(offset, "frame header checksum mismatch"));
        };
        if header.payload_len > MAX_PAYLOAD {
            return Err(corrupted(offset, "frame length out of range"));
        }
        if header.first_seq != next_seq {
            return Err(corrupted(offset, &format!("expected sequence {next_seq}, found {}", header.first_seq)));
        }
        let end = offset + HEADER_LEN + header.payload_len;
        if end > bytes.len() {
            return if tail_may_tear { torn(offset, next_seq) } else { Err(corrupted(offset, "frame cut short")) };
        }
        let payload = &bytes[offset + HEADER_LEN..end];
        if crc32c::crc32c(payload) != header.payload_crc {
            // Only the very last frame may hold a partially persisted payload:
            // damage with the log going on after it is not a tear.
            let next_frame = bytes.get(end..end + HEADER_LEN).and_then(|h| Header::parse(h.try_into().ok()?));
            let continued = next_frame.is_some_and(|h| h.first_seq == next_seq + u64::from(header.count));
            return if tail_may_tear && !continued {
                torn(offset, next_seq)
            } else {
                Err(corrupted(offset, "frame payload checksum mismatch"))
            };
        }
        visit(&header, payload).map_err(|e| e.with_context("file", source).with_context("offset", offset))?;
        next_seq += u64::from(header.count);
        offset = end;
    }
    Ok(ScanEnd { valid_len: offset as u64, next_seq, torn: false })
}

/// Reads a whole segment file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// Makes a new entry in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync directory {}", dir.display()), e))
}
