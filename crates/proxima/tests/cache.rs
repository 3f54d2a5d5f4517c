//! The answer cache on `Proxima`'s request path: with it on, every answer
//! equals the one computed with it off, through random sequences of writes,
//! deletes, metadata updates, soft deletes and restores, batches, flushes,
//! compactions, TTL expiries, snapshot restores and moves; repeated reads are
//! answered by L1; `only` says it missed instead of computing; a partitioned
//! collection's answers are cached until any partition changes; and the
//! engine calls of batches, backups and moves are counted by analytics.

use std::time::Duration;

use proptest::prelude::*;
use proxima::core::{CollectionConfig, SearchRequest, VectorRecord};
use proxima::engine::{CompactionPolicy, WriteOp};
use proxima::{CacheConfig, CacheMode, Proxima, ProximaConfig};
use serde_json::json;

async fn open(dir: &std::path::Path, cache: bool) -> Proxima {
    let mut config = ProximaConfig::at(dir);
    config.metadata_url = Some("memory://".to_string());
    config.engines = vec!["memory".into(), "viper".into()];
    config.cache = CacheConfig { enabled: cache, ..CacheConfig::default() };
    let db = Proxima::open(config).await.unwrap();
    let mut collection = CollectionConfig::new("c", 3);
    collection.engine = Some("viper".into());
    db.create_collection(collection).await.unwrap();
    db
}

#[derive(Debug, Clone)]
enum Step {
    Upsert(u8, f32),
    UpsertExpiring(u8, f32),
    Delete(u8),
    Metadata(u8, i64),
    SoftDelete(u8),
    Restore(u8),
    Flush,
    Compact,
    Snapshot,
    RestoreSnapshot,
    Move,
    Wait,
    Search(u8),
    Get(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..12, -1.0f32..1.0).prop_map(|(i, x)| Step::Upsert(i, x)),
        1 => (0u8..12, -1.0f32..1.0).prop_map(|(i, x)| Step::UpsertExpiring(i, x)),
        1 => (0u8..12).prop_map(Step::Delete),
        1 => (0u8..12, 0i64..5).prop_map(|(i, v)| Step::Metadata(i, v)),
        1 => (0u8..12).prop_map(Step::SoftDelete),
        1 => (0u8..12).prop_map(Step::Restore),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Snapshot),
        1 => Just(Step::RestoreSnapshot),
        1 => Just(Step::Move),
        1 => Just(Step::Wait),
        6 => (0u8..4).prop_map(Step::Search),
        4 => (0u8..12).prop_map(Step::Get),
    ]
}

fn record(i: u8, x: f32) -> VectorRecord {
    VectorRecord::new(format!("r{i}"), vec![x, 1.0, 0.25]).with_metadata(json!({"v": 0}))
}

/// Applies a step; returns what a read answered (nothing for a change).
/// `expires_at` is the expiry of an expiring upsert, the same for both databases.
async fn apply(
    db: &Proxima,
    step: &Step,
    expires_at: u64,
    snapshot: &mut Option<String>,
    on_viper: &mut bool,
) -> Option<String> {
    let write = |op: WriteOp| async move { db.batch_execute("c", vec![op]).await.map(|_| ()) };
    let result = match step {
        Step::Upsert(i, x) => db.upsert("c", vec![record(*i, *x)]).await.map(|_| ()),
        // Expires within the test: a cached answer must not outlive it.
        Step::UpsertExpiring(i, x) => {
            let record = VectorRecord { expires_at: Some(expires_at), ..record(*i, *x) };
            db.upsert("c", vec![record]).await.map(|_| ())
        }
        Step::Delete(i) => db.delete("c", vec![format!("r{i}")]).await.map(|_| ()),
        Step::Metadata(i, v) => {
            write(WriteOp::UpdateMetadata {
                id: format!("r{i}"),
                metadata: json!({"v": v}).as_object().unwrap().clone(),
            })
            .await
        }
        Step::SoftDelete(i) => write(WriteOp::SoftDelete { id: format!("r{i}") }).await,
        Step::Restore(i) => write(WriteOp::Restore { id: format!("r{i}") }).await,
        Step::Flush => db.flush("c").await,
        Step::Compact => {
            db.compact("c", &CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX }).await.map(|_| ())
        }
        Step::Snapshot => db.backup_namespace("c", "snap").await.map(|b| *snapshot = Some(b.name)),
        Step::RestoreSnapshot => match snapshot {
            Some(name) => db.restore_namespace("c", name, None).await.map(|_| ()),
            None => Ok(()),
        },
        Step::Move => {
            *on_viper = !*on_viper;
            db.migrate_collection("c", if *on_viper { "viper" } else { "memory" }).await.map(|_| ())
        }
        Step::Wait => {
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            Ok(())
        }
        Step::Search(q) => {
            // A few distinct queries, so that repeats are answered from the cache.
            let x = f32::from(*q) / 2.0 - 1.0;
            let request = SearchRequest { include_metadata: true, ..SearchRequest::new(vec![x, 1.0, 0.25], 5) };
            let answer = db.search_cached("c", request, CacheMode::Use).await.unwrap().value.unwrap();
            let hits: Vec<(String, u64, u32, String)> = answer
                .hits
                .into_iter()
                .map(|h| (h.id, h.seq, h.score.to_bits(), format!("{:?}", h.metadata)))
                .collect();
            return Some(format!("{hits:?}"));
        }
        Step::Get(i) => {
            let got = db.get_cached("c", &[format!("r{i}")], CacheMode::Use).await.unwrap().value.unwrap();
            return Some(format!(
                "{:?}",
                got.into_iter().map(|r| r.map(|r| (r.seq, r.record.metadata))).collect::<Vec<_>>()
            ));
        }
    };
    // A refused change (e.g. restoring a record that is not soft-deleted) is
    // refused the same way with the cache on or off.
    Some(format!("{:?}", result.map_err(|e| e.kind())))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Waits, if needed, until the first half of a second.
async fn start_early_in_a_second() {
    let into = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_millis();
    if into > 500 {
        tokio::time::sleep(Duration::from_millis(u64::from(1_000 - into) + 5)).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn answers_with_the_cache_equal_answers_without(steps in proptest::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let (with_dir, without_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (with, without) = (open(with_dir.path(), true).await, open(without_dir.path(), false).await);
            let (mut snap_with, mut snap_without) = (None, None);
            let (mut viper_with, mut viper_without) = (true, true);
            // Expiry is counted in whole seconds: while an expiring record may
            // be visible, each step runs on both databases within one second,
            // so that both see it expired or both see it alive.
            let mut expiring_until = 0;
            for (n, step) in steps.iter().enumerate() {
                loop {
                    if now_secs() <= expiring_until {
                        start_early_in_a_second().await;
                    }
                    let second = now_secs();
                    if matches!(step, Step::UpsertExpiring(..)) {
                        expiring_until = second + 1;
                    }
                    let a = apply(&with, step, second + 1, &mut snap_with, &mut viper_with).await;
                    let b = apply(&without, step, second + 1, &mut snap_without, &mut viper_without).await;
                    // A read straddling a second is asked again (reads change nothing).
                    let read = matches!(step, Step::Search(_) | Step::Get(_));
                    if read && a != b && now_secs() != second {
                        continue;
                    }
                    assert_eq!(a, b, "step {n}: {step:?}");
                    break;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_search_is_answered_by_l1_until_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), true).await;
    db.upsert("c", vec![record(1, 0.5), record(2, -0.5)]).await.unwrap();
    let request = SearchRequest::new(vec![0.5, 1.0, 0.25], 2);
    let first = db.search_cached("c", request.clone(), CacheMode::Use).await.unwrap();
    assert_eq!((first.cache.answered_by.as_deref(), first.cache.missed.as_slice()), (None, &["l1".to_string()][..]));
    let second = db.search_cached("c", request.clone(), CacheMode::Use).await.unwrap();
    assert_eq!(second.cache.answered_by.as_deref(), Some("l1"));
    assert_eq!(second.value.as_ref().unwrap().hits, first.value.as_ref().unwrap().hits);

    db.upsert("c", vec![record(3, 0.5)]).await.unwrap();
    let only = db.search_cached("c", request.clone(), CacheMode::Only).await.unwrap();
    assert!(only.value.is_none(), "after a write, `only` misses instead of answering the old hits");
    let fresh = db.search_cached("c", request.clone(), CacheMode::Use).await.unwrap().value.unwrap();
    assert_eq!(fresh.hits.len(), 2);
    assert!(fresh.hits.iter().any(|h| h.id == "r3"), "{:?}", fresh.hits);

    let bypass = db.search_cached("c", request, CacheMode::Bypass).await.unwrap();
    assert_eq!(bypass.cache, Default::default(), "bypass touches no layer");
    let report = db.cache_report().await;
    assert_eq!(report[0].layer, "l1");
    assert!(report[0].hits >= 1 && report[0].misses >= 2, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_backups_and_moves_are_counted_by_analytics() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), true).await;
    db.batch_execute("c", vec![WriteOp::Upsert(record(1, 0.5))]).await.unwrap();
    db.backup_namespace("c", "snap").await.unwrap();
    db.migrate_collection("c", "memory").await.unwrap();
    let analytics = db.get_performance_analytics(Some("c")).await.unwrap();
    let ops = &analytics.collections["c"];
    for op in ["write", "checkpoint", "restore"] {
        assert!(ops.get(op).is_some_and(|s| s.count >= 1), "`{op}` not counted: {:?}", ops.keys().collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_estimate_follows_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), true).await;
    db.upsert("c", vec![record(1, 0.5)]).await.unwrap();
    let request = SearchRequest::new(vec![0.5, 1.0, 0.25], 2);
    let small = db.estimate_cached("c", request.clone()).await.unwrap();
    assert_eq!(db.estimate_cached("c", request.clone()).await.unwrap(), small, "a repeat answers the same");
    db.upsert("c", (0..200).map(|i| record((i % 250) as u8, i as f32 / 200.0)).collect()).await.unwrap();
    let large = db.estimate_cached("c", request).await.unwrap();
    assert!(
        large.estimated_distance_computations > small.estimated_distance_computations,
        "after a write the estimate is computed again: {small:?} then {large:?}"
    );
    let analytics = db.get_performance_analytics(Some("c")).await.unwrap();
    assert_eq!(analytics.collections["c"]["estimate_cached"].count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_collection_is_cached_until_any_partition_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), true).await;
    db.create_collection(CollectionConfig::new("parts", 3).with_partitions(["viper", "memory"])).await.unwrap();
    db.upsert("parts", (0..20).map(|i| record(i, f32::from(i) / 20.0)).collect()).await.unwrap();
    let request = SearchRequest::new(vec![0.5, 1.0, 0.25], 3);
    db.search_cached("parts", request.clone(), CacheMode::Use).await.unwrap();
    let again = db.search_cached("parts", request.clone(), CacheMode::Use).await.unwrap();
    assert_eq!(again.cache.answered_by.as_deref(), Some("l1"), "{:?}", again.cache);
    let ids = vec!["r3".to_string(), "r4".to_string()];
    db.get_cached("parts", &ids, CacheMode::Use).await.unwrap();
    assert_eq!(db.get_cached("parts", &ids, CacheMode::Use).await.unwrap().cache.answered_by.as_deref(), Some("l1"));

    // A write to either partition makes both answers unreachable.
    for partition in 0..2 {
        let i = (0..20u8).find(|i| proxima::partition_of(&format!("r{i}"), 2) == partition).unwrap();
        db.upsert("parts", vec![record(i, 0.99)]).await.unwrap();
        let only = db.search_cached("parts", request.clone(), CacheMode::Only).await.unwrap();
        assert!(only.value.is_none(), "a write to partition {partition} left the old answer");
        assert!(db.get_cached("parts", &ids, CacheMode::Only).await.unwrap().value.is_none());
        db.search_cached("parts", request.clone(), CacheMode::Use).await.unwrap();
        db.get_cached("parts", &ids, CacheMode::Use).await.unwrap();
    }
}

/// With L3 on disk and a catalogue that persists, an answer a process stored
/// answers the same request after a restart (keys name the data by its
/// lineage, file version and last operation, not by the process), and never
/// once the data changed: after a write or a snapshot restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l3_answers_after_a_restart_but_not_after_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_with_l3(dir.path(), dir.path().join("l3")).await;
    db.create_collection(CollectionConfig::new("c", 3)).await.unwrap();
    db.upsert("c", ten_rows()).await.unwrap();
    let computed = search(&db, CacheMode::Use).await;
    assert_eq!(computed.cache.answered_by, None);
    db.shutdown().await.unwrap(); // stores what the write queues hold
    drop(db);

    let db = open_with_l3(dir.path(), dir.path().join("l3")).await;
    let restarted = search(&db, CacheMode::Use).await;
    assert_eq!(restarted.cache.answered_by.as_deref(), Some("l3"), "{:?}", restarted.cache);
    assert_eq!(restarted.value.unwrap().hits, computed.value.as_ref().unwrap().hits);

    db.upsert("c", vec![record(42, 0.5)]).await.unwrap();
    let after_write = search(&db, CacheMode::Use).await;
    assert_eq!(after_write.cache.answered_by, None, "a write moves the version on");
    assert!(after_write.value.unwrap().hits.iter().any(|h| h.id == "r42"));

    db.backup_namespace("c", "snap").await.unwrap();
    db.upsert("c", vec![record(43, 0.5)]).await.unwrap();
    search(&db, CacheMode::Use).await;
    db.restore_namespace("c", "snap", None).await.unwrap();
    let restored = search(&db, CacheMode::Use).await;
    assert_eq!(restored.cache.answered_by, None, "a restore is other data");
    let restored = restored.value.unwrap();
    assert!(!restored.hits.iter().any(|h| h.id == "r43"), "{:?}", restored.hits);
    assert_eq!(restored.hits, search(&db, CacheMode::Bypass).await.value.unwrap().hits);
    db.shutdown().await.unwrap();
}

/// Two databases with their own catalogues and data, sharing one L3
/// directory, each create `c` and write the same rows in the same order:
/// their files reach the same version and their logs the same sequence, and
/// only the lineage tells the data apart. The second never answers from the
/// first's entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_reused_for_other_data_shares_no_cached_answer() {
    let (first, second, l3) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, wanted) in [(first.path(), None), (second.path(), None)] {
        let db = open_with_l3(dir, l3.path().to_path_buf()).await;
        db.create_collection(CollectionConfig::new("c", 3)).await.unwrap();
        db.upsert("c", ten_rows()).await.unwrap();
        let only = search(&db, CacheMode::Only).await;
        assert_eq!(only.value.map(|v| v.hits), wanted, "{:?}", only.cache);
        search(&db, CacheMode::Use).await;
        let stats = db.cache_report().await;
        assert!(stats.iter().any(|l| l.layer == "l3" && l.misses > 0), "L3 was asked: {stats:?}");
        db.shutdown().await.unwrap();
    }
}

async fn open_with_l3(dir: &std::path::Path, l3: std::path::PathBuf) -> Proxima {
    let mut config = ProximaConfig::at(dir);
    config.cache = CacheConfig { l3_max_bytes: 16 << 20, l3_path: Some(l3), ..CacheConfig::default() };
    Proxima::open(config).await.unwrap()
}

fn ten_rows() -> Vec<VectorRecord> {
    (0..10).map(|i| record(i, f32::from(i) / 10.0)).collect()
}

async fn search(db: &Proxima, mode: CacheMode) -> proxima::Cached<proxima::search::SearchResponse> {
    db.search_cached("c", SearchRequest::new(vec![0.5, 1.0, 0.25], 3), mode).await.unwrap()
}
