//! What each slot of the vector file holds — id, sequence, metadata, expiry,
//! state — in chunks shared with read views: a write copies only the chunk it
//! touches, and only while a view still holds that chunk.

use std::sync::Arc;

use proxima_core::Metadata;

/// Slots per chunk: small enough that copying one for a write is cheap.
pub(crate) const CHUNK: usize = 1024;

/// A slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum SlotState {
    /// Never used, or reclaimed: may be handed out again.
    Free,
    /// Holds the newest version of its id.
    Live,
    /// Holds the newest version of a soft-deleted id.
    SoftDeleted,
    /// Holds a replaced or deleted version; reclaimed at a checkpoint once no view can see it.
    Dead,
}

/// One slot's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlotRow {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) metadata: Metadata,
    pub(crate) expires_at: Option<u64>,
    pub(crate) state: SlotState,
}

impl SlotRow {
    pub(crate) fn free() -> Self {
        Self { id: String::new(), seq: 0, metadata: Metadata::new(), expires_at: None, state: SlotState::Free }
    }
}

/// Rows by slot, in shared chunks.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotTable {
    chunks: Vec<Arc<Vec<SlotRow>>>,
    len: usize,
}

impl SlotTable {
    /// Slots in use or ever used (the high-water mark).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn row(&self, slot: u32) -> &SlotRow {
        let slot = slot as usize;
        &self.chunks[slot / CHUNK][slot % CHUNK]
    }

    /// The row for writing (copies its chunk if a view holds it).
    pub(crate) fn row_mut(&mut self, slot: u32) -> &mut SlotRow {
        let slot = slot as usize;
        &mut Arc::make_mut(&mut self.chunks[slot / CHUNK])[slot % CHUNK]
    }

    /// Appends a slot at the end; returns its number.
    pub(crate) fn push(&mut self, row: SlotRow) -> u32 {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        Arc::make_mut(self.chunks.last_mut().expect("a chunk was pushed")).push(row);
        self.len += 1;
        (self.len - 1) as u32
    }

    /// The chunks, for a view.
    pub(crate) fn chunks(&self) -> Vec<Arc<Vec<SlotRow>>> {
        self.chunks.clone()
    }

    /// Every slot with its row.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &SlotRow)> {
        self.chunks.iter().flat_map(|c| c.iter()).enumerate().map(|(i, r)| (i as u32, r))
    }
}
