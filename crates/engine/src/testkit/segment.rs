//! A segment over rows held in memory, shaped by hand: for tests and
//! benchmarks of what reads segments (the search handler, payload indexes).

use crate::state::Chunk;
use crate::{Bitmap, EarlierIndex, Segment, Zone};
use proxima_core::Metadata;

/// Rows of a [`Chunk`], every one live unless `live` says otherwise.
pub struct RowsSegment {
    /// The rows.
    pub rows: Chunk,
    /// Whether the segment reports itself sealed.
    pub sealed: bool,
    /// Which rows are visible.
    pub live: Bitmap,
    /// Index bytes, as an index hook would attach them.
    pub index: Option<Vec<u8>>,
    /// For an unsealed segment: the earlier sealed state's id, rows and index
    /// bytes, and the rows changed since.
    pub earlier: Option<(u64, usize, Vec<u8>, Bitmap)>,
}

impl RowsSegment {
    /// A sealed segment of `rows`, all live, with no index.
    pub fn sealed(rows: Chunk) -> Self {
        let live = Bitmap::all_set(rows.len());
        RowsSegment { rows, sealed: true, live, index: None, earlier: None }
    }
}

impl Segment for RowsSegment {
    fn segment_id(&self) -> u64 {
        self.rows.segment_id
    }
    fn sealed(&self) -> bool {
        self.sealed
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn dimension(&self) -> usize {
        self.rows.dimension
    }
    fn vectors(&self) -> &[f32] {
        &self.rows.vectors
    }
    fn id(&self, row: usize) -> &str {
        &self.rows.ids[row]
    }
    fn seq(&self, row: usize) -> u64 {
        self.rows.seqs[row]
    }
    fn metadata(&self, row: usize) -> &Metadata {
        &self.rows.metadata[row]
    }
    fn expires_at(&self, row: usize) -> Option<u64> {
        self.rows.expires_at[row]
    }
    fn live(&self) -> &Bitmap {
        &self.live
    }
    fn index_bytes(&self) -> Option<&[u8]> {
        self.index.as_deref()
    }
    fn zones(&self) -> &[Zone] {
        &self.rows.zones
    }
    fn earlier_index(&self) -> Option<EarlierIndex<'_>> {
        let (segment_id, rows, bytes, changed) = self.earlier.as_ref()?;
        Some(EarlierIndex { segment_id: *segment_id, rows: *rows, bytes, changed })
    }
}
