//! Flushes and compactions in steps, with the collection's lock held only to
//! merge (before) and to install the manifest (after), and the compaction a
//! flush leaves due.

use std::sync::{Arc, Weak};

use proxima_core::{Error, Result};
use proxima_engine::CompactionReport;
use tokio::sync::Mutex;

use crate::ViperConfig;
use crate::collection::{self, Rewrite, ViperCollection};
use crate::segment_file::Encoders;
use crate::store::Store;

/// Writes what `rewrite` names while writes and reads continue: the segment's
/// index is built and its Parquet file encoded and stored without the
/// collection's lock. The caller holds the collection's flush lock. Returns
/// the rows the merge removed.
pub(crate) async fn in_steps(
    shared: &Weak<Mutex<ViperCollection>>,
    rewrite: Rewrite,
    config: &ViperConfig,
    encoders: Encoders,
    store: &Store,
) -> Result<u64> {
    // Only a weak reference between the steps: a dropped engine lets go of the
    // collection (and its log's lock) without waiting for the file; a rewrite
    // that cannot finish leaves an orphan file, removed at the next open.
    let gone = || Error::unavailable("the collection was closed during a background flush");
    let (mut pending, name, collection) = {
        let shared = shared.upgrade().ok_or_else(gone)?;
        let mut c = shared.lock().await;
        match c.prepare(rewrite, store).await? {
            Some(pending) => (pending, c.name.clone(), c.state.config().clone()),
            None => return Ok(0),
        }
    };
    let rows_removed = pending.rows_removed;
    let written = collection::write_pending(&name, &collection, &mut pending, config, encoders, store).await?;
    // The manifest is stored and the log truncated without the lock as well: the
    // flush lock keeps other manifest writers out, and until it is installed
    // nothing reads the new entry.
    let (mut manifest, built, replaced, (path, expected), log) = {
        let shared = shared.upgrade().ok_or_else(gone)?;
        let c = shared.lock().await;
        let (manifest, built, replaced) = c.manifest_after(pending, written);
        (manifest, built, replaced, c.manifest_location(), c.write_log())
    };
    let version = collection::store_manifest(&path, &mut manifest, &expected, store).await?;
    let flushed_seq = manifest.flushed_seq;
    shared.upgrade().ok_or_else(gone)?.lock().await.installed(manifest, version, built);
    collection::remove_replaced(&name, replaced, store).await;
    collection::truncate_log(log, flushed_seq).await?;
    Ok(rows_removed)
}

/// A flush, then the compaction it leaves due (see
/// [`ViperCollection::due_compaction`]): what keeps the files within a bounded
/// multiple of the live rows under steady overwrites, whatever the
/// coordinator's own schedule. The caller holds the flush lock.
pub(crate) async fn flush_and_maintain(
    shared: &Weak<Mutex<ViperCollection>>,
    config: &ViperConfig,
    encoders: Encoders,
    store: &Store,
) -> Result<()> {
    in_steps(shared, Rewrite::Flush, config, encoders, store).await?;
    let Some(collection) = shared.upgrade() else { return Ok(()) };
    let due = collection.lock().await.due_compaction();
    drop(collection);
    if let Some(segments) = due {
        let removed = in_steps(shared, Rewrite::Merge(segments), config, encoders, store).await?;
        tracing::debug!(removed, "VIPER compacted after a flush");
    }
    Ok(())
}

/// A compaction by `policy`: a flush, merging every persisted segment too when
/// the policy finds them worth it. The caller holds the flush lock.
pub(crate) async fn compact(
    shared: &Arc<Mutex<ViperCollection>>,
    policy: &proxima_engine::CompactionPolicy,
    config: &ViperConfig,
    store: &Store,
) -> Result<CompactionReport> {
    let (rewrite, segments_before) = {
        let c = shared.lock().await;
        (c.compaction_for(policy), c.state.chunk_count() as u64)
    };
    // Someone waits for it: every core.
    let rows_removed = in_steps(&Arc::downgrade(shared), rewrite, config, Encoders::AllCores, store).await?;
    let segments_after = shared.lock().await.state.chunk_count() as u64;
    Ok(CompactionReport { segments_before, segments_after, rows_removed })
}
