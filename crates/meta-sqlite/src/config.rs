//! Where the SQLite catalogue lives.

use std::path::PathBuf;

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Configuration of a [`crate::SqliteBackend`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteConfig {
    /// The database file, or `:memory:`.
    pub path: PathBuf,
    /// How long a call waits for a lock held by another connection.
    pub busy_timeout_ms: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("./proximadb-data/metadata.db"), busy_timeout_ms: 5000 }
    }
}

impl SqliteConfig {
    /// Parses `sqlite:///abs/path.db`, `sqlite://./rel.db` or `sqlite://:memory:`,
    /// with an optional `?busy_timeout_ms=N`.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let rest = uri
            .strip_prefix("sqlite://")
            .ok_or_else(|| Error::invalid(format!("`{uri}` is not a sqlite:// connection string")))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(Error::invalid("sqlite:// connection string without a path"));
        }
        let mut config = Self { path: PathBuf::from(path), ..Self::default() };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("busy_timeout_ms", v)) => {
                    config.busy_timeout_ms =
                        v.parse().map_err(|_| Error::invalid(format!("bad `{pair}` in `{uri}`")))?;
                }
                _ => return Err(Error::invalid(format!("unknown parameter `{pair}` in `{uri}`"))),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(SqliteConfig::from_uri("sqlite:///tmp/a.db").unwrap().path, PathBuf::from("/tmp/a.db"));
        assert_eq!(SqliteConfig::from_uri("sqlite://./a.db").unwrap().path, PathBuf::from("./a.db"));
        assert_eq!(SqliteConfig::from_uri("sqlite://:memory:?busy_timeout_ms=9").unwrap().busy_timeout_ms, 9);
        for bad in ["sqlite://", "file:///a.db", "sqlite:///a.db?x=1"] {
            assert!(SqliteConfig::from_uri(bad).is_err(), "{bad}");
        }
    }
}
