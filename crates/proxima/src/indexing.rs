//! How far a collection's segments are indexed: what an operator (or a
//! client waiting for an index before it measures) asks after an ingest.

use proxima_core::{IndexConfig, Result};
use proxima_index::IndexParts;
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
                let indexed =
                    segment.index_bytes().and_then(|b| IndexParts::of(b).ok()).is_some_and(|p| p.vector.is_some());
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
