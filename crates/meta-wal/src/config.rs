//! Where and how the WAL backend keeps its files.

use std::path::PathBuf;

use proxima_core::{Error, FsyncPolicy, Result};
use serde::{Deserialize, Serialize};

/// Configuration of a [`crate::WalBackend`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalBackendConfig {
    /// The directory holding `checkpoint.json` and `wal/`.
    pub dir: PathBuf,
    /// When acknowledged changes reach the disk.
    pub fsync: FsyncPolicy,
    /// Write a checkpoint and truncate the log after this many changes.
    pub checkpoint_every: u64,
}

impl Default for WalBackendConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("./proximadb-data/metadata"), fsync: FsyncPolicy::Always, checkpoint_every: 1000 }
    }
}

impl WalBackendConfig {
    /// Parses `file://<path>[?fsync=always|none][&interval_ms=N][&checkpoint_every=N]`;
    /// `interval_ms` selects a background fsync every N milliseconds.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let rest = uri
            .strip_prefix("file://")
            .ok_or_else(|| Error::invalid(format!("`{uri}` is not a file:// connection string")))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(Error::invalid("file:// connection string without a path"));
        }
        let mut config = Self { dir: PathBuf::from(path), ..Self::default() };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let bad = || Error::invalid(format!("bad parameter `{pair}` in `{uri}`"));
            match pair.split_once('=').ok_or_else(bad)? {
                ("fsync", "always") => config.fsync = FsyncPolicy::Always,
                ("fsync", "none") => config.fsync = FsyncPolicy::None,
                ("interval_ms", v) => config.fsync = FsyncPolicy::IntervalMs(v.parse().map_err(|_| bad())?),
                ("checkpoint_every", v) => {
                    config.checkpoint_every = v.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
                }
                _ => return Err(bad()),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_parameters() {
        let c = WalBackendConfig::from_uri("file://./data/metadata").unwrap();
        assert_eq!((c.dir, c.fsync), (PathBuf::from("./data/metadata"), FsyncPolicy::Always));
        let c = WalBackendConfig::from_uri("file:///var/lib/px?fsync=none&checkpoint_every=5").unwrap();
        assert_eq!((c.dir, c.fsync, c.checkpoint_every), (PathBuf::from("/var/lib/px"), FsyncPolicy::None, 5));
        let c = WalBackendConfig::from_uri("file:///x?interval_ms=20").unwrap();
        assert_eq!(c.fsync, FsyncPolicy::IntervalMs(20));
        for bad in
            ["sqlite:///x", "file://", "file:///x?fsync=sometimes", "file:///x?checkpoint_every=0", "file:///x?y"]
        {
            assert!(WalBackendConfig::from_uri(bad).is_err(), "{bad}");
        }
    }
}
