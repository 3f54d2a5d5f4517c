//! File chores every persistent engine has: running blocking file work off
//! tokio's workers, and removing a collection's directory so that a crash
//! half-way leaves no half-collection behind.

use std::path::Path;

use proxima_core::{Error, Result};

/// Runs blocking work (fsyncs, file I/O, encoding) on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::internal(format!("storage task failed: {e}")))?
}

/// Removes a directory and everything in it; fine if it is already gone.
pub fn remove_dir_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("cannot remove {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// Removes a collection's directory, `marker` first: the file whose presence
/// makes the directory a collection, so that an interrupted removal leaves a
/// directory that opening recognises as garbage.
pub fn remove_collection_dir(dir: &Path, marker: &str) -> Result<()> {
    match std::fs::remove_file(dir.join(marker)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(format!("cannot remove {marker} in {}", dir.display()), e));
        }
        _ => {}
    }
    remove_dir_if_exists(dir)
}
