//! A collection this node follows: another node writes it (`follow=true`
//! roots, `log=object`). The follower reads the writer's manifest, files and
//! log objects without taking anything, and refreshes them when polled.

use std::sync::Arc;

use proxima_core::{Error, ErrorKind, Result};
use proxima_engine::{IndexBuilder, WriteBatch, WriteOp};
use proxima_wal::ObjectLog;

use super::{ViperCollection, state_from_files};
use crate::log::CollectionLog;
use crate::manifest::{MANIFEST, Manifest};
use crate::store::Store;

/// What a refresh found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refreshed {
    /// The collection is there; `changed` when a new manifest was loaded or
    /// operations applied (reads may answer differently).
    Current { changed: bool },
    /// Its manifest is gone: the writer dropped it.
    Dropped,
}

/// The operations the writer logged from `from_seq` on.
async fn logged_since(name: &str, store: &Store, from_seq: u64) -> Result<Vec<(u64, WriteOp)>> {
    let (objects, dir) = store.log_location(name)?;
    ObjectLog::<WriteOp>::read_from(&*objects, &dir, from_seq).await
}

impl ViperCollection {
    /// Opens a collection as its writer has it: the manifest's files, then
    /// the operations logged since. `None` when it has no manifest.
    pub(crate) async fn open_following(
        name: &str,
        store: &Store,
        index_builder: Option<Arc<dyn IndexBuilder>>,
    ) -> Result<Option<Self>> {
        let path = format!("{name}/{MANIFEST}");
        let Some((bytes, manifest_version)) = store.get_manifest(&path).await? else { return Ok(None) };
        let manifest = Manifest::decode(&bytes, &store.describe(&path))?;
        let state = state_from_files(name, &manifest, store, index_builder, |_| None).await?;
        let mut collection =
            Self::assemble(name.to_string(), state, CollectionLog::Following, manifest, manifest_version);
        match collection.catch_up(store).await {
            // The writer flushed meanwhile: the next refresh reads its manifest.
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            done => {
                done?;
            }
        }
        Ok(Some(collection))
    }

    /// Brings the collection up to its writer's: a new manifest's files
    /// (segments already decoded are kept), then the log since.
    pub(crate) async fn refresh(&mut self, store: &Store) -> Result<Refreshed> {
        let path = format!("{}/{MANIFEST}", self.name);
        let (mut attempts, mut reloaded) = (0, false);
        loop {
            let Some((bytes, version)) = store.get_manifest(&path).await? else { return Ok(Refreshed::Dropped) };
            if version != self.manifest_version {
                let manifest = Manifest::decode(&bytes, &store.describe(&path))?;
                let builder = self.state.index_builder();
                let (state, before) = (&self.state, &self.manifest.segments);
                // Only a file both manifests name alike: this handle's own
                // chunks (sealed for views) and a re-created collection's
                // files may carry the same segment ids.
                let loaded = |id: u64| {
                    let now = manifest.segments.iter().find(|s| s.segment_id == id)?;
                    before.iter().find(|s| *s == now)?;
                    let segment = state.sealed_segment(id)?;
                    Some(((*segment.chunk).clone(), segment.index))
                };
                self.state = state_from_files(&self.name, &manifest, store, builder, loaded).await?;
                self.manifest = manifest;
                self.manifest_version = version;
                reloaded = true;
            }
            attempts += 1;
            match self.catch_up(store).await {
                // The writer flushed and truncated between the two reads: its new manifest holds the rest.
                Err(e) if e.kind() == ErrorKind::Conflict && attempts < 3 => continue,
                applied => return applied.map(|n| Refreshed::Current { changed: reloaded || n > 0 }),
            }
        }
    }

    /// Applies what the writer logged after this state.
    async fn catch_up(&mut self, store: &Store) -> Result<usize> {
        let ops = logged_since(&self.name, store, self.state.next_seq()).await?;
        let applied = ops.len();
        for (seq, op) in ops {
            self.state.apply(WriteBatch { ops: vec![op] }, seq);
        }
        Ok(applied)
    }
}

impl ViperCollection {
    /// Where this handle is: whether it writes, the manifest version it
    /// has, the last operation applied.
    pub(crate) fn position(&self) -> proxima_engine::SharedPosition {
        proxima_engine::SharedPosition {
            collection: self.name.clone(),
            writes: !self.following(),
            manifest_version: self.manifest.version,
            writer_epoch: self.manifest.writer_epoch,
            applied_seq: self.state.next_seq() - 1,
        }
    }
}

/// The error for anything that changes a collection this node follows.
pub(crate) fn not_the_writer(name: &str) -> Error {
    Error::unavailable(format!(
        "collection `{name}` is written by another node; this one follows it (a `follow=true` root)"
    ))
}
