//! How the LSM engine is opened: a serde config with defaults, parsed from
//! the root the server's `[storage.roots] lsm` gives.

use std::path::PathBuf;
use std::time::Duration;

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the engine is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LsmConfig {
    /// One directory per collection lives under it.
    pub root: PathBuf,
    /// The memtables are written out as a level-0 run past this many bytes.
    pub memtable_bytes: usize,
    /// Level 0 is merged into level 1 once it holds this many runs.
    pub l0_compaction_trigger: usize,
    /// Writes wait while level 0 holds this many runs (compaction is behind).
    pub l0_stall_runs: usize,
    /// How long a write waits for compaction before failing with `Unavailable`.
    pub stall_timeout: Duration,
    /// Rows level 1 may hold before it is merged down.
    pub level1_rows: u64,
    /// Each level may hold this many times the rows of the one above.
    pub level_size_ratio: u32,
}

impl Default for LsmConfig {
    fn default() -> Self {
        Self::new("./proximadb-data/lsm")
    }
}

impl LsmConfig {
    /// Defaults under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            memtable_bytes: 32 << 20,
            l0_compaction_trigger: 4,
            l0_stall_runs: 12,
            stall_timeout: Duration::from_secs(60),
            level1_rows: 200_000,
            level_size_ratio: 10,
        }
    }

    /// Parses `<path>` or `file://<path>` with tuning after `?`:
    /// `memtable_bytes`, `l0_compaction_trigger`, `l0_stall_runs`,
    /// `stall_timeout_ms`, `level1_rows`, `level_size_ratio` (each a positive
    /// integer); an unknown parameter is refused by name.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        let path = base.strip_prefix("file://").unwrap_or(base);
        if path.is_empty() {
            return Err(Error::invalid("LSM root without a path"));
        }
        let mut config = Self::new(path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || -> Result<u64> {
                value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid(format!("LSM parameter `{key}` needs a positive integer, got `{value}`"))
                })
            };
            match key {
                "memtable_bytes" => config.memtable_bytes = number()? as usize,
                "l0_compaction_trigger" => config.l0_compaction_trigger = number()? as usize,
                "l0_stall_runs" => config.l0_stall_runs = number()? as usize,
                "stall_timeout_ms" => config.stall_timeout = Duration::from_millis(number()?),
                "level1_rows" => config.level1_rows = number()?,
                "level_size_ratio" => config.level_size_ratio = u32::try_from(number()?).unwrap_or(u32::MAX),
                other => {
                    return Err(Error::invalid(format!(
                        "unknown LSM parameter `{other}`; use memtable_bytes, l0_compaction_trigger, l0_stall_runs, stall_timeout_ms, level1_rows or level_size_ratio"
                    )));
                }
            }
        }
        if config.l0_stall_runs < config.l0_compaction_trigger {
            return Err(Error::invalid("l0_stall_runs must be at least l0_compaction_trigger"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_tuning_and_names_what_it_refuses() {
        let c = LsmConfig::from_uri("file:///data/lsm?memtable_bytes=4096&stall_timeout_ms=250&level_size_ratio=8")
            .unwrap();
        assert_eq!((c.root, c.memtable_bytes), (PathBuf::from("/data/lsm"), 4096));
        assert_eq!((c.stall_timeout, c.level_size_ratio), (Duration::from_millis(250), 8));
        assert_eq!(LsmConfig::from_uri("./lsm").unwrap(), LsmConfig::new("./lsm"));
        for (bad, needle) in [
            ("/x?memtable=1", "`memtable`"),
            ("/x?level1_rows=0", "`level1_rows`"),
            ("/x?l0_stall_runs=2&l0_compaction_trigger=4", "l0_stall_runs"),
            ("", "without a path"),
        ] {
            let err = LsmConfig::from_uri(bad).unwrap_err();
            assert!(err.message().contains(needle), "{bad}: {err}");
        }
    }
}
