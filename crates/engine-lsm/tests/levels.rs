//! What is particular to the LSM engine: background compaction really runs and
//! empties level 0; writes stall (and then fail, changing nothing) when it
//! cannot keep up; a tombstone above a deeper level keeps hiding the old
//! version until the last level; views keep the runs they hold; damaged run
//! files give `Corrupted` naming the file.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxima_core::{ErrorKind, VectorRecord};
use proxima_engine::testkit::{config, current_rows, snapshot};
use proxima_engine::{CompactionPolicy, VectorStorage, WriteBatch};
use proxima_engine_lsm::{LsmConfig, LsmEngine};

fn batch(range: std::ops::Range<u64>, salt: u64) -> WriteBatch {
    WriteBatch::from(
        range.map(|i| VectorRecord::new(format!("id{i:04}"), vec![(i * 10 + salt) as f32; 4])).collect::<Vec<_>>(),
    )
}

fn small(dir: &Path) -> LsmConfig {
    LsmConfig {
        memtable_bytes: 2_000,
        l0_compaction_trigger: 3,
        level1_rows: 50,
        level_size_ratio: 2,
        ..LsmConfig::new(dir)
    }
}

fn run_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sst"))
        .collect();
    files.sort();
    files
}

const ALL: CompactionPolicy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_compaction_keeps_level_zero_small_and_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(small(dir.path()), None).await.unwrap();
    e.create_collection(&config("bg", 4)).await.unwrap();
    for round in 0..20 {
        e.write("bg", batch(0..60, round)).await.unwrap();
    }
    // Level 0 below its trigger, and level 1 (60 rows > 50) spilled into level 2.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("bg/manifest.json")).unwrap()).unwrap();
        let deepest = manifest["levels"].as_array().unwrap().len();
        if e.level0_runs("bg").unwrap() < 3 && deepest >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "background compaction never got there: {manifest}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = current_rows(&e, "bg").await.unwrap();
    assert_eq!(rows.len(), 60);
    // id{i} was last written in round 19: every component is i * 10 + 19.
    for (id, row) in rows {
        let i: u64 = id[2..].parse().unwrap();
        assert_eq!(row.vector, vec![(i * 10 + 19) as f32; 4], "{id}: a stale version is visible");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stall_then_fail_when_compaction_cannot_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let config_ = LsmConfig {
        memtable_bytes: 1_000,
        l0_compaction_trigger: 1_000, // the background never merges level 0
        l0_stall_runs: 2,
        stall_timeout: Duration::from_millis(300),
        ..LsmConfig::new(dir.path())
    };
    let e = LsmEngine::open(config_, None).await.unwrap();
    e.create_collection(&config("stall", 4)).await.unwrap();
    let mut written = 0;
    let err = loop {
        match e.write("stall", batch(written..written + 20, 0)).await {
            Ok(_) => written += 20,
            Err(err) => break err,
        }
        assert!(written < 10_000, "writes never stalled");
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("stalled"), "{err}");
    let before = current_rows(&e, "stall").await.unwrap();
    assert_eq!(before.len() as u64, written, "the refused batch changed nothing");
    // A compaction empties level 0 and writes flow again.
    e.compact("stall", &ALL).await.unwrap();
    assert_eq!(e.level0_runs("stall").unwrap(), 0);
    e.write("stall", batch(written..written + 20, 0)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tombstone_hides_a_deeper_version_until_the_last_level() {
    let dir = tempfile::tempdir().unwrap();
    let config_ = LsmConfig { l0_compaction_trigger: 1_000, ..LsmConfig::new(dir.path()) };
    let e = LsmEngine::open(config_, None).await.unwrap();
    e.create_collection(&config("tomb", 4)).await.unwrap();
    e.write("tomb", batch(0..10, 0)).await.unwrap();
    e.compact("tomb", &ALL).await.unwrap(); // id0000.. now live in the deepest level
    e.write("tomb", WriteBatch::new().delete("id0003").soft_delete("id0004")).await.unwrap();
    e.flush("tomb").await.unwrap(); // the tombstone sits in level 0, above the data
    let stats = e.stats("tomb").await.unwrap();
    assert_eq!((stats.live_records, stats.soft_deleted_records), (8, 1));
    assert!(stats.dead_rows >= 2, "{stats:?}");
    drop(e);
    // Reopened from files alone: the tombstone still hides the older put.
    let e = LsmEngine::open(LsmConfig::new(dir.path()), None).await.unwrap();
    assert!(e.get("tomb", &["id0003".into()]).await.unwrap()[0].is_none());
    let report = e.compact("tomb", &ALL).await.unwrap();
    assert!(report.rows_removed >= 3, "the tombstone and the versions it hid go at the last level: {report:?}");
    assert!(e.get("tomb", &["id0003".into()]).await.unwrap()[0].is_none(), "a deleted record came back");
    assert_eq!(e.stats("tomb").await.unwrap().dead_rows, 0);
    e.write("tomb", WriteBatch::new().restore("id0004")).await.unwrap();
    assert_eq!(current_rows(&e, "tomb").await.unwrap().len(), 9);
    assert_eq!(e.stats("tomb").await.unwrap().dead_rows, 1, "the soft-deleted version, replaced by its restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_keep_the_runs_compaction_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let config_ = LsmConfig { l0_compaction_trigger: 1_000, ..LsmConfig::new(dir.path()) };
    let e = LsmEngine::open(config_, None).await.unwrap();
    e.create_collection(&config("pinned", 4)).await.unwrap();
    for round in 0..3 {
        e.write("pinned", batch(0..30, round)).await.unwrap();
        e.flush("pinned").await.unwrap();
    }
    let view = e.read_view("pinned").await.unwrap();
    let seen = snapshot(&*view).unwrap();
    let files_before = run_files(&dir.path().join("pinned"));
    assert_eq!(files_before.len(), 3);
    e.compact("pinned", &ALL).await.unwrap();
    assert_eq!(snapshot(&*view).unwrap(), seen);
    let files = run_files(&dir.path().join("pinned"));
    assert!(files_before.iter().all(|f| files.contains(f)), "a run a view holds was deleted: {files:?}");
    drop(view);
    e.write("pinned", batch(0..1, 9)).await.unwrap();
    e.flush("pinned").await.unwrap();
    let files = run_files(&dir.path().join("pinned"));
    assert!(files_before.iter().all(|f| !files.contains(f)), "replaced runs were never removed: {files:?}");
}

#[tokio::test]
async fn damaged_runs_are_corrupted_errors_naming_the_file() {
    for damage in ["flip", "truncate", "delete"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let e = LsmEngine::open(LsmConfig::new(dir.path()), None).await.unwrap();
            e.create_collection(&config("hurt", 4)).await.unwrap();
            e.write("hurt", batch(0..100, 0)).await.unwrap();
            e.flush("hurt").await.unwrap();
        }
        let run = dir.path().join("hurt").join(&run_files(&dir.path().join("hurt"))[0]);
        match damage {
            "flip" => {
                let mut bytes = std::fs::read(&run).unwrap();
                bytes[100] ^= 0x10;
                std::fs::write(&run, bytes).unwrap();
            }
            "truncate" => std::fs::File::options().write(true).open(&run).unwrap().set_len(50).unwrap(),
            _ => std::fs::remove_file(&run).unwrap(),
        }
        let err = LsmEngine::open(LsmConfig::new(dir.path()), None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupted, "{damage}: {err}");
        let name = run.file_name().unwrap().to_string_lossy().into_owned();
        assert!(format!("{err} {err:?}").contains(&name), "{damage}: {err:?}");
    }
}

#[tokio::test]
async fn engines_share_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(LsmConfig::new(dir.path().join("lsm")), None).await.unwrap();
    e.create_collection(&config("moved", 4)).await.unwrap();
    e.write("moved", batch(0..50, 1)).await.unwrap();
    e.write("moved", WriteBatch::new().delete("id0001").soft_delete("id0002")).await.unwrap();
    let rows = current_rows(&e, "moved").await.unwrap();
    e.checkpoint_to("moved", &dir.path().join("cp")).await.unwrap();
    let memory: Arc<dyn VectorStorage> = Arc::new(proxima_engine::MemoryEngine::new());
    memory.restore_from("moved", &dir.path().join("cp")).await.unwrap();
    assert_eq!(current_rows(&*memory, "moved").await.unwrap(), rows);
    e.restore_from("copy", &dir.path().join("cp")).await.unwrap();
    assert_eq!(current_rows(&e, "copy").await.unwrap(), rows);
    // The tombstone list (deleted and soft-deleted ids) travels with the copy too.
    let tombstones = e.read_view("moved").await.unwrap().tombstones().to_vec();
    assert_eq!(tombstones.len(), 2, "{tombstones:?}");
    assert_eq!(e.read_view("copy").await.unwrap().tombstones(), &tombstones[..]);
    assert_eq!(memory.read_view("moved").await.unwrap().tombstones(), &tombstones[..]);
    e.write("copy", WriteBatch::new().restore("id0002")).await.unwrap();
    assert_eq!(current_rows(&e, "copy").await.unwrap().len(), rows.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_above_the_last_level_keeps_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    // Level 1 spills past 5 rows; every flush is merged into level 1 at once.
    let config_ =
        LsmConfig { l0_compaction_trigger: 1, level1_rows: 5, level_size_ratio: 1_000, ..LsmConfig::new(dir.path()) };
    let e = LsmEngine::open(config_, None).await.unwrap();
    e.create_collection(&config("deep", 4)).await.unwrap();
    e.write("deep", batch(0..20, 0)).await.unwrap();
    e.flush("deep").await.unwrap();
    let manifest = dir.path().join("deep/manifest.json");
    let levels = |m: &Path| -> Vec<bool> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
        v["levels"].as_array().unwrap().iter().map(|l| !l.is_null()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while levels(&manifest) != [false, true] {
        assert!(Instant::now() < deadline, "the data never reached level 2: {:?}", levels(&manifest));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    e.write("deep", WriteBatch::new().delete("id0003")).await.unwrap();
    e.flush("deep").await.unwrap();
    // The tombstone is merged into level 1, above the level-2 version it hides.
    while levels(&manifest) != [true, true] || e.level0_runs("deep").unwrap() > 0 {
        assert!(Instant::now() < deadline, "level 0 was never merged: {:?}", levels(&manifest));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(e);
    let e = LsmEngine::open(LsmConfig::new(dir.path()), None).await.unwrap();
    assert!(e.get("deep", &["id0003".into()]).await.unwrap()[0].is_none(), "the tombstone was dropped too early");
    assert_eq!(current_rows(&e, "deep").await.unwrap().len(), 19);
}
