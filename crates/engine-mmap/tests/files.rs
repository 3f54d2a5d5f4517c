//! What is particular to the mmap engine: views read the mapped file without
//! copying and keep their snapshot while slots are freed and reused; the file
//! stops growing once slots are reused; damaged files give `Corrupted` naming
//! the file (and never SIGBUS); restart needs no replay after a checkpoint.

use std::path::Path;
use std::sync::Arc;

use proxima_core::{ErrorKind, VectorRecord};
use proxima_engine::testkit::{RowCountIndex, config, current_rows, record, snapshot};
use proxima_engine::{CompactionPolicy, VectorStorage, WriteBatch};
use proxima_engine_mmap::{MmapConfig, MmapEngine};

async fn open(dir: &Path) -> proxima_core::Result<Arc<dyn VectorStorage>> {
    Ok(Arc::new(MmapEngine::open(MmapConfig::new(dir), None).await?))
}

fn batch(range: std::ops::Range<u64>, salt: u64) -> WriteBatch {
    WriteBatch::from(
        range.map(|i| VectorRecord::new(format!("id{i}"), vec![(i * 10 + salt) as f32; 4])).collect::<Vec<_>>(),
    )
}

const COMPACT_ALL: CompactionPolicy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX };

#[tokio::test]
async fn views_keep_their_snapshot_while_slots_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path()).await.unwrap();
    e.create_collection(&config("reuse", 4)).await.unwrap();
    e.write("reuse", batch(0..100, 0)).await.unwrap();
    let old = e.read_view("reuse").await.unwrap();
    let old_rows = snapshot(&*old).unwrap();

    // Overwrite everything: 100 dead slots, all visible to `old`.
    e.write("reuse", batch(0..100, 1)).await.unwrap();
    assert_eq!(e.stats("reuse").await.unwrap().dead_rows, 100);
    let report = e.compact("reuse", &COMPACT_ALL).await.unwrap();
    assert_eq!(report.rows_removed, 0, "`old` can still see those slots");
    e.write("reuse", batch(0..100, 2)).await.unwrap();
    assert_eq!(snapshot(&*old).unwrap(), old_rows, "the view changed under later writes");

    drop(old);
    let bytes = e.stats("reuse").await.unwrap().bytes;
    let report = e.compact("reuse", &COMPACT_ALL).await.unwrap();
    assert_eq!(report.rows_removed, 200, "both overwritten generations are free once no view holds them");
    let held = e.read_view("reuse").await.unwrap();
    let held_rows = snapshot(&*held).unwrap();
    // The next versions go into the freed slots (the view above cannot see them
    // as live), so the file does not grow, and the view is unchanged.
    e.write("reuse", batch(0..100, 3)).await.unwrap();
    e.write("reuse", batch(100..200, 3)).await.unwrap();
    assert_eq!(e.stats("reuse").await.unwrap().bytes, bytes, "freed slots were not reused");
    assert_eq!(snapshot(&*held).unwrap(), held_rows);
    let rows = current_rows(&*e, "reuse").await.unwrap();
    assert_eq!(rows.len(), 200);
    assert_eq!(rows["id7"].vector, vec![73.0; 4]);

    // Views expose the mapped file: one contiguous slice of every slot.
    let view = e.read_view("reuse").await.unwrap();
    let segment = &view.segments()[0];
    assert_eq!(segment.vectors().len(), segment.len() * 4);
    assert_eq!(segment.len(), 300, "100 live + 100 live + 100 dead slots");
}

#[tokio::test]
async fn flush_seals_with_index_bytes_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = MmapConfig::new(dir.path());
    let e = MmapEngine::open(config.clone(), Some(Arc::new(RowCountIndex))).await.unwrap();
    e.create_collection(&proxima_engine::testkit::config("sealed", 4)).await.unwrap();
    e.write("sealed", WriteBatch::from((0..30).map(|i| record(i, 4)).collect::<Vec<_>>())).await.unwrap();
    e.flush("sealed").await.unwrap();
    drop(e);
    let e = MmapEngine::open(config, Some(Arc::new(RowCountIndex))).await.unwrap();
    let view = e.read_view("sealed").await.unwrap();
    let segment = &view.segments()[0];
    assert!(segment.sealed(), "no write since the flush: still sealed after the restart");
    assert_eq!(segment.index_bytes(), Some(&30u64.to_le_bytes()[..]), "index bytes loaded, not rebuilt");
    e.write("sealed", WriteBatch::new().delete("id0")).await.unwrap();
    let view = e.read_view("sealed").await.unwrap();
    assert!(!view.segments()[0].sealed() && view.segments()[0].index_bytes().is_none(), "a write unseals");
}

async fn damaged(dir: &Path, damage: impl FnOnce(&Path)) -> proxima_core::Error {
    {
        let e = open(dir).await.unwrap();
        e.create_collection(&config("hurt", 4)).await.unwrap();
        e.write("hurt", batch(0..50, 0)).await.unwrap();
        e.flush("hurt").await.unwrap();
    }
    damage(&dir.join("hurt"));
    open(dir).await.expect_err("a damaged collection must not open")
}

#[tokio::test]
async fn damaged_files_are_corrupted_errors_naming_the_file() {
    for (what, file) in
        [("truncate", "vectors.f32"), ("delete", "vectors.f32"), ("flip", "slots.bin"), ("flip", "vectors.f32")]
    {
        let dir = tempfile::tempdir().unwrap();
        let err = damaged(dir.path(), |c| {
            let path = c.join(file);
            match what {
                // A short file would raise SIGBUS when a mapped row is read.
                "truncate" => std::fs::File::options().write(true).open(&path).unwrap().set_len(64 + 16 * 10).unwrap(),
                "delete" => std::fs::remove_file(&path).unwrap(),
                _ => {
                    let mut bytes = std::fs::read(&path).unwrap();
                    bytes[3] ^= 0xff; // the magic (vectors.f32) or the magic (slots.bin)
                    let n = bytes.len();
                    bytes[n - 20] ^= 0x01;
                    std::fs::write(&path, bytes).unwrap();
                }
            }
        })
        .await;
        assert_eq!(err.kind(), ErrorKind::Corrupted, "{what} {file}: {err}");
        assert!(err.to_string().contains(file) || format!("{err:?}").contains(file), "{what} {file}: {err:?}");
    }
}

#[tokio::test]
async fn a_checkpointed_collection_reopens_without_replay() {
    let dir = tempfile::tempdir().unwrap();
    let rows = {
        let e = open(dir.path()).await.unwrap();
        e.create_collection(&config("quick", 4)).await.unwrap();
        e.write("quick", batch(0..500, 0)).await.unwrap();
        e.write("quick", WriteBatch::new().delete("id3").soft_delete("id4")).await.unwrap();
        e.flush("quick").await.unwrap();
        current_rows(&*e, "quick").await.unwrap()
    };
    // The log holds nothing after the checkpoint: every frame file is empty.
    let wal_bytes: u64 = std::fs::read_dir(dir.path().join("quick/wal"))
        .unwrap()
        .flatten()
        .filter(|f| f.file_name() != "LOCK")
        .map(|f| f.metadata().unwrap().len())
        .sum();
    assert_eq!(wal_bytes, 0, "the log was not truncated at the checkpoint");
    let e = open(dir.path()).await.unwrap();
    assert_eq!(current_rows(&*e, "quick").await.unwrap(), rows);
    e.write("quick", WriteBatch::new().restore("id4")).await.unwrap();
    assert!(e.get("quick", &["id4".into()]).await.unwrap()[0].is_some());
}

#[tokio::test]
async fn a_view_keeps_its_mapping_while_the_file_grows() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path()).await.unwrap();
    e.create_collection(&config("grow", 4)).await.unwrap();
    e.write("grow", batch(0..10, 0)).await.unwrap();
    let view = e.read_view("grow").await.unwrap();
    let seen = snapshot(&*view).unwrap();
    let bytes = e.stats("grow").await.unwrap().bytes;
    // Far past the first chunk of slots: the file grows and is mapped again.
    e.write("grow", batch(10..5_000, 0)).await.unwrap();
    assert!(e.stats("grow").await.unwrap().bytes > bytes, "the file did not grow");
    assert_eq!(snapshot(&*view).unwrap(), seen, "the old view changed");
    assert_eq!(current_rows(&*e, "grow").await.unwrap().len(), 5_000);
}
