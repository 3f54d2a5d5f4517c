//! Read views: a consistent snapshot of a collection as a list of segments.

use std::sync::Arc;

use proxima_core::{CollectionConfig, Metadata};
use serde::{Deserialize, Serialize};

use crate::Bitmap;

/// A set of rows with contiguous vectors. Within one view, a row is live when it
/// is the newest version of its id and that id is neither deleted nor soft-deleted;
/// engines work this out so that searches only check [`Segment::live`].
pub trait Segment: Send + Sync {
    /// An id unique among the collection's segments.
    fn segment_id(&self) -> u64;
    /// Whether the segment is immutable (sealed) rather than the write buffer.
    fn sealed(&self) -> bool;
    /// Number of rows, live or not.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Vector length.
    fn dimension(&self) -> usize;
    /// All vectors, row after row: `len() * dimension()` values.
    fn vectors(&self) -> &[f32];
    /// The vector of one row.
    fn vector(&self, row: usize) -> &[f32] {
        let d = self.dimension();
        &self.vectors()[row * d..(row + 1) * d]
    }
    /// The user id of a row.
    fn id(&self, row: usize) -> &str;
    /// The sequence number of a row's version.
    fn seq(&self, row: usize) -> u64;
    /// A row's metadata.
    fn metadata(&self, row: usize) -> &Metadata;
    /// A row's expiry (unix seconds), if any.
    fn expires_at(&self, row: usize) -> Option<u64>;
    /// Which rows are visible in this view.
    fn live(&self) -> &Bitmap;
    /// Index bytes the [`crate::IndexBuilder`] attached when the segment was sealed.
    fn index_bytes(&self) -> Option<&[u8]>;
    /// Min/max bounds of declared fields over row ranges, if the engine keeps them.
    fn zones(&self) -> &[crate::Zone] {
        &[]
    }
    /// For an unsealed segment that grew out of a sealed one in place (the
    /// mmap engine's single segment): that segment's index and the rows
    /// changed since, so its payload index keeps answering filters.
    fn earlier_index(&self) -> Option<EarlierIndex<'_>> {
        None
    }
}

/// The index of the sealed state an unsealed segment grew out of.
#[derive(Debug, Clone, Copy)]
pub struct EarlierIndex<'a> {
    /// The sealed segment's id, under which its index was built.
    pub segment_id: u64,
    /// Its rows; rows from here on were added since.
    pub rows: usize,
    /// The index bytes the [`crate::IndexBuilder`] attached to it.
    pub bytes: &'a [u8],
    /// Rows below `rows` whose id, vector or metadata may have changed since
    /// (a change of liveness alone shows in [`Segment::live`] instead).
    pub changed: &'a Bitmap,
}

/// An id hidden at a sequence number (deleted or soft-deleted), so that merges
/// across engines can drop older versions held elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The hidden id.
    pub id: String,
    /// The sequence number of the delete.
    pub seq: u64,
}

/// A snapshot of one collection: later writes never show in it.
pub trait ReadView: Send + Sync {
    /// The collection's configuration.
    fn config(&self) -> &CollectionConfig;
    /// The highest sequence number the view includes.
    fn seq(&self) -> u64;
    /// The segments, oldest first.
    fn segments(&self) -> &[Arc<dyn Segment>];
    /// Ids deleted or soft-deleted as of this view.
    fn tombstones(&self) -> &[Tombstone];
    /// Number of live rows over all segments.
    fn live_count(&self) -> usize {
        self.segments().iter().map(|s| s.live().count_ones()).sum()
    }
}

/// The plain [`ReadView`]: what an engine collected for one snapshot.
pub struct Snapshot {
    /// The collection's configuration.
    pub config: CollectionConfig,
    /// The highest sequence number included.
    pub seq: u64,
    /// The segments, oldest first.
    pub segments: Vec<Arc<dyn Segment>>,
    /// Ids deleted or soft-deleted as of `seq`.
    pub tombstones: Arc<[Tombstone]>,
}

impl ReadView for Snapshot {
    fn config(&self) -> &CollectionConfig {
        &self.config
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn segments(&self) -> &[Arc<dyn Segment>] {
        &self.segments
    }
    fn tombstones(&self) -> &[Tombstone] {
        &self.tombstones
    }
}
