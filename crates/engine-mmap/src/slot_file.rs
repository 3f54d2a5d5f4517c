//! `slots.bin`: the slot table as of a checkpoint — what each slot of the
//! vector file holds, the hidden ids, the next sequence number — and
//! `index.bin`, the index bytes of one generation. Both are written to a temp
//! file, fsynced and renamed over the old one (then the directory is fsynced).
//!
//! Layout of each: 8-byte magic, a bincode payload, the payload's crc32c (LE).

use std::path::Path;

use proxima_core::{CollectionConfig, Error, Result};
use serde::{Deserialize, Serialize};

use crate::slot_table::{SlotRow, SlotState};

pub(crate) const SLOTS_FILE: &str = "slots.bin";
pub(crate) const INDEX_FILE: &str = "index.bin";
const SLOTS_MAGIC: &[u8; 8] = b"PXMMSLT1";
const INDEX_MAGIC: &[u8; 8] = b"PXMMIDX1";

/// One slot as stored.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredSlot {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) state: SlotState,
    pub(crate) expires_at: Option<u64>,
    /// JSON text; empty for empty metadata (most rows), which then costs no parse.
    pub(crate) metadata: String,
}

impl StoredSlot {
    pub(crate) fn from_row(row: &SlotRow) -> Self {
        // Dead rows are free after a restart: no view from before it exists.
        if matches!(row.state, SlotState::Free | SlotState::Dead) {
            return Self {
                id: String::new(),
                seq: 0,
                state: SlotState::Free,
                expires_at: None,
                metadata: String::new(),
            };
        }
        let metadata = if row.metadata.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&row.metadata).unwrap_or_default()
        };
        Self { id: row.id.clone(), seq: row.seq, state: row.state, expires_at: row.expires_at, metadata }
    }

    pub(crate) fn into_row(self) -> std::result::Result<SlotRow, serde_json::Error> {
        let metadata =
            if self.metadata.is_empty() { Default::default() } else { serde_json::from_str(&self.metadata)? };
        Ok(SlotRow { id: self.id, seq: self.seq, metadata, expires_at: self.expires_at, state: self.state })
    }
}

/// The whole slot table as of a checkpoint.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SlotsFile {
    /// The collection's config as JSON (its serde attributes assume a self-describing format).
    pub(crate) config: String,
    /// The sequence number the next operation gets.
    pub(crate) next_seq: u64,
    /// Bumped by every applied batch; names the index it matches.
    pub(crate) generation: u64,
    pub(crate) slots: Vec<StoredSlot>,
    /// Deleted and soft-deleted ids with the sequence that hid them.
    pub(crate) hidden: Vec<(String, u64)>,
}

impl SlotsFile {
    pub(crate) fn config(&self, path: &Path) -> Result<CollectionConfig> {
        serde_json::from_str(&self.config).map_err(|e| {
            Error::corrupted("the collection config does not decode")
                .with_context("file", path.display())
                .with_source(e)
        })
    }
}

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Writes `payload` under `magic` to `dir/name` atomically.
fn write_atomic(dir: &Path, name: &str, magic: &[u8; 8], payload: &[u8]) -> Result<()> {
    use std::io::Write;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |what: &str, e| Error::io(format!("cannot {what} {}", tmp.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
    file.write_all(magic).map_err(|e| io("write", e))?;
    file.write_all(payload).map_err(|e| io("write", e))?;
    file.write_all(&crc32c::crc32c(payload).to_le_bytes()).map_err(|e| io("write", e))?;
    file.sync_all().map_err(|e| io("sync", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(format!("cannot rename to {}", path.display()), e))?;
    sync_dir(dir)
}

/// Reads and checks a file written by `write_atomic`; `None` if it does not exist.
fn read_checked(path: &Path, magic: &[u8; 8]) -> Result<Option<Vec<u8>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let corrupted = |why: &str| Error::corrupted(why.to_string()).with_context("file", path.display());
    if bytes.len() < 12 || &bytes[..8] != magic {
        return Err(corrupted("bad magic or cut short"));
    }
    let (payload, crc) = bytes[8..].split_at(bytes.len() - 12);
    if crc32c::crc32c(payload).to_le_bytes() != crc {
        return Err(corrupted("checksum mismatch"));
    }
    Ok(Some(payload.to_vec()))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync directory {}", dir.display()), e))
}

impl SlotsFile {
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let payload = bincode::serde::encode_to_vec(self, bincode_config())
            .map_err(|e| Error::internal(format!("cannot encode the slot table: {e}")))?;
        write_atomic(dir, SLOTS_FILE, SLOTS_MAGIC, &payload)
    }

    /// The slot table in `dir`, `None` when there is none (no collection).
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(SLOTS_FILE);
        let Some(payload) = read_checked(&path, SLOTS_MAGIC)? else { return Ok(None) };
        let (file, _): (Self, usize) = bincode::serde::decode_from_slice(&payload, bincode_config()).map_err(|e| {
            Error::corrupted(format!("the slot table does not decode: {e}")).with_context("file", path.display())
        })?;
        Ok(Some(file))
    }
}

/// Writes index bytes for `generation`.
pub(crate) fn write_index(dir: &Path, generation: u64, bytes: &[u8]) -> Result<()> {
    let mut payload = generation.to_le_bytes().to_vec();
    payload.extend_from_slice(bytes);
    write_atomic(dir, INDEX_FILE, INDEX_MAGIC, &payload)
}

/// The stored index bytes if they were built for `generation`.
pub(crate) fn read_index(dir: &Path, generation: u64) -> Result<Option<Vec<u8>>> {
    let Some(payload) = read_checked(&dir.join(INDEX_FILE), INDEX_MAGIC)? else { return Ok(None) };
    let stored = payload.get(..8).map(|g| u64::from_le_bytes(g.try_into().expect("8 bytes")));
    Ok((stored == Some(generation)).then(|| payload[8..].to_vec()))
}
