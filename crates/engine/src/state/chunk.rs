//! Column chunks and the read-view types built over them.

use std::sync::Arc;

use proxima_core::Metadata;

use crate::{Bitmap, Segment};

/// Rows in columns; append-only while it is the write buffer, then frozen.
/// Engines that persist segments convert chunks to and from their file format.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Chunk {
    /// The segment this chunk is (or will be, once sealed).
    pub segment_id: u64,
    /// Vector length.
    pub dimension: usize,
    /// User ids, one per row.
    pub ids: Vec<String>,
    /// Sequence numbers, one per row.
    pub seqs: Vec<u64>,
    /// Vectors, row after row.
    pub vectors: Vec<f32>,
    /// Metadata, one per row.
    pub metadata: Vec<Metadata>,
    /// Expiry (unix seconds), one per row.
    pub expires_at: Vec<Option<u64>>,
    /// Bounds of declared fields over row ranges (empty when unknown).
    pub zones: Vec<crate::Zone>,
}

impl Chunk {
    /// An empty chunk.
    pub fn new(segment_id: u64, dimension: usize) -> Self {
        Self { segment_id, dimension, ..Self::default() }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Appends a row; returns its row number.
    pub fn push(&mut self, id: String, seq: u64, vector: &[f32], metadata: Metadata, expires_at: Option<u64>) -> usize {
        self.ids.push(id);
        self.seqs.push(seq);
        self.vectors.extend_from_slice(vector);
        self.metadata.push(metadata);
        self.expires_at.push(expires_at);
        self.ids.len() - 1
    }

    /// The vector of one row.
    pub fn vector(&self, row: usize) -> &[f32] {
        &self.vectors[row * self.dimension..(row + 1) * self.dimension]
    }

    /// Row `row` as a stored record (vector, metadata and id copied out).
    pub fn stored_record(&self, row: usize) -> crate::StoredRecord {
        crate::StoredRecord {
            record: proxima_core::VectorRecord {
                id: self.ids[row].clone(),
                vector: self.vector(row).to_vec(),
                metadata: self.metadata[row].clone(),
                expires_at: self.expires_at[row],
            },
            seq: self.seqs[row],
        }
    }

    /// Approximate bytes held (ids, vectors, sequence numbers; metadata not counted).
    pub fn approx_bytes(&self) -> u64 {
        let ids: usize = self.ids.iter().map(String::len).sum();
        (self.vectors.len() * 4 + ids + self.seqs.len() * 16) as u64
    }
}

/// A sealed chunk with its liveness and index bytes, shared by views.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub(crate) data: Arc<Chunk>,
    pub(crate) live: Arc<Bitmap>,
    pub(crate) index: Option<Arc<[u8]>>,
}

impl Segment for Sealed {
    fn segment_id(&self) -> u64 {
        self.data.segment_id
    }
    fn sealed(&self) -> bool {
        true
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    fn dimension(&self) -> usize {
        self.data.dimension
    }
    fn vectors(&self) -> &[f32] {
        &self.data.vectors
    }
    fn id(&self, row: usize) -> &str {
        &self.data.ids[row]
    }
    fn seq(&self, row: usize) -> u64 {
        self.data.seqs[row]
    }
    fn metadata(&self, row: usize) -> &Metadata {
        &self.data.metadata[row]
    }
    fn expires_at(&self, row: usize) -> Option<u64> {
        self.data.expires_at[row]
    }
    fn live(&self) -> &Bitmap {
        &self.live
    }
    fn index_bytes(&self) -> Option<&[u8]> {
        self.index.as_deref()
    }
    fn zones(&self) -> &[crate::Zone] {
        &self.data.zones
    }
}
