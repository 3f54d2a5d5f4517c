//! Encoding and checking one frame: header + bincode payload.

use proxima_core::{Error, Result};
use serde::{Serialize, de::DeserializeOwned};

/// Bytes in a frame header.
pub(crate) const HEADER_LEN: usize = 24;
/// Zero bytes written right after every frame, in the same write: the end of
/// a segment's frames. What lies past it (the stale frames of a recycled
/// segment) is never read. The next frame overwrites it.
pub(crate) const END_MARK_LEN: usize = HEADER_LEN;
/// Frames larger than this are refused on write and treated as corruption on read.
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// A frame whose header still lacks its sequence number (assigned under the log lock).
pub(crate) struct PendingFrame {
    /// Header, payload and end mark.
    pub(crate) bytes: Vec<u8>,
    pub(crate) count: u32,
    payload_crc: u32,
}

impl PendingFrame {
    /// Serialises `records` into `bytes` (a spare buffer, emptied first) and
    /// checksums the payload, outside any lock.
    pub(crate) fn encode<R: Serialize>(records: &[R], mut bytes: Vec<u8>) -> Result<Self> {
        let count = u32::try_from(records.len()).map_err(|_| Error::invalid("too many records in one append"))?;
        bytes.clear();
        bytes.resize(HEADER_LEN, 0);
        bincode::serde::encode_into_std_write(records, &mut bytes, bincode_config())
            .map_err(|e| Error::invalid(format!("record cannot be encoded: {e}")))?;
        let payload_len = bytes.len() - HEADER_LEN;
        if payload_len > MAX_PAYLOAD {
            return Err(Error::invalid(format!(
                "append of {payload_len} bytes exceeds the {MAX_PAYLOAD}-byte frame limit"
            )));
        }
        let payload_crc = crc32c::crc32c(&bytes[HEADER_LEN..]);
        bytes.resize(bytes.len() + END_MARK_LEN, 0);
        Ok(Self { bytes, count, payload_crc })
    }

    /// Bytes of the frame itself, without its end mark.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - END_MARK_LEN
    }

    /// Fills in the header for `first_seq`.
    pub(crate) fn seal(&mut self, first_seq: u64) {
        let payload_len = (self.len() - HEADER_LEN) as u32;
        let h = &mut self.bytes[..HEADER_LEN];
        h[0..4].copy_from_slice(&payload_len.to_le_bytes());
        h[4..8].copy_from_slice(&self.count.to_le_bytes());
        h[8..16].copy_from_slice(&first_seq.to_le_bytes());
        h[16..20].copy_from_slice(&self.payload_crc.to_le_bytes());
        let header_crc = crc32c::crc32c(&h[0..20]);
        h[20..24].copy_from_slice(&header_crc.to_le_bytes());
    }
}

/// A decoded, checksum-verified frame header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) payload_len: usize,
    pub(crate) count: u32,
    pub(crate) first_seq: u64,
    pub(crate) payload_crc: u32,
}

impl Header {
    /// Parses a header; `None` when its checksum fails.
    pub(crate) fn parse(bytes: &[u8; HEADER_LEN]) -> Option<Self> {
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&bytes[0..20]) != u32_at(20) {
            return None;
        }
        Some(Self {
            payload_len: u32_at(0) as usize,
            count: u32_at(4),
            first_seq: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            payload_crc: u32_at(16),
        })
    }
}

/// Decodes a checksum-verified payload.
pub(crate) fn decode_payload<R: DeserializeOwned>(payload: &[u8], count: u32) -> Result<Vec<R>> {
    let (records, used): (Vec<R>, usize) = bincode::serde::decode_from_slice(payload, bincode_config())
        .map_err(|e| Error::corrupted(format!("frame payload does not decode: {e}")))?;
    if used != payload.len() || records.len() != count as usize {
        return Err(Error::corrupted("frame payload length disagrees with its header"));
    }
    Ok(records)
}
