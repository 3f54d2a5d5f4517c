//! A read view of an mmap collection: one segment whose vectors are the mapped
//! file itself (zero copy), with the slot table's chunks and the liveness
//! bitmap as of the view. The pin tells the collection which freed slots the
//! view could still see, so they are not handed out again while it lives.

use std::sync::Arc;

use proxima_core::Metadata;
use proxima_engine::{Bitmap, EarlierIndex, Segment};

use crate::slot_table::{CHUNK, SlotRow};
use crate::vector_file::Mapping;

pub(crate) struct MmapSegment {
    pub(crate) generation: u64,
    pub(crate) sealed: bool,
    pub(crate) dimension: usize,
    pub(crate) rows: usize,
    pub(crate) mapping: Arc<Mapping>,
    pub(crate) chunks: Vec<Arc<Vec<SlotRow>>>,
    pub(crate) live: Arc<Bitmap>,
    pub(crate) index: Option<Arc<[u8]>>,
    /// The last sealed state's index, while unsealed.
    pub(crate) earlier: Option<Earlier>,
    pub(crate) _pin: Arc<()>,
}

/// The index of the collection's last sealed state and the slots written or
/// whose metadata changed since, kept until the next flush seals it again.
#[derive(Clone)]
pub(crate) struct Earlier {
    pub(crate) generation: u64,
    pub(crate) rows: usize,
    pub(crate) index: Arc<[u8]>,
    pub(crate) changed: Arc<Bitmap>,
}

impl Earlier {
    pub(crate) fn new(generation: u64, rows: usize, index: Arc<[u8]>) -> Self {
        Earlier { generation, rows, index, changed: Arc::new(Bitmap::all_unset(rows)) }
    }

    /// Notes that `slot` no longer holds what the index was built from.
    pub(crate) fn change(&mut self, slot: u32) {
        if (slot as usize) < self.rows {
            Arc::make_mut(&mut self.changed).set(slot as usize, true);
        }
    }
}

impl MmapSegment {
    fn row(&self, row: usize) -> &SlotRow {
        &self.chunks[row / CHUNK][row % CHUNK]
    }
}

impl Segment for MmapSegment {
    fn segment_id(&self) -> u64 {
        self.generation
    }
    fn sealed(&self) -> bool {
        self.sealed
    }
    fn len(&self) -> usize {
        self.rows
    }
    fn dimension(&self) -> usize {
        self.dimension
    }
    fn vectors(&self) -> &[f32] {
        self.mapping.rows(self.rows, self.dimension)
    }
    fn id(&self, row: usize) -> &str {
        &self.row(row).id
    }
    fn seq(&self, row: usize) -> u64 {
        self.row(row).seq
    }
    fn metadata(&self, row: usize) -> &Metadata {
        &self.row(row).metadata
    }
    fn expires_at(&self, row: usize) -> Option<u64> {
        self.row(row).expires_at
    }
    fn live(&self) -> &Bitmap {
        &self.live
    }
    fn index_bytes(&self) -> Option<&[u8]> {
        self.index.as_deref()
    }
    fn earlier_index(&self) -> Option<EarlierIndex<'_>> {
        let earlier = self.earlier.as_ref().filter(|_| !self.sealed)?;
        Some(EarlierIndex {
            segment_id: earlier.generation,
            rows: earlier.rows,
            bytes: &earlier.index,
            changed: &earlier.changed,
        })
    }
}
