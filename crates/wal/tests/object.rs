//! The log in an object store: replay, group commit, truncation and fencing,
//! against object_store's in-memory store (the same conditional puts as S3;
//! VIPER's suite runs it against the S3 server of `cargo xtask services up`).
#![cfg(feature = "object-store")]

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use proxima_core::ErrorKind;
use proxima_wal::ObjectLog;

type Log = ObjectLog<String>;

fn dir() -> Path {
    Path::from("c/_log")
}

async fn open(store: &Arc<InMemory>, from_seq: u64) -> (Log, Vec<(u64, String)>) {
    let claimed = Log::claim(store.clone(), dir()).await.unwrap();
    claimed.recover(from_seq).await.unwrap()
}

async fn write(log: &Log, records: &[&str]) -> proxima_core::Result<u64> {
    let records: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let (range, point) = log.append_unsynced(&records)?;
    log.make_durable(point).await?;
    Ok(range.last)
}

async fn objects(store: &InMemory) -> usize {
    let listed: Vec<_> = futures_util::TryStreamExt::try_collect(store.list(Some(&dir()))).await.unwrap();
    listed.iter().filter(|o| o.location.as_ref().ends_with(".log")).count()
}

fn values(records: &[(u64, String)]) -> Vec<(u64, &str)> {
    records.iter().map(|(s, r)| (*s, r.as_str())).collect()
}

#[tokio::test]
async fn acknowledged_records_replay_in_order_after_the_writer_is_gone() {
    let store = Arc::new(InMemory::new());
    let (log, replayed) = open(&store, 1).await;
    assert!(replayed.is_empty());
    assert_eq!(write(&log, &["a", "b"]).await.unwrap(), 2);
    assert_eq!(write(&log, &["c"]).await.unwrap(), 3);
    drop(log);
    let (log, replayed) = open(&store, 1).await;
    assert_eq!(values(&replayed), vec![(1, "a"), (2, "b"), (3, "c")]);
    assert_eq!(log.next_seq(), 4);
    // Replay starts where state kept elsewhere ends.
    drop(log);
    let (_, replayed) = open(&store, 3).await;
    assert_eq!(values(&replayed), vec![(3, "c")]);
}

#[tokio::test]
async fn appends_waiting_together_share_one_object() {
    let store = Arc::new(InMemory::new());
    let (log, _) = open(&store, 1).await;
    let mut last = None;
    for i in 0..10 {
        let (_, point) = log.append_unsynced(&[format!("r{i}")]).unwrap();
        assert!(!log.is_durable(point));
        last = Some(point);
    }
    log.make_durable(last.unwrap()).await.unwrap();
    assert_eq!(log.commits(), 1);
    assert_eq!(objects(&store).await, 1);
    let (_, replayed) = open(&store, 1).await;
    assert_eq!(replayed.len(), 10);
}

#[tokio::test]
async fn truncation_deletes_whole_objects_below_the_point() {
    let store = Arc::new(InMemory::new());
    let (log, _) = open(&store, 1).await;
    write(&log, &["a", "b"]).await.unwrap();
    write(&log, &["c", "d"]).await.unwrap();
    write(&log, &["e"]).await.unwrap();
    log.truncate_before(4).await.unwrap();
    assert_eq!(objects(&store).await, 2, "the object holding 3 and 4 stays");
    drop(log);
    let (log, replayed) = open(&store, 4).await;
    assert_eq!(values(&replayed), vec![(4, "d"), (5, "e")]);
    log.truncate_before(6).await.unwrap();
    log.advance_to(9).unwrap();
    assert_eq!(write(&log, &["f"]).await.unwrap(), 9);
    drop(log);
    let (_, replayed) = open(&store, 9).await;
    assert_eq!(values(&replayed), vec![(9, "f")], "state kept elsewhere holds 6 to 8");
}

#[tokio::test]
async fn a_writer_that_lost_the_log_acknowledges_nothing_more() {
    let store = Arc::new(InMemory::new());
    let (old, _) = open(&store, 1).await;
    write(&old, &["a"]).await.unwrap();
    let (new, replayed) = open(&store, 1).await;
    assert_eq!(values(&replayed), vec![(1, "a")]);
    assert!(new.epoch() > old.epoch());

    // The old writer's object lands, but its check finds the newer epoch.
    let e = write(&old, &["lost"]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert_eq!(write(&old, &["after"]).await.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(write(&new, &["b"]).await.unwrap(), 2);

    let (_, replayed) = open(&store, 1).await;
    assert_eq!(values(&replayed), vec![(1, "a"), (2, "b")], "the unacknowledged object is ignored");
    assert_eq!(objects(&store).await, 2, "and deleted by the next writer");
}

#[tokio::test]
async fn a_damaged_or_missing_object_is_corruption_naming_it() {
    let store = Arc::new(InMemory::new());
    let (log, _) = open(&store, 1).await;
    write(&log, &["a"]).await.unwrap();
    write(&log, &["b"]).await.unwrap();
    let listed: Vec<_> = futures_util::TryStreamExt::try_collect(store.list(Some(&dir()))).await.unwrap();
    let mut names: Vec<Path> =
        listed.into_iter().map(|o| o.location).filter(|p| p.as_ref().ends_with(".log")).collect();
    names.sort();

    let mut damaged = store.get(&names[1]).await.unwrap().bytes().await.unwrap().to_vec();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    store.put(&names[1], PutPayload::from(damaged)).await.unwrap();
    let e = Log::claim(store.clone(), dir()).await.unwrap().recover::<String>(1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.to_string().contains(names[1].as_ref()), "{e}");

    store.delete(&names[1]).await.unwrap();
    write(&open(&store, 1).await.0, &["c"]).await.unwrap();
    store.delete(&names[0]).await.unwrap();
    let e = Log::claim(store.clone(), dir()).await.unwrap().recover::<String>(1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.to_string().contains("missing records 1 to 1"), "{e}");
}

#[tokio::test]
async fn a_reader_follows_the_writer_without_taking_the_log() {
    let store = Arc::new(InMemory::new());
    let (log, _) = open(&store, 1).await;
    write(&log, &["a", "b"]).await.unwrap();
    let dir = dir();
    let read = |from| Log::read_from(&*store, &dir, from);
    assert_eq!(values(&read(1).await.unwrap()), vec![(1, "a"), (2, "b")]);
    write(&log, &["c"]).await.unwrap();
    assert_eq!(values(&read(3).await.unwrap()), vec![(3, "c")], "the tail after what the reader has");
    write(&log, &["d"]).await.unwrap();
    assert_eq!(write(&log, &["e"]).await.unwrap(), 5, "reading took nothing from the writer");

    log.truncate_before(4).await.unwrap();
    let e = read(2).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "behind the truncation: newer state holds 2 and 3: {e}");
}
