//! The log's writer record: which epoch may commit, and from which sequence
//! number each earlier writer's objects count.
//!
//! A new writer takes the log in two conditional puts of one small object,
//! `WRITER`. The first raises the epoch: from then on an earlier writer's
//! commits fail their check (it reads `WRITER` after each put and finds a
//! newer epoch), so nothing it writes later is acknowledged. The new writer
//! then lists the objects, which therefore include every acknowledged one,
//! and the second put records where its own epoch starts. Objects an
//! earlier writer put past that point were never acknowledged, and replay
//! ignores them.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::store_error;

/// The name of the writer record inside the log's directory.
pub(crate) const WRITER: &str = "WRITER";

/// Where one writer's objects begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EpochStart {
    pub(crate) epoch: u64,
    pub(crate) first_seq: u64,
}

/// The content of `WRITER`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fence {
    /// The epoch allowed to commit.
    pub(crate) epoch: u64,
    /// Oldest first; the last is the current writer's once it recovered.
    pub(crate) starts: Vec<EpochStart>,
}

impl Fence {
    /// Whether an object of `epoch` whose first record is `first_seq` belongs
    /// to the log: it lies in its writer's range, before the next writer's start.
    pub(crate) fn counts(&self, epoch: u64, first_seq: u64) -> bool {
        let Some(at) = self.starts.iter().position(|s| s.epoch == epoch) else { return false };
        let next = self.starts.get(at + 1).map_or(u64::MAX, |s| s.first_seq);
        (self.starts[at].first_seq..next).contains(&first_seq)
    }

    /// Adds `epoch`'s start, dropping the ranges that end at or before
    /// `from_seq` (their objects are behind the state kept elsewhere).
    pub(crate) fn started(&mut self, epoch: u64, first_seq: u64, from_seq: u64) {
        self.starts.push(EpochStart { epoch, first_seq });
        let keep_from = self.starts.windows(2).take_while(|w| w[1].first_seq <= from_seq).count();
        self.starts.drain(..keep_from);
    }
}

/// `WRITER` as read, with the version a conditional replace needs.
pub(crate) struct Claimed {
    pub(crate) fence: Fence,
    version: Option<UpdateVersion>,
}

fn path(dir: &Path) -> Path {
    dir.clone().join(WRITER)
}

pub(crate) async fn read(store: &dyn ObjectStore, dir: &Path) -> Result<Claimed> {
    let path = path(dir);
    match store.get(&path).await {
        Ok(got) => {
            let version = UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
            let bytes = got.bytes().await.map_err(|e| store_error(&path, e))?;
            let fence = serde_json::from_slice(&bytes).map_err(|e| {
                Error::corrupted("the log's writer record does not decode").with_context("object", &path).with_source(e)
            })?;
            Ok(Claimed { fence, version: Some(version) })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(Claimed { fence: Fence::default(), version: None }),
        Err(e) => Err(store_error(&path, e)),
    }
}

/// Replaces `WRITER` only if it is still what `claimed` read.
async fn replace(store: &dyn ObjectStore, dir: &Path, claimed: &mut Claimed, fence: Fence) -> Result<()> {
    let path = path(dir);
    let bytes =
        serde_json::to_vec(&fence).map_err(|e| Error::internal("cannot encode the writer record").with_source(e))?;
    let mode = match &claimed.version {
        Some(v) => PutMode::Update(v.clone()),
        None => PutMode::Create,
    };
    let put = store.put_opts(&path, PutPayload::from(Bytes::from(bytes)), PutOptions::from(mode)).await;
    let put = put.map_err(|e| match e {
        object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. } => {
            Error::conflict("another writer took the log at the same time").with_context("object", &path)
        }
        e => store_error(&path, e),
    })?;
    claimed.version = Some(UpdateVersion { e_tag: put.e_tag, version: put.version });
    claimed.fence = fence;
    Ok(())
}

/// Raises the epoch: from this put on, earlier writers' commits fail.
pub(crate) async fn claim(store: &dyn ObjectStore, dir: &Path) -> Result<Claimed> {
    let mut claimed = read(store, dir).await?;
    let fence = Fence { epoch: claimed.fence.epoch + 1, starts: claimed.fence.starts.clone() };
    replace(store, dir, &mut claimed, fence).await?;
    Ok(claimed)
}

/// Records where the claimed epoch's objects start.
pub(crate) async fn start(
    store: &dyn ObjectStore,
    dir: &Path,
    claimed: &mut Claimed,
    first_seq: u64,
    from_seq: u64,
) -> Result<()> {
    let mut fence = claimed.fence.clone();
    fence.started(fence.epoch, first_seq, from_seq);
    replace(store, dir, claimed, fence).await
}

/// The epoch allowed to commit now.
pub(crate) async fn current_epoch(store: &dyn ObjectStore, dir: &Path) -> Result<u64> {
    Ok(read(store, dir).await?.fence.epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_count_only_inside_their_writers_range() {
        let mut fence = Fence { epoch: 3, starts: vec![] };
        fence.started(1, 1, 1);
        fence.started(2, 40, 1);
        fence.started(3, 90, 1);
        assert!(fence.counts(1, 1) && fence.counts(1, 39));
        assert!(!fence.counts(1, 40), "epoch 1 wrote past its successor's start: never acknowledged");
        assert!(fence.counts(2, 40) && fence.counts(2, 89) && !fence.counts(2, 90));
        assert!(fence.counts(3, 90) && fence.counts(3, 1_000_000));
        assert!(!fence.counts(4, 100), "an epoch that never recovered has no objects");
        assert!(!fence.counts(2, 39), "nor before its start");
    }

    #[test]
    fn ranges_behind_the_state_are_dropped() {
        let mut fence = Fence::default();
        fence.started(1, 1, 1);
        fence.started(2, 40, 1);
        fence.started(3, 90, 60);
        assert_eq!(fence.starts.iter().map(|s| s.epoch).collect::<Vec<_>>(), vec![2, 3], "epoch 1 ended at 39 < 60");
        fence.started(4, 95, 95);
        assert_eq!(fence.starts.iter().map(|s| s.epoch).collect::<Vec<_>>(), vec![4]);
    }

    #[tokio::test]
    async fn of_two_writers_reading_the_same_record_one_takes_the_log() {
        let store = object_store::memory::InMemory::new();
        let dir = Path::from("log");
        claim(&store, &dir).await.unwrap();
        let mut first = read(&store, &dir).await.unwrap();
        let mut second = read(&store, &dir).await.unwrap();
        replace(&store, &dir, &mut first, Fence { epoch: 2, starts: vec![] }).await.unwrap();
        let e = replace(&store, &dir, &mut second, Fence { epoch: 2, starts: vec![] }).await.unwrap_err();
        assert_eq!(e.kind(), proxima_core::ErrorKind::Conflict);
        assert_eq!(current_epoch(&store, &dir).await.unwrap(), 2);
    }
}
