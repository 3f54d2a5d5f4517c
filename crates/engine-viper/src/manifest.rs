//! The manifest: the one file that says which segment files make up a collection.

use proxima_core::{CollectionConfig, Error, Result};
use proxima_engine::Tombstone;
use serde::{Deserialize, Serialize};

pub(crate) const MANIFEST: &str = "manifest.json";
const FORMAT_VERSION: u32 = 1;

/// One immutable segment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    pub(crate) segment_id: u64,
    /// Parquet file name, relative to the collection directory.
    pub(crate) file: String,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) min_seq: u64,
    pub(crate) max_seq: u64,
    /// Index bytes built by the index hook, stored beside the file.
    pub(crate) index_file: Option<String>,
}

/// The state of a collection's files as of `flushed_seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format_version: u32,
    /// Incremented on every replacement.
    pub(crate) version: u64,
    pub(crate) config: CollectionConfig,
    /// Every operation up to this sequence is in the files below; the log holds the rest.
    pub(crate) flushed_seq: u64,
    /// Oldest first.
    pub(crate) segments: Vec<SegmentEntry>,
    /// Ids deleted as of `flushed_seq` whose older rows may remain in the files.
    pub(crate) deleted: Vec<Tombstone>,
    /// Ids soft-deleted as of `flushed_seq`.
    pub(crate) soft_deleted: Vec<Tombstone>,
    /// The epoch of the log's writer that stored this manifest (0 with a
    /// local log): the writer that takes a collection over stores the
    /// manifest under its epoch before anything else.
    #[serde(default)]
    pub(crate) writer_epoch: u64,
    /// Chosen at random when the collection's data is created (a restore
    /// creates it anew), so that `(lineage, version, last sequence)` names
    /// these data and no other ([`proxima_engine::DataVersion`]); 0 in
    /// manifests written before it existed.
    #[serde(default)]
    pub(crate) lineage: u64,
}

impl Manifest {
    pub(crate) fn new(config: CollectionConfig) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            version: 0,
            config,
            flushed_seq: 0,
            segments: Vec::new(),
            deleted: Vec::new(),
            soft_deleted: Vec::new(),
            writer_epoch: 0,
            lineage: new_lineage(),
        }
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::internal("cannot encode manifest").with_source(e))
    }

    pub(crate) fn decode(bytes: &[u8], location: &str) -> Result<Self> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupted("manifest does not decode").with_context("file", location).with_source(e))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::unsupported(format!("manifest format {} is not supported", manifest.format_version))
                .with_context("file", location));
        }
        Ok(manifest)
    }
}

/// A random, nonzero lineage: std's hasher keys are drawn from the
/// system's randomness, once per process and then stepped.
fn new_lineage() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.finish() | 1
}

/// The Parquet file name of a segment.
pub(crate) fn segment_file(segment_id: u64) -> String {
    format!("seg-{segment_id:010}.parquet")
}

/// The index file name of a segment.
pub(crate) fn index_file(segment_id: u64) -> String {
    format!("seg-{segment_id:010}.index")
}
