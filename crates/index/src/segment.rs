//! The bytes stored beside a sealed segment, loaded back into a searchable
//! index (`proxima-search` builds them when an engine seals a segment).
//!
//! A segment of a collection that declares fields stores a bundle: its vector
//! index (if any) and its payload index (`proxima-payload`), so engines keep
//! one opaque blob per segment whatever it holds.

use proxima_core::{Error, Result};

use crate::{Hnsw, Ivf};

/// A loaded segment index.
#[derive(Debug)]
pub enum SegmentIndex {
    /// A graph.
    Hnsw(Hnsw),
    /// An inverted file.
    Ivf(Ivf),
}

impl SegmentIndex {
    /// Loads the vector index from bytes stored beside a segment, whatever their kind.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes = IndexParts::of(bytes)?.vector.ok_or_else(|| Error::corrupted("segment index: no vector index"))?;
        match bytes.get(..8) {
            Some(b"PXHNSW01" | b"PXHNSW02") => Hnsw::from_bytes(bytes).map(SegmentIndex::Hnsw),
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
        /// Bytes of 8-bit codes the graph walks on (0 for a graph walking on the rows).
        code_bytes: usize,
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
        let bytes = IndexParts::of(bytes).ok()?.vector?;
        let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4")) as usize);
        match bytes.get(..8)? {
            b"PXHNSW01" => Some(IndexSummary::Hnsw { len: word(16)?, m: word(20)?, code_bytes: 0 }),
            b"PXHNSW02" => {
                let (dimension, len, m, upper_len) = (word(12)?, word(16)?, word(20)?, word(44)?);
                // The codes flag follows the arrays, whose lengths the header gives.
                let arrays = len.next_multiple_of(4) + 4 * (len * (2 * m + 1) + (len + 1) + upper_len);
                let has_codes = word(48 + arrays)? == 1;
                Some(IndexSummary::Hnsw { len, m, code_bytes: if has_codes { len * dimension } else { 0 } })
            }
            b"PXIVF001" => Some(IndexSummary::Ivf { nlist: word(16)?, len: word(20)? }),
            _ => None,
        }
    }
}

/// The parts of a segment's index bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexParts<'a> {
    /// The vector index (HNSW or IVF), if the segment has one.
    pub vector: Option<&'a [u8]>,
    /// The payload index of its declared fields, if the collection declares any.
    pub payload: Option<&'a [u8]>,
}

/// `PXBNDL01`, the vector index's length (u64 LE, 0 for none), its bytes, then
/// the payload index's bytes (each part carries its own checksum).
const BUNDLE: &[u8; 8] = b"PXBNDL01";

impl<'a> IndexParts<'a> {
    /// Splits stored index bytes; bytes without a bundle header are a vector index alone.
    pub fn of(bytes: &'a [u8]) -> Result<Self> {
        if bytes.get(..8) != Some(&BUNDLE[..]) {
            return Ok(IndexParts { vector: Some(bytes), payload: None });
        }
        let corrupt = || Error::corrupted("segment index: a damaged bundle");
        let len = bytes.get(8..16).ok_or_else(corrupt)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().expect("8"))).map_err(|_| corrupt())?;
        let rest = &bytes[16..];
        if len > rest.len() {
            return Err(corrupt());
        }
        let (vector, payload) = rest.split_at(len);
        Ok(IndexParts { vector: (len > 0).then_some(vector), payload: (!payload.is_empty()).then_some(payload) })
    }

    /// The bundle of a vector index (if any) and a payload index.
    pub fn bundle(vector: Option<&[u8]>, payload: &[u8]) -> Vec<u8> {
        let vector = vector.unwrap_or_default();
        let mut out = Vec::with_capacity(16 + vector.len() + payload.len());
        out.extend_from_slice(BUNDLE);
        out.extend_from_slice(&(vector.len() as u64).to_le_bytes());
        out.extend_from_slice(vector);
        out.extend_from_slice(payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_split_back_into_their_parts() {
        let bundle = IndexParts::bundle(Some(b"PXHNSW01rest"), b"PXPAY001x");
        let parts = IndexParts::of(&bundle).unwrap();
        assert_eq!((parts.vector, parts.payload), (Some(&b"PXHNSW01rest"[..]), Some(&b"PXPAY001x"[..])));
        let payload_only = IndexParts::bundle(None, b"p");
        assert_eq!(IndexParts::of(&payload_only).unwrap(), IndexParts { vector: None, payload: Some(b"p") });
        assert_eq!(IndexParts::of(b"PXIVF001").unwrap().vector, Some(&b"PXIVF001"[..]), "a plain index");
        let mut damaged = bundle.clone();
        damaged[8] = 0xff;
        assert!(IndexParts::of(&damaged).is_err());
        assert!(IndexSummary::peek(&payload_only).is_none());
    }
}
