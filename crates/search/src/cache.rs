//! Loaded segment indexes, so a query never parses index bytes again.

use std::sync::{Arc, Mutex};

use ahash::AHashMap;
use proxima_core::Result;
use proxima_index::SegmentIndex;

/// Identifies index bytes: the segment plus the bytes' length and trailing checksum,
/// so a segment id reused after compaction never finds a stale index.
type Key = (String, u64, usize, u32);

/// A byte-bounded cache of loaded indexes, least recently used evicted first.
#[derive(Debug)]
pub struct IndexCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: AHashMap<Key, (Arc<SegmentIndex>, u64)>,
    bytes: usize,
    tick: u64,
}

impl IndexCache {
    /// A cache holding at most `capacity_bytes` of loaded indexes.
    pub fn new(capacity_bytes: usize) -> Self {
        Self { capacity_bytes, inner: Mutex::new(Inner::default()) }
    }

    /// The loaded index for `bytes` of `segment_id` in `collection`.
    pub fn get_or_load(&self, collection: &str, segment_id: u64, bytes: &[u8]) -> Result<Arc<SegmentIndex>> {
        let crc = bytes.len().checked_sub(4).map_or(0, |at| u32::from_le_bytes(bytes[at..].try_into().expect("4")));
        let key = (collection.to_string(), segment_id, bytes.len(), crc);
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((index, used)) = inner.entries.get_mut(&key) {
                *used = tick;
                return Ok(index.clone());
            }
        }
        // Parse outside the lock: loading a large graph takes milliseconds.
        let index = Arc::new(SegmentIndex::from_bytes(bytes)?);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let size = index.memory_bytes();
        while inner.bytes + size > self.capacity_bytes && !inner.entries.is_empty() {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            if let Some((evicted, _)) = oldest.and_then(|k| inner.entries.remove(&k)) {
                inner.bytes -= evicted.memory_bytes();
            }
        }
        let tick = inner.tick;
        if inner.entries.insert(key, (index.clone(), tick)).is_none() {
            inner.bytes += size;
        }
        Ok(index)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}
