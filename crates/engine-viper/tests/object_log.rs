//! VIPER with its log in S3 (`log=object`; the moto server `cargo xtask
//! services up` starts): acknowledged writes survive SIGKILL with nothing on
//! the node's disk, and a second writer fences the first.

use std::path::Path;
use std::sync::Arc;

use proxima_core::{ErrorKind, VectorRecord};
use proxima_engine::testkit::config;
use proxima_engine::{VectorStorage, WriteBatch};
use proxima_engine_viper::{LogPlacement, ViperConfig, ViperEngine};
use proxima_tests::{engine_crash, service_url, service_var};

/// A root under a prefix named after `dir` (unique per test), with the log
/// in S3 and the local log directory pointed at `dir`, which must stay empty.
fn s3_config(dir: &Path, extra: &str) -> Option<ViperConfig> {
    let endpoint = service_url("S3")?;
    let bucket = service_var("PROXIMA_TEST_S3_BUCKET").expect("bucket in the services env");
    let prefix = dir.file_name().expect("a named directory").to_string_lossy();
    let uri = format!("s3://{bucket}/object-log-{prefix}?endpoint={endpoint}&log=object{extra}");
    let mut config = ViperConfig::from_uri(&uri).expect("a valid root");
    config.wal_dir = dir.join("wal");
    assert_eq!(config.log, LogPlacement::Object);
    Some(config)
}

async fn open_s3(dir: &Path) -> Arc<dyn VectorStorage> {
    let config = s3_config(dir, "&flush_rows=40&row_group_rows=16").expect("the crash test runs with S3 only");
    Arc::new(ViperEngine::open(config, None).await.expect("a crashed root must open cleanly"))
}

#[test]
fn acknowledged_batches_survive_sigkill_with_the_log_in_s3() {
    let probe = tempfile::tempdir().unwrap();
    if s3_config(probe.path(), "").is_none() {
        return;
    }
    let dir = engine_crash::acknowledged_batches_survive_sigkill(
        "acknowledged_batches_survive_sigkill_with_the_log_in_s3",
        "PROXIMA_VIPER_OBJECT_LOG_CRASH_DIR",
        |dir| Box::pin(open_s3(dir)),
    );
    assert!(!dir.path().join("wal").exists(), "the node's disk was used for the log");
}

fn upsert(id: &str) -> WriteBatch {
    WriteBatch::new().upsert(VectorRecord::new(id, vec![1.0; 8]))
}

async fn ids(engine: &ViperEngine) -> Vec<String> {
    let wanted: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let got = engine.get("c", &wanted).await.unwrap();
    got.into_iter().flatten().map(|r| r.record.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_opens_the_collection_fences_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = s3_config(dir.path(), "") else { return };
    let first = ViperEngine::open(config.clone(), None).await.unwrap();
    first.create_collection(&config_of("c")).await.unwrap();
    first.write("c", upsert("a")).await.unwrap();

    // Another node: its own (empty) disk, the same bucket.
    let other_disk = tempfile::tempdir().unwrap();
    let second = ViperEngine::open(ViperConfig { wal_dir: other_disk.path().join("wal"), ..config.clone() }, None)
        .await
        .unwrap();
    assert_eq!(ids(&second).await, ["a"], "the acknowledged write is in S3, not on the first node's disk");

    let e = first.write("c", upsert("b")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert!(first.write("c", upsert("b")).await.is_err(), "the deposed writer stays refused");
    assert!(first.flush("c").await.is_err(), "nor can it store a manifest");
    second.write("c", upsert("c")).await.unwrap();
    second.flush("c").await.unwrap();
    second.write("c", upsert("d")).await.unwrap();

    let third = ViperEngine::open(config, None).await.unwrap();
    assert_eq!(ids(&third).await, ["a", "c", "d"], "the refused write is nowhere");
    third.drop_collection("c").await.unwrap();
    assert!(!dir.path().join("wal").exists() && !other_disk.path().join("wal").exists());
}

fn config_of(name: &str) -> proxima_core::CollectionConfig {
    config(name, 8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reads_what_the_writer_stored_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = s3_config(dir.path(), "") else { return };
    let writer = ViperEngine::open(config.clone(), None).await.unwrap();
    writer.create_collection(&config_of("c")).await.unwrap();
    writer.write("c", upsert("a")).await.unwrap();

    let other_disk = tempfile::tempdir().unwrap();
    let following =
        ViperConfig { follow: true, follow_interval_ms: 50, wal_dir: other_disk.path().join("wal"), ..config.clone() };
    let follower = ViperEngine::open(following, None).await.unwrap();
    assert_eq!(ids(&follower).await, ["a"], "the writer's unflushed write, from its log");

    // Every change to a followed collection is refused, and changes nothing.
    assert_eq!(follower.write("c", upsert("b")).await.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(follower.drop_collection("c").await.unwrap_err().kind(), ErrorKind::Unavailable);
    assert!(follower.flush("c").await.is_err());
    writer.write("c", upsert("b")).await.unwrap();
    assert_eq!(writer.stats("c").await.unwrap().last_seq, 2, "the writer's log kept its place");

    // A new manifest (the flush) and the log after it.
    writer.flush("c").await.unwrap();
    writer.write("c", upsert("c")).await.unwrap();
    follower.refresh().await.unwrap();
    assert_eq!(ids(&follower).await, ["a", "b", "c"]);

    // Without an explicit refresh: the poll.
    writer.write("c", upsert("d")).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ids(&follower).await.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "the follower never saw `d`");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Compaction replaces the files; collections come and go.
    let policy = proxima_engine::CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 1_000 };
    writer.flush("c").await.unwrap();
    writer.compact("c", &policy).await.unwrap();
    writer.create_collection(&config_of("c2")).await.unwrap();
    follower.refresh().await.unwrap();
    assert_eq!(ids(&follower).await, ["a", "b", "c", "d"]);
    let names = |e: Vec<proxima_core::CollectionConfig>| e.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(follower.list_collections().await.unwrap()), ["c", "c2"]);
    writer.drop_collection("c2").await.unwrap();
    follower.refresh().await.unwrap();
    assert_eq!(names(follower.list_collections().await.unwrap()), ["c"]);
    assert!(!other_disk.path().join("wal").exists(), "the follower wrote nothing to its disk");
    writer.drop_collection("c").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_hand_a_collection_over_and_follow_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = s3_config(dir.path(), "&follow=true&follow_interval_ms=60000") else { return };
    let node = |disk: &Path| ViperEngine::open(ViperConfig { wal_dir: disk.join("wal"), ..config.clone() }, None);
    let (disk_a, disk_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(disk_a.path()).await.unwrap();
    let b = node(disk_b.path()).await.unwrap();
    let (shared_a, shared_b) = (a.shared().expect("a shared engine"), b.shared().expect("a shared engine"));

    // The node that creates a collection writes it; the other follows.
    a.create_collection(&config_of("c")).await.unwrap();
    a.write("c", upsert("a")).await.unwrap();
    shared_b.refresh().await.unwrap();
    assert!(shared_a.writes("c").await.unwrap() && !shared_b.writes("c").await.unwrap());
    assert_eq!(ids(&b).await, ["a"]);
    assert_eq!(b.drop_collection("c").await.unwrap_err().kind(), ErrorKind::Unavailable);

    // B takes it over: A is fenced, B writes; the manifest B stored carries B's epoch.
    let epoch_of = |positions: Vec<proxima_engine::SharedPosition>| positions[0].writer_epoch;
    let before = epoch_of(shared_a.positions().await.unwrap());
    assert!(before >= 1, "the creator's manifest names its epoch");
    shared_b.take_writer("c").await.unwrap();
    assert!(shared_b.writes("c").await.unwrap());
    assert!(epoch_of(shared_b.positions().await.unwrap()) > before, "the new writer's manifest names its epoch");
    assert_eq!(a.write("c", upsert("b")).await.unwrap_err().kind(), ErrorKind::Conflict);
    b.write("c", upsert("c")).await.unwrap();

    // A follows again and sees B's write, not its own refused one.
    shared_a.follow("c").await.unwrap();
    assert!(!shared_a.writes("c").await.unwrap());
    shared_a.refresh().await.unwrap();
    assert_eq!(ids(&a).await, ["a", "c"]);
    assert_eq!(shared_a.take_writer("nope").await.unwrap_err().kind(), ErrorKind::NotFound);

    b.drop_collection("c").await.unwrap();
    shared_a.refresh().await.unwrap();
    assert!(a.list_collections().await.unwrap().is_empty());
    let single = ViperEngine::open(ViperConfig { follow: false, ..config.clone() }, None).await.unwrap();
    assert!(single.shared().is_none(), "an engine one process owns has no writer roles");
}
