//! The sorted-run file (`run-<id>.sst`):
//!
//! ```text
//! data block*   bincode(Vec<Entry>) + crc32c, rows sorted by id, ~64 KiB each
//! bloom         filter words (LE u64) + crc32c
//! block index   bincode(Vec<BlockHandle>) + crc32c: first id, offset, length, rows
//! footer        76 bytes: magic "PXLSMSST", dimension u32, reserved u32, rows u64,
//!               min seq u64, max seq u64, bloom offset/len u64, index offset/len u64, crc32c of the above
//! ```
//!
//! Every part is checked when read; damage gives `Corrupted` naming the file.

use serde::{Deserialize, Serialize};

use crate::bloom::Bloom;
use crate::part::{Kind, Rows, Version};

const MAGIC: &[u8; 8] = b"PXLSMSST";
const FOOTER: usize = 76;
const BLOCK_BYTES: usize = 64 << 10;

/// An entry as written: borrowed from the rows, encoded exactly like `Entry`.
#[derive(Serialize)]
struct EntryRef<'a> {
    id: &'a str,
    seq: u64,
    op_seq: u64,
    kind: Kind,
    expires_at: Option<u64>,
    metadata: String,
    #[serde(with = "proxima_core::vector_bytes")]
    vector: &'a [f32],
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    seq: u64,
    op_seq: u64,
    kind: Kind,
    expires_at: Option<u64>,
    /// JSON text, empty for empty metadata.
    metadata: String,
    #[serde(with = "proxima_core::vector_bytes")]
    vector: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct BlockHandle {
    first_id: String,
    offset: u64,
    len: u64,
    rows: u32,
}

/// Figures from a run file's footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunStats {
    pub(crate) rows: u64,
    pub(crate) min_seq: u64,
    pub(crate) max_seq: u64,
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

fn with_crc(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
}

/// Encodes rows sorted by id (unique) into a run file.
pub(crate) fn encode(rows: &Rows) -> Result<(Vec<u8>, RunStats), String> {
    let c = &rows.chunk;
    let mut out = Vec::new();
    let mut handles = Vec::new();
    let mut block: Vec<EntryRef<'_>> = Vec::new();
    let mut block_bytes = 0;
    let flush =
        |block: &mut Vec<EntryRef<'_>>, out: &mut Vec<u8>, handles: &mut Vec<BlockHandle>| -> Result<(), String> {
            if block.is_empty() {
                return Ok(());
            }
            let payload = bincode::serde::encode_to_vec(&*block, config()).map_err(|e| e.to_string())?;
            handles.push(BlockHandle {
                first_id: block[0].id.to_string(),
                offset: out.len() as u64,
                len: payload.len() as u64 + 4,
                rows: block.len() as u32,
            });
            with_crc(out, &payload);
            block.clear();
            Ok(())
        };
    for row in 0..rows.len() {
        let metadata = if c.metadata[row].is_empty() {
            String::new()
        } else {
            serde_json::to_string(&c.metadata[row]).map_err(|e| e.to_string())?
        };
        block_bytes += c.ids[row].len() + metadata.len() + c.dimension * 4 + 40;
        block.push(EntryRef {
            id: &c.ids[row],
            seq: c.seqs[row],
            op_seq: rows.op_seqs[row],
            kind: rows.kinds[row],
            expires_at: c.expires_at[row],
            metadata,
            vector: c.vector(row),
        });
        if block_bytes >= BLOCK_BYTES {
            flush(&mut block, &mut out, &mut handles)?;
            block_bytes = 0;
        }
    }
    flush(&mut block, &mut out, &mut handles)?;
    let bloom = Bloom::build(c.ids.iter().map(String::as_str)).to_bytes();
    let bloom_at = out.len() as u64;
    with_crc(&mut out, &bloom);
    let index = bincode::serde::encode_to_vec(&handles, config()).map_err(|e| e.to_string())?;
    let index_at = out.len() as u64;
    with_crc(&mut out, &index);
    let stats = RunStats {
        rows: rows.len() as u64,
        min_seq: rows.op_seqs.iter().copied().min().unwrap_or(0),
        max_seq: rows.op_seqs.iter().copied().max().unwrap_or(0),
    };
    let mut footer = Vec::with_capacity(FOOTER);
    footer.extend_from_slice(MAGIC);
    footer.extend_from_slice(&(c.dimension as u32).to_le_bytes());
    footer.extend_from_slice(&0u32.to_le_bytes());
    for v in
        [stats.rows, stats.min_seq, stats.max_seq, bloom_at, bloom.len() as u64 + 4, index_at, index.len() as u64 + 4]
    {
        footer.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32c::crc32c(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&footer);
    Ok((out, stats))
}

/// A checked section `[offset, offset + len)` (payload + crc) of the file.
fn section<'a>(bytes: &'a [u8], offset: u64, len: u64, what: &str) -> Result<&'a [u8], String> {
    let end = offset.checked_add(len).filter(|e| *e <= bytes.len() as u64 && len >= 4);
    let end = end.ok_or_else(|| format!("the {what} lies outside the file"))? as usize;
    let (payload, crc) = bytes[offset as usize..end].split_at(len as usize - 4);
    if crc32c::crc32c(payload).to_le_bytes() != crc {
        return Err(format!("the {what} fails its checksum"));
    }
    Ok(payload)
}

/// Decodes and checks a run file; returns its rows, bloom filter and stats.
pub(crate) fn decode(bytes: &[u8], dimension: usize) -> Result<(Rows, Bloom, RunStats), String> {
    if bytes.len() < FOOTER {
        return Err("shorter than a footer".into());
    }
    let footer = &bytes[bytes.len() - FOOTER..];
    if &footer[..8] != MAGIC {
        return Err("bad magic".into());
    }
    if crc32c::crc32c(&footer[..FOOTER - 4]).to_le_bytes() != footer[FOOTER - 4..] {
        return Err("the footer fails its checksum".into());
    }
    let u64_at = |i: usize| u64::from_le_bytes(footer[16 + i * 8..24 + i * 8].try_into().expect("8 bytes"));
    let stored_dimension = u32::from_le_bytes(footer[8..12].try_into().expect("4 bytes")) as usize;
    if stored_dimension != dimension {
        return Err(format!("holds {stored_dimension}-d vectors, the collection is {dimension}-d"));
    }
    let stats = RunStats { rows: u64_at(0), min_seq: u64_at(1), max_seq: u64_at(2) };
    let bloom = section(bytes, u64_at(3), u64_at(4), "bloom filter")?;
    let bloom = Bloom::from_bytes(bloom).ok_or("the bloom filter is malformed")?;
    let index = section(bytes, u64_at(5), u64_at(6), "block index")?;
    let (handles, _): (Vec<BlockHandle>, usize) = bincode::serde::decode_from_slice(index, config())
        .map_err(|e| format!("the block index does not decode: {e}"))?;
    let mut rows = Rows::new(dimension);
    for (i, handle) in handles.iter().enumerate() {
        let payload = section(bytes, handle.offset, handle.len, &format!("block {i}"))?;
        let (entries, _): (Vec<Entry>, usize) = bincode::serde::decode_from_slice(payload, config())
            .map_err(|e| format!("block {i} does not decode: {e}"))?;
        if entries.len() != handle.rows as usize || entries.first().map(|e| &e.id) != Some(&handle.first_id) {
            return Err(format!("block {i} disagrees with the block index"));
        }
        for e in entries {
            if e.vector.len() != dimension {
                return Err(format!("row `{}` has {} values", e.id, e.vector.len()));
            }
            if rows.chunk.ids.last().is_some_and(|last| *last >= e.id) {
                return Err(format!("ids out of order at `{}`", e.id));
            }
            let metadata = if e.metadata.is_empty() {
                Default::default()
            } else {
                serde_json::from_str(&e.metadata).map_err(|err| format!("row `{}` metadata: {err}", e.id))?
            };
            rows.push(Version {
                id: e.id,
                seq: e.seq,
                op_seq: e.op_seq,
                kind: e.kind,
                vector: &e.vector,
                metadata,
                expires_at: e.expires_at,
            });
        }
    }
    if rows.len() as u64 != stats.rows {
        return Err(format!("{} rows, the footer says {}", rows.len(), stats.rows));
    }
    Ok((rows, bloom, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Rows {
        let mut rows = Rows::new(3);
        for i in 0..n {
            let kind = [Kind::Put, Kind::Soft, Kind::Tombstone][i % 3];
            rows.push(Version {
                id: format!("id{i:06}"),
                seq: i as u64 + 1,
                op_seq: i as u64 + 10,
                kind,
                vector: &[i as f32, 1.0, -2.5],
                metadata: serde_json::json!({"i": i}).as_object().cloned().unwrap_or_default(),
                expires_at: (i % 4 == 0).then_some(99),
            });
        }
        rows
    }

    #[test]
    fn round_trip_over_many_blocks() {
        let original = rows(5_000);
        let (bytes, stats) = encode(&original).unwrap();
        assert_eq!(stats, RunStats { rows: 5_000, min_seq: 10, max_seq: 5_009 });
        let (decoded, bloom, read_stats) = decode(&bytes, 3).unwrap();
        assert_eq!(read_stats, stats);
        assert_eq!(decoded.chunk, original.chunk);
        assert_eq!(decoded.kinds, original.kinds);
        assert_eq!(decoded.op_seqs, original.op_seqs);
        assert!(bloom.may_contain("id000042"));
    }

    #[test]
    fn any_flipped_byte_or_cut_is_an_error() {
        let (bytes, _) = encode(&rows(2_000)).unwrap();
        for at in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(decode(&damaged, 3).is_err(), "flip at {at} went unnoticed");
        }
        assert!(decode(&bytes[..bytes.len() - 1], 3).is_err());
        assert!(decode(&bytes[1..], 3).is_err());
        assert!(decode(&bytes, 4).is_err(), "wrong dimension");
    }
}
