//! Loaded segment indexes, so a query never parses index bytes again.

use std::hash::Hash;
use std::sync::{Arc, Mutex};

use ahash::AHashMap;
use proxima_core::Result;
use proxima_index::SegmentIndex;
use proxima_payload::PayloadIndex;

/// Identifies index bytes: the segment plus the bytes' length and trailing checksum,
/// so a segment id reused after compaction never finds a stale index.
type Key = (String, u64, usize, u32);

/// A byte-bounded cache of loaded vector indexes, least recently used evicted first.
#[derive(Debug)]
pub struct IndexCache(Loaded<Key, SegmentIndex>);

impl IndexCache {
    /// A cache holding at most `capacity_bytes` of loaded indexes.
    pub fn new(capacity_bytes: usize) -> Self {
        Self(Loaded::new(capacity_bytes))
    }

    /// The loaded index for `bytes` of `segment_id` in `collection`.
    pub fn get_or_load(&self, collection: &str, segment_id: u64, bytes: &[u8]) -> Result<Arc<SegmentIndex>> {
        let key = (collection.to_string(), segment_id, bytes.len(), trailing_checksum(bytes));
        // Parsed outside the lock: loading a large graph takes milliseconds.
        self.0.get_or_load(key, SegmentIndex::memory_bytes, || SegmentIndex::from_bytes(bytes))
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }
}

/// The checksum stored bytes end with (indexes and payload indexes alike), to
/// tell apart bytes of the same length; 0 when there are fewer than four.
pub(crate) fn trailing_checksum(bytes: &[u8]) -> u32 {
    bytes.len().checked_sub(4).map_or(0, |at| u32::from_le_bytes(bytes[at..].try_into().expect("4")))
}

/// Payload indexes by segment: `(collection, segment id, rows, fingerprint)`.
pub(crate) type PayloadKey = (String, u64, usize, u64);

/// Loaded payload indexes.
pub(crate) type PayloadCache = Loaded<PayloadKey, PayloadIndex>;

/// Filters answered by a segment's payload index, by segment and the filter's JSON.
pub(crate) type FilterCache = Loaded<(PayloadKey, String), crate::payload::RowFilter>;

/// Values loaded on demand and kept up to a byte budget, least recently used
/// evicted first.
#[derive(Debug)]
pub(crate) struct Loaded<K, V> {
    capacity_bytes: usize,
    /// Eviction scans every entry, so their number is bounded too.
    max_entries: usize,
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    entries: AHashMap<K, (Arc<V>, usize, u64)>,
    bytes: usize,
    tick: u64,
}

impl<K: Hash + Eq + Clone, V> Loaded<K, V> {
    pub(crate) fn new(capacity_bytes: usize) -> Self {
        let inner = Mutex::new(Inner { entries: AHashMap::new(), bytes: 0, tick: 0 });
        Self { capacity_bytes, max_entries: 4_096, inner }
    }

    /// The value under `key`, loaded by `load` (outside the lock) when absent.
    pub(crate) fn get_or_load(
        &self,
        key: K,
        weigh: impl Fn(&V) -> usize,
        load: impl FnOnce() -> Result<V>,
    ) -> Result<Arc<V>> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((value, _, used)) = inner.entries.get_mut(&key) {
                *used = tick;
                return Ok(value.clone());
            }
        }
        let value = Arc::new(load()?);
        let size = weigh(&value);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while (inner.bytes + size > self.capacity_bytes || inner.entries.len() >= self.max_entries)
            && !inner.entries.is_empty()
        {
            let oldest = inner.entries.iter().min_by_key(|(_, (_, _, used))| *used).map(|(k, _)| k.clone());
            if let Some((_, evicted, _)) = oldest.and_then(|k| inner.entries.remove(&k)) {
                inner.bytes -= evicted;
            }
        }
        let tick = inner.tick;
        if let Some((_, replaced, _)) = inner.entries.insert(key, (value.clone(), size, tick)) {
            inner.bytes -= replaced;
        }
        inner.bytes += size;
        Ok(value)
    }

    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}
