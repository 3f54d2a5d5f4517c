//! How the mmap engine is opened: a serde config with defaults, parsed from
//! the root the server's `[storage.roots] mmap` gives.

use std::path::PathBuf;

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the engine is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MmapConfig {
    /// One directory per collection lives under it.
    pub root: PathBuf,
    /// A checkpoint (vector file synced, slot table written, log truncated)
    /// happens after this many operations, bounding replay at restart.
    pub checkpoint_ops: usize,
}

impl Default for MmapConfig {
    fn default() -> Self {
        Self::new("./proximadb-data/mmap")
    }
}

impl MmapConfig {
    /// Defaults under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), checkpoint_ops: 100_000 }
    }

    /// Parses `<path>` or `file://<path>` with `?checkpoint_ops=N` (positive);
    /// an unknown parameter is refused by name.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        let path = base.strip_prefix("file://").unwrap_or(base);
        if path.is_empty() {
            return Err(Error::invalid("mmap root without a path"));
        }
        let mut config = Self::new(path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "checkpoint_ops" => {
                    config.checkpoint_ops = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        Error::invalid(format!(
                            "mmap parameter `checkpoint_ops` needs a positive integer, got `{value}`"
                        ))
                    })?;
                }
                other => return Err(Error::invalid(format!("unknown mmap parameter `{other}`; use checkpoint_ops"))),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_tuning_and_names_what_it_refuses() {
        let c = MmapConfig::from_uri("file:///data/mmap?checkpoint_ops=10").unwrap();
        assert_eq!((c.root, c.checkpoint_ops), (PathBuf::from("/data/mmap"), 10));
        assert!(MmapConfig::from_uri("/x?checkpoint=1").unwrap_err().message().contains("`checkpoint`"));
        assert!(MmapConfig::from_uri("/x?checkpoint_ops=0").is_err());
    }
}
