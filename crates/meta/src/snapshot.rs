//! The portable backup format: a JSON file of every entry, written atomically
//! into a local directory. Backends without a native backup use it, and any
//! backend can restore what another wrote.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::{CollectionMetadata, now_millis};

const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format_version: u32,
    created_at: i64,
    entries: Vec<CollectionMetadata>,
}

/// The directory a backup location names (`file://` prefix optional).
pub fn location_dir(location: &str) -> PathBuf {
    PathBuf::from(location.strip_prefix("file://").unwrap_or(location))
}

/// A fresh backup id: time-ordered and unique within the process.
pub fn new_backup_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("backup-{}-{}-{}", now_millis(), std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Refuses ids that are not `[A-Za-z0-9_-]+`, so an id can never name a path elsewhere.
pub fn validate_backup_id(backup_id: &str) -> Result<()> {
    let ok = !backup_id.is_empty() && backup_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(Error::invalid(format!("`{backup_id}` is not a backup id"))) }
}

fn backup_path(dir: &Path, backup_id: &str) -> Result<PathBuf> {
    validate_backup_id(backup_id)?;
    Ok(dir.join(format!("{backup_id}.json")))
}

/// Writes `entries` as backup `backup_id` in `location` (temp file, fsync, rename).
pub fn write(location: &str, backup_id: &str, entries: Vec<CollectionMetadata>) -> Result<()> {
    let dir = location_dir(location);
    let path = backup_path(&dir, backup_id)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let snapshot = Snapshot { format_version: FORMAT_VERSION, created_at: now_millis(), entries };
    let bytes =
        serde_json::to_vec_pretty(&snapshot).map_err(|e| Error::internal("cannot encode backup").with_source(e))?;
    write_atomically(&path, &bytes)
}

/// Writes `entries` as a new backup in `location`; returns its id.
pub fn write_new(location: &str, entries: Vec<CollectionMetadata>) -> Result<String> {
    let id = new_backup_id();
    write(location, &id, entries)?;
    Ok(id)
}

/// Reads backup `backup_id` from `location`.
pub fn read(location: &str, backup_id: &str) -> Result<Vec<CollectionMetadata>> {
    let path = backup_path(&location_dir(location), backup_id)?;
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(format!("no backup `{backup_id}` in {location}")),
        _ => Error::io(format!("cannot read {}", path.display()), e),
    })?;
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|e| Error::corrupted("backup does not decode").with_context("file", path.display()).with_source(e))?;
    if snapshot.format_version != FORMAT_VERSION {
        return Err(Error::unsupported(format!("backup format {} is not supported", snapshot.format_version)));
    }
    Ok(snapshot.entries)
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new file, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let io = |what: &str, e| Error::io(format!("cannot {what} {}", tmp.display()), e);
    let mut file = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("rename", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))
}
