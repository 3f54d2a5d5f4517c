//! The `IndexBuilder` hook engines call when they seal a segment: the
//! collection's vector index and, for declared fields, the payload index,
//! bundled into the one blob the engine stores beside the segment. It lives
//! here, not in `proxima-index`, so the index crate works on rows and knows
//! no engine.

use proxima_core::{CollectionConfig, IndexConfig, Result};
use proxima_engine::{IndexBuilder, Segment};
use proxima_index::{Hnsw, HnswParams, IndexParts, Ivf, IvfParams, SegmentIndex};
use proxima_payload::PayloadIndex;

/// The `IndexBuilder` engines are opened with: builds the collection's
/// configured index for each sealed segment big enough to need one.
#[derive(Debug, Clone)]
pub struct SegmentIndexer {
    /// Segments with fewer rows are left to exact scans, which are faster at that size.
    pub min_rows: usize,
    /// Build threads.
    pub threads: usize,
}

impl Default for SegmentIndexer {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { min_rows: 2_000, threads }
    }
}

impl IndexBuilder for SegmentIndexer {
    fn build(&self, config: &CollectionConfig, segment: &dyn Segment) -> Result<Option<Vec<u8>>> {
        let vector = self.vector_index(config, segment)?.map(|index| index.to_bytes());
        if config.fields.is_empty() {
            return Ok(vector);
        }
        let payload = PayloadIndex::build(&config.fields, (0..segment.len()).map(|row| segment.metadata(row)));
        Ok(Some(IndexParts::bundle(vector.as_deref(), &payload.to_bytes())))
    }
}

impl SegmentIndexer {
    fn vector_index(&self, config: &CollectionConfig, segment: &dyn Segment) -> Result<Option<SegmentIndex>> {
        if segment.len() < self.min_rows {
            return Ok(None);
        }
        let dimension = config.dimension as usize;
        Ok(Some(match config.index {
            IndexConfig::Flat => return Ok(None),
            IndexConfig::Hnsw { m, ef_construction } => {
                let params = HnswParams::new(m as usize, ef_construction as usize);
                SegmentIndex::Hnsw(Hnsw::build(params, config.metric, dimension, segment.vectors(), self.threads)?)
            }
            IndexConfig::Ivf { nlist } => {
                let params = IvfParams::new(nlist as usize);
                SegmentIndex::Ivf(Ivf::train(params, config.metric, dimension, segment.vectors())?)
            }
        }))
    }
}
