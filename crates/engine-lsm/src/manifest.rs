//! `manifest.json`: the collection's config and which run files make up each
//! level, replaced atomically (temp file, fsync, rename, directory fsync).

use std::path::Path;

use proxima_core::{CollectionConfig, Error, Result};
use serde::{Deserialize, Serialize};

pub(crate) const MANIFEST: &str = "manifest.json";

/// One run file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunEntry {
    pub(crate) id: u64,
    pub(crate) rows: u64,
    pub(crate) min_seq: u64,
    pub(crate) max_seq: u64,
    /// Whether `run-<id>.idx` holds index bytes for it.
    pub(crate) indexed: bool,
}

pub(crate) fn run_file(id: u64) -> String {
    format!("run-{id:08}.sst")
}

pub(crate) fn index_file(id: u64) -> String {
    format!("run-{id:08}.idx")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) config: CollectionConfig,
    /// Every operation up to here is in the runs; the log replays what follows.
    pub(crate) flushed_seq: u64,
    pub(crate) next_part_id: u64,
    /// Level 0, oldest first (runs may overlap).
    pub(crate) l0: Vec<RunEntry>,
    /// Levels 1.., one run each (or none).
    pub(crate) levels: Vec<Option<RunEntry>>,
}

impl Manifest {
    pub(crate) fn new(config: CollectionConfig) -> Self {
        Self { config, flushed_seq: 0, next_part_id: 1, l0: Vec::new(), levels: Vec::new() }
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        use std::io::Write;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::internal(format!("manifest to JSON: {e}")))?;
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let io = |e| Error::io(format!("cannot write {}", tmp.display()), e);
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(io)?;
        sync_dir(dir)
    }

    /// The manifest in `dir`; `None` when there is none (no collection).
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(MANIFEST);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::corrupted("the manifest does not decode").with_context("file", path.display()).with_source(e)
        })
    }

    /// Every run, newest first.
    pub(crate) fn runs(&self) -> impl Iterator<Item = &RunEntry> {
        self.l0.iter().rev().chain(self.levels.iter().flatten())
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync directory {}", dir.display()), e))
}
