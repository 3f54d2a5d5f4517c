//! Where VIPER keeps its files, and when it flushes.

use std::path::PathBuf;

use proxima_core::{Error, Result};

/// Where segments and manifests live.
#[derive(Clone, PartialEq, Eq)]
pub enum Root {
    /// A local directory (files are fsynced; manifests replaced by rename).
    Local(PathBuf),
    /// An S3 bucket and key prefix (manifests replaced by conditional put).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket, without leading or trailing `/`.
        prefix: String,
        /// Endpoint URL for S3-compatible servers (`None` for AWS).
        endpoint: Option<String>,
        /// Region.
        region: String,
        /// Access key id; from `AWS_ACCESS_KEY_ID` when absent.
        access_key_id: Option<String>,
        /// Secret key; from `AWS_SECRET_ACCESS_KEY` when absent. Never printed.
        secret_access_key: Option<String>,
    },
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Root::Local(p) => f.debug_tuple("Local").field(p).finish(),
            Root::S3 { bucket, prefix, endpoint, region, access_key_id, secret_access_key } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("prefix", prefix)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &secret_access_key.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// How segment files store the vector column. Every other column is zstd.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VectorCompression {
    /// Byte-stream-split floats under zstd: GloVe's 50-d vectors take ~16%
    /// less space than raw (`scripts/vector_compression.py --segments`).
    #[default]
    Zstd,
    /// Plain floats, uncompressed: learned embeddings barely compress, and a
    /// 50-d ingest costs ~0.1 µs less CPU per vector (1.02-1.06 against
    /// 1.13-1.15 µs: the `ingest_latency` example, 4 writers, `none` against
    /// `zstd`).
    None,
}

/// Where a collection's write-ahead log lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogPlacement {
    /// Files under `wal_dir`, fsynced (shared by concurrent writers).
    #[default]
    Local,
    /// Objects beside the segments (`<collection>/_log/`), one per group
    /// commit: an acknowledged write survives the loss of the node's disk,
    /// and a writer that opens the collection fences the one before it.
    /// Needs an object-store root.
    Object,
}

/// Configuration of a [`crate::ViperEngine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViperConfig {
    /// Segments and manifests.
    pub root: Root,
    /// Where write-ahead logs live.
    pub log: LogPlacement,
    /// Local write-ahead logs, one directory per collection.
    pub wal_dir: PathBuf,
    /// Follow the collections another node writes instead of writing them
    /// (needs [`LogPlacement::Object`]): they are read from the writer's
    /// manifests, files and log objects, refreshed every
    /// `follow_interval_ms`, and every change is refused.
    pub follow: bool,
    /// How often a follower reads what its writers stored.
    pub follow_interval_ms: u64,
    /// Flush the write buffer once it holds this many rows.
    pub flush_rows: usize,
    /// Flush the write buffer once its oldest row is this old, whether or not
    /// more writes come.
    pub flush_interval_ms: u64,
    /// Rows per Parquet row group (the unit of statistics-based pruning).
    pub row_group_rows: usize,
    /// Most bytes of decoded vectors kept in memory per collection for segments
    /// already in files; colder segments are evicted and decoded again from their
    /// file when needed. Read views pin what they hold until dropped.
    pub resident_budget_bytes: u64,
    /// How segment files (from flushes and compactions) store vectors. Files
    /// written either way read the same; a reader needs no setting.
    pub vector_compression: VectorCompression,
}

impl Default for ViperConfig {
    fn default() -> Self {
        Self::local("./proximadb-data/viper")
    }
}

impl ViperConfig {
    /// Everything under one local directory.
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            log: LogPlacement::Local,
            wal_dir: dir.join("_wal"),
            follow: false,
            follow_interval_ms: 250,
            root: Root::Local(dir),
            flush_rows: 100_000,
            flush_interval_ms: 60_000,
            row_group_rows: 16_384,
            resident_budget_bytes: u64::MAX,
            vector_compression: VectorCompression::Zstd,
        }
    }

    /// Parses a root: a plain path or `file://<path>`, or
    /// `s3://bucket/prefix?endpoint=URL&region=R&wal_dir=PATH&allow_http=true&log=object`.
    /// Also accepts `flush_rows=N`, `flush_interval_ms=N`, `row_group_rows=N`, `resident_budget_mb=N`
    /// and `vector_compression=zstd|none` on either; `log=local|object`,
    /// `follow=true|false` and `follow_interval_ms=N` on `s3://` roots.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut config = if let Some(rest) = base.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::invalid(format!("`{uri}` names no bucket")));
            }
            Self {
                root: Root::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                    endpoint: None,
                    region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                    access_key_id: None,
                    secret_access_key: None,
                },
                ..Self::local("./proximadb-data/viper")
            }
        } else {
            let path = base.strip_prefix("file://").unwrap_or(base);
            if path.is_empty() {
                return Err(Error::invalid("VIPER root without a path"));
            }
            Self::local(path)
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let bad = || Error::invalid(format!("bad parameter `{pair}` in `{uri}`"));
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            match (key, &mut config.root) {
                ("wal_dir", _) => config.wal_dir = PathBuf::from(value),
                ("flush_rows", _) => config.flush_rows = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
                ("flush_interval_ms", _) => {
                    config.flush_interval_ms = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?
                }
                ("row_group_rows", _) => {
                    config.row_group_rows = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?
                }
                ("resident_budget_mb", _) => {
                    let mb: u64 = value.parse().map_err(|_| bad())?;
                    config.resident_budget_bytes = mb.saturating_mul(1 << 20);
                }
                ("vector_compression", _) => {
                    config.vector_compression = match value {
                        "zstd" => VectorCompression::Zstd,
                        "none" => VectorCompression::None,
                        _ => return Err(bad()),
                    }
                }
                ("log", Root::S3 { .. }) => {
                    config.log = match value {
                        "local" => LogPlacement::Local,
                        "object" => LogPlacement::Object,
                        _ => return Err(bad()),
                    }
                }
                ("follow", _) => config.follow = value.parse().map_err(|_| bad())?,
                ("follow_interval_ms", _) => {
                    config.follow_interval_ms = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?
                }
                ("log", Root::Local(_)) => {
                    return Err(Error::invalid(format!(
                        "`log={value}` in `{uri}`: the log's placement is chosen only for an s3:// root"
                    )));
                }
                ("endpoint", Root::S3 { endpoint, .. }) => *endpoint = Some(value.to_string()),
                ("region", Root::S3 { region, .. }) => *region = value.to_string(),
                // Plain-http endpoints are allowed whenever an endpoint is given.
                ("allow_http", Root::S3 { .. }) => {}
                _ => return Err(bad()),
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings that cannot work together.
    pub fn validate(&self) -> Result<()> {
        if self.follow && self.log != LogPlacement::Object {
            return Err(Error::invalid(
                "a follower reads its writer's log from the object store: `follow=true` needs `log=object`",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_and_s3_roots_and_hides_secrets() {
        let c = ViperConfig::from_uri("./data/viper?flush_rows=10&flush_interval_ms=250").unwrap();
        assert_eq!((c.root, c.flush_rows, c.flush_interval_ms), (Root::Local("./data/viper".into()), 10, 250));
        assert_eq!(c.wal_dir, PathBuf::from("./data/viper/_wal"));
        let c = ViperConfig::from_uri("s3://bucket/a/b/?endpoint=http://127.0.0.1:5055&wal_dir=/tmp/w").unwrap();
        let Root::S3 { bucket, prefix, endpoint, .. } = &c.root else { panic!("{c:?}") };
        assert_eq!((bucket.as_str(), prefix.as_str()), ("bucket", "a/b"));
        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:5055"));
        assert_eq!(c.wal_dir, PathBuf::from("/tmp/w"));
        let mut with_secret = c.clone();
        if let Root::S3 { secret_access_key, .. } = &mut with_secret.root {
            *secret_access_key = Some("hunter2".into());
        }
        assert!(!format!("{with_secret:?}").contains("hunter2"));
        let c = ViperConfig::from_uri("./d?resident_budget_mb=3&vector_compression=none").unwrap();
        assert_eq!((c.resident_budget_bytes, c.vector_compression), (3 << 20, VectorCompression::None));
        assert_eq!(ViperConfig::from_uri("./d").unwrap().vector_compression, VectorCompression::Zstd);
        assert_eq!(ViperConfig::from_uri("s3://b/p?log=object").unwrap().log, LogPlacement::Object);
        assert_eq!(ViperConfig::from_uri("s3://b/p").unwrap().log, LogPlacement::Local);
        let c = ViperConfig::from_uri("s3://b/p?log=object&follow=true&follow_interval_ms=100").unwrap();
        assert_eq!((c.follow, c.follow_interval_ms), (true, 100));
        for bad in [
            "",
            "s3://",
            "./x?endpoint=http://a",
            "./x?flush_rows=0",
            "./x?flush_interval_ms=0",
            "./x?nope=1",
            "./x?resident_budget_mb=lots",
            "./x?vector_compression=lz4",
            "./x?log=object",
            "s3://b/p?log=s3",
            "s3://b/p?follow=true",
            "s3://b/p?log=object&follow=yes",
        ] {
            assert!(ViperConfig::from_uri(bad).is_err(), "{bad}");
        }
    }
}
