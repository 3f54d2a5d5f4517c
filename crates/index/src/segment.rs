//! Indexes attached to sealed segments: the `IndexBuilder` hook engines call,
//! and loading the bytes they store back into a searchable index.

use proxima_core::{CollectionConfig, Error, IndexConfig, Result};
use proxima_engine::{IndexBuilder, Segment};

use crate::{Hnsw, HnswParams, Ivf, IvfParams};

/// A loaded segment index.
#[derive(Debug)]
pub enum SegmentIndex {
    /// A graph.
    Hnsw(Hnsw),
    /// An inverted file.
    Ivf(Ivf),
}

impl SegmentIndex {
    /// Loads index bytes stored beside a segment, whatever their kind.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.get(..8) {
            Some(b"PXHNSW01") => Hnsw::from_bytes(bytes).map(SegmentIndex::Hnsw),
            Some(b"PXIVF001") => Ivf::from_bytes(bytes).map(SegmentIndex::Ivf),
            _ => Err(Error::corrupted("segment index: unknown format")),
        }
    }

    /// The index as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SegmentIndex::Hnsw(h) => h.to_bytes(),
            SegmentIndex::Ivf(i) => i.to_bytes(),
        }
    }

    /// Rows indexed.
    pub fn len(&self) -> usize {
        match self {
            SegmentIndex::Hnsw(h) => h.len(),
            SegmentIndex::Ivf(i) => i.len(),
        }
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in memory.
    pub fn memory_bytes(&self) -> usize {
        match self {
            SegmentIndex::Hnsw(h) => h.memory_bytes(),
            SegmentIndex::Ivf(i) => i.memory_bytes(),
        }
    }
}

/// What kind of index some bytes hold, read from the header alone (no parsing, no copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSummary {
    /// A graph over `len` rows with `m` neighbours per node.
    Hnsw {
        /// Rows.
        len: usize,
        /// Neighbours per node on upper layers.
        m: usize,
    },
    /// An inverted file over `len` rows in `nlist` lists.
    Ivf {
        /// Rows.
        len: usize,
        /// Lists.
        nlist: usize,
    },
}

impl IndexSummary {
    /// Reads the header of index bytes; `None` when they are not an index this crate wrote.
    pub fn peek(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4")) as usize);
        match bytes.get(..8)? {
            b"PXHNSW01" => Some(IndexSummary::Hnsw { len: word(16)?, m: word(20)? }),
            b"PXIVF001" => Some(IndexSummary::Ivf { nlist: word(16)?, len: word(20)? }),
            _ => None,
        }
    }
}

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
        if segment.len() < self.min_rows {
            return Ok(None);
        }
        let dimension = config.dimension as usize;
        let index = match config.index {
            IndexConfig::Flat => return Ok(None),
            IndexConfig::Hnsw { m, ef_construction } => {
                let params = HnswParams::new(m as usize, ef_construction as usize);
                SegmentIndex::Hnsw(Hnsw::build(params, config.metric, dimension, segment.vectors(), self.threads)?)
            }
            IndexConfig::Ivf { nlist } => {
                let params = IvfParams::new(nlist as usize);
                SegmentIndex::Ivf(Ivf::train(params, config.metric, dimension, segment.vectors())?)
            }
        };
        Ok(Some(index.to_bytes()))
    }
}
