//! How far a collection's segments are indexed: what an operator (or a
//! client waiting for an index before it measures) asks after an ingest.

use proxima_core::{IndexConfig, Result};
use proxima_index::{IndexParts, IndexSummary};
use proxima_search::SegmentIndexer;
use serde::Serialize;

use crate::Proxima;

/// Live rows with and without a vector index, over every partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IndexStatus {
    /// Live rows in segments searched through their graph (or IVF lists).
    pub indexed_rows: u64,
    /// Live rows searched by exact scans: small segments, the write buffer,
    /// and segments whose index is still being built.
    pub unindexed_rows: u64,
    /// Whether a segment large enough to be indexed has no index yet: one is
    /// being built, or the write buffer is waiting for its flush.
    pub building: bool,
    /// Bytes of the segments' stored indexes (vector and payload), what they
    /// take in memory once loaded.
    pub index_bytes: u64,
    /// The part of `index_bytes` that is 8-bit codes the graphs walk on.
    pub code_bytes: u64,
}

impl Proxima {
    /// How far `collection`'s segments are indexed.
    pub async fn index_status(&self, collection: &str) -> Result<IndexStatus> {
        let (holders, config) = self.holders(collection).await?;
        let min_rows = SegmentIndexer::default().min_rows;
        let mut status = IndexStatus::default();
        for (_, engine) in holders {
            let view = engine.read_view(collection).await?;
            for segment in view.segments() {
                let live = segment.live().count_ones() as u64;
                let stored = segment.index_bytes().unwrap_or_default();
                status.index_bytes += stored.len() as u64;
                if let Some(IndexSummary::Hnsw { code_bytes, .. }) = IndexSummary::peek(stored) {
                    status.code_bytes += code_bytes as u64;
                }
                let indexed = !stored.is_empty() && IndexParts::of(stored).ok().is_some_and(|p| p.vector.is_some());
                if indexed {
                    status.indexed_rows += live;
                } else {
                    status.unindexed_rows += live;
                    status.building |= config.index != IndexConfig::Flat && segment.len() >= min_rows;
                }
            }
        }
        Ok(status)
    }
}
