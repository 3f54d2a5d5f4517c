//! `Proxima` end to end on VIPER and the memory catalogue: batch execute,
//! namespace backups and analytics, each checked against what must hold.

use proxima::core::{CollectionConfig, ErrorKind, SearchRequest, VectorRecord};
use proxima::engine::WriteOp;
use proxima::{Proxima, ProximaConfig};
use serde_json::json;

async fn open(dir: &std::path::Path) -> Proxima {
    let mut config = ProximaConfig::at(dir);
    config.metadata_url = Some("memory://".to_string());
    let db = Proxima::open(config).await.unwrap();
    db.create_collection(CollectionConfig::new("c", 3)).await.unwrap();
    db
}

fn record(id: &str, x: f32) -> VectorRecord {
    VectorRecord::new(id, vec![x, 1.0, 0.5]).with_metadata(json!({"x": x}))
}

async fn ids_and_vectors(db: &Proxima, collection: &str, ids: &[&str]) -> Vec<Option<Vec<f32>>> {
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    db.get(collection, &ids).await.unwrap().into_iter().map(|r| r.map(|r| r.record.vector)).collect()
}

#[tokio::test]
async fn batch_execute_applies_the_valid_operations_and_names_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let ops = vec![
        WriteOp::Upsert(record("a", 1.0)),
        WriteOp::Upsert(VectorRecord::new("bad", vec![1.0, 2.0])),
        WriteOp::Delete { id: "never-there".into() },
        WriteOp::Restore { id: "a".into() },
        WriteOp::UpdateMetadata { id: "ghost".into(), metadata: json!({"k": 1}).as_object().unwrap().clone() },
        WriteOp::Upsert(record("b", 2.0)),
        WriteOp::SoftDelete { id: "b".into() },
    ];
    let result = db.batch_execute("c", ops).await.unwrap();
    assert_eq!((result.succeeded, result.failed), (4, 3), "{result:?}");
    let refused: Vec<(usize, &str, &str)> = result.errors.iter().map(|e| (e.index, e.operation, e.code)).collect();
    assert_eq!(
        refused,
        vec![(1, "upsert", "InvalidArgument"), (3, "restore", "NotFound"), (4, "update_metadata", "NotFound")]
    );
    let (first, last) = result.seq_range.unwrap();
    assert_eq!(last - first + 1, 4, "one write of the four valid operations");
    let got = ids_and_vectors(&db, "c", &["a", "b", "bad"]).await;
    assert!(got[0].is_some() && got[1].is_none() && got[2].is_none(), "{got:?}");
    assert_eq!(db.stats("c").await.unwrap().soft_deleted_records, 1);
}

#[tokio::test]
async fn a_restored_backup_shows_exactly_the_backed_up_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let before: Vec<VectorRecord> = (0..10).map(|i| record(&format!("r{i}"), i as f32 + 1.0)).collect();
    db.upsert("c", before.clone()).await.unwrap();
    db.flush("c").await.unwrap();
    db.upsert("c", vec![record("r9", 99.0)]).await.unwrap(); // the backup must keep this version
    let backup = db.backup_namespace("c", "b1").await.unwrap();
    assert_eq!(backup.records, 10);
    // Later writes: deletes, replacements, new records.
    db.delete("c", vec!["r0".into(), "r1".into()]).await.unwrap();
    db.upsert("c", vec![record("r2", -5.0), record("new", 7.0)]).await.unwrap();

    db.restore_namespace("c", "b1", Some("copy")).await.unwrap();
    db.restore_namespace("c", "b1", None).await.unwrap();
    let all = ["r0", "r1", "r2", "r9", "new"];
    for collection in ["c", "copy"] {
        let got = ids_and_vectors(&db, collection, &all).await;
        let mut expected_r9 = vec![99.0, 1.0, 0.5];
        proxima::core::DistanceMetric::Cosine.prepare(&mut expected_r9).unwrap();
        assert!(got[0].is_some() && got[1].is_some(), "{collection}: deleted after the backup, so restored");
        assert_eq!(got[3].as_deref(), Some(&expected_r9[..]), "{collection}: the version at backup time");
        assert!(got[4].is_none(), "{collection}: written after the backup");
        assert_eq!(db.stats(collection).await.unwrap().live_records, 10, "{collection}");
        let hits = db.search(collection, SearchRequest::new(vec![3.0, 1.0, 0.5], 1)).await.unwrap();
        assert_eq!(hits.hits[0].id, "r2", "{collection}: r2 has its backed-up vector again");
    }
    assert_eq!(
        db.list_namespace_backups("c").await.unwrap().iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["b1"]
    );
    assert_eq!(db.backup_namespace("c", "b1").await.unwrap_err().kind(), ErrorKind::AlreadyExists);
    assert_eq!(db.backup_namespace("c", "../escape").await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    db.delete_namespace_backup("c", "b1").await.unwrap();
    assert!(db.list_namespace_backups("c").await.unwrap().is_empty());
    assert_eq!(db.restore_namespace("c", "b1", None).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn analytics_count_operations_and_recommend_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    db.upsert("c", (0..40).map(|i| record(&format!("r{i}"), i as f32 + 1.0)).collect()).await.unwrap();
    db.flush("c").await.unwrap();
    // 30% dead: enough for the advice, too few for VIPER's own compaction after a flush (50%).
    db.delete("c", (0..12).map(|i| format!("r{i}")).collect()).await.unwrap();
    db.flush("c").await.unwrap();
    for _ in 0..5 {
        db.search("c", SearchRequest::new(vec![1.0, 1.0, 1.0], 3)).await.unwrap();
    }
    assert!(db.search("c", SearchRequest::new(vec![1.0], 3)).await.is_err());
    let analytics = db.get_performance_analytics(Some("c")).await.unwrap();
    let search = &analytics.collections["c"]["search"];
    assert_eq!((search.count, search.errors), (6, 1));
    assert!((search.success_rate - 5.0 / 6.0).abs() < 1e-9);
    assert!(search.p50_ms <= search.p95_ms && search.p95_ms <= search.p99_ms);
    assert_eq!(analytics.collections["c"]["write"].count, 2);
    assert_eq!(analytics.engines["viper"]["search"].count, 6);
    let costs = db.analyze_operation_costs();
    assert_eq!(costs.iter().map(|c| c.count).sum::<u64>(), 6 + 2 + 2 + 1, "searches, writes, flushes, the creation");
    assert_eq!(analytics.collections["c"]["create_collection"].count, 1);
    assert!((costs.iter().map(|c| c.share).sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(costs.windows(2).all(|w| w[0].total_ms >= w[1].total_ms), "most expensive first");
    let actions: Vec<&str> = analytics.recommendations.iter().map(|r| r.action.as_str()).collect();
    assert!(actions.contains(&"compact"), "30% of the rows are deletes: {actions:?}");
    db.compact("c", &Default::default()).await.unwrap();
    let after = db.get_performance_analytics(Some("c")).await.unwrap();
    assert!(!after.recommendations.iter().any(|r| r.action == "compact"), "{:?}", after.recommendations);
}

#[tokio::test]
async fn ttl_hides_at_once_and_auto_compaction_removes_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    db.upsert_with_ttl("c", (0..10).map(|i| record(&format!("t{i}"), i as f32 + 1.0)).collect(), 3_600).await.unwrap();
    db.upsert("c", vec![record("forever", 50.0)]).await.unwrap();
    db.flush("c").await.unwrap();
    let got = ids_and_vectors(&db, "c", &["t3", "forever"]).await;
    assert!(got.iter().all(Option::is_some));
    for i in 0..4 {
        db.set_ttl("c", &format!("t{i}"), Some(0)).await.unwrap();
    }
    assert!(ids_and_vectors(&db, "c", &["t0"]).await[0].is_none(), "expired records are invisible at once");
    let hits = db.search("c", SearchRequest::new(vec![1.0, 1.0, 0.5], 20)).await.unwrap();
    let ids: Vec<&str> = hits.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert!(!ids.iter().any(|id| ["t0", "t1", "t2", "t3"].contains(id)), "{ids:?}");
    assert_eq!(db.set_ttl("c", "missing", None).await.unwrap_err().kind(), ErrorKind::NotFound);

    let strict = proxima::CompactionConfig { enabled: true, min_deleted_records: 100, min_deleted_ratio: 0.0 };
    let skipped = db.maybe_compact("c", &strict).await.unwrap();
    assert!(!skipped.triggered, "{skipped:?}");
    assert!(skipped.reason.contains("below"), "{}", skipped.reason);
    let off = proxima::CompactionConfig { enabled: false, ..strict };
    assert!(!db.maybe_compact("c", &off).await.unwrap().triggered);
    let eager = proxima::CompactionConfig { enabled: true, min_deleted_records: 1, min_deleted_ratio: 0.1 };
    let done = db.maybe_compact("c", &eager).await.unwrap();
    assert!(done.triggered, "{done:?}");
    assert!(done.removed_count >= 4, "{done:?}");
    let stats = db.stats("c").await.unwrap();
    assert_eq!((stats.live_records, stats.dead_rows, stats.segments), (7, 0, 1));
    // No expired row is stored any more, so there is nothing left to trigger on.
    assert!(!db.maybe_compact("c", &eager).await.unwrap().triggered, "nothing left to remove");
    let got = ids_and_vectors(&db, "c", &["t0", "t4", "forever"]).await;
    assert_eq!(got.iter().map(Option::is_some).collect::<Vec<_>>(), [false, true, true]);
}

#[tokio::test]
async fn writes_keep_the_catalogue_figures_fresh_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let count = |db: &Proxima| {
        let catalogue = db.catalogue().clone();
        async move { catalogue.get("c").await.unwrap().unwrap().vector_count }
    };
    db.upsert("c", (0..5).map(|i| record(&format!("r{i}"), i as f32)).collect()).await.unwrap();
    assert_eq!(count(&db).await, 5, "the first write refreshes the figures");
    db.upsert("c", vec![record("r5", 5.0)]).await.unwrap();
    assert_eq!(count(&db).await, 5, "at most one refresh a second");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    db.upsert("c", vec![record("r6", 6.0)]).await.unwrap();
    assert_eq!(count(&db).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_status_follows_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let db = Proxima::open(ProximaConfig::at(dir.path())).await.unwrap();
    db.create_collection(CollectionConfig::new("c", 8)).await.unwrap();
    let records = (0..3_000u64)
        .map(|i| VectorRecord::new(format!("r{i}"), proxima::core::testkit::seeded_vector(i, 8)))
        .collect::<Vec<_>>();
    db.upsert("c", records).await.unwrap();
    let buffered = db.index_status("c").await.unwrap();
    assert_eq!((buffered.indexed_rows, buffered.unindexed_rows, buffered.building), (0, 3_000, true));
    db.flush("c").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let status = db.index_status("c").await.unwrap();
        if !status.building {
            assert_eq!((status.indexed_rows, status.unindexed_rows), (3_000, 0));
            assert_eq!(status.code_bytes, 3_000 * 8, "one byte of codes per value");
            assert!(status.index_bytes > status.code_bytes, "{status:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the graph was never built: {status:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.upsert("c", vec![VectorRecord::new("small", vec![1.0; 8])]).await.unwrap();
    let status = db.index_status("c").await.unwrap();
    assert_eq!((status.indexed_rows, status.unindexed_rows, status.building), (3_000, 1, false), "a small buffer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_batches_answer_as_searches_and_refuse_bad_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    db.upsert("c", (0..200).map(|i| record(&format!("r{i}"), i as f32 / 10.0)).collect()).await.unwrap();
    let requests: Vec<SearchRequest> = (0..12).map(|i| SearchRequest::new(vec![i as f32, 1.0, 0.5], 3)).collect();
    let batch = db.search_batch("c", requests.clone()).await.unwrap();
    for (request, answer) in requests.into_iter().zip(batch) {
        let single = db.search("c", request).await.unwrap();
        let ids = |r: &proxima::search::SearchResponse| r.hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&answer), ids(&single));
    }
    for size in [0, proxima::MAX_BATCH_SEARCHES + 1] {
        let requests = vec![SearchRequest::new(vec![1.0, 1.0, 0.5], 3); size];
        assert_eq!(db.search_batch("c", requests).await.unwrap_err().kind(), ErrorKind::InvalidArgument, "{size}");
    }
    let missing = db.search_batch("nope", vec![SearchRequest::new(vec![1.0, 1.0, 0.5], 3)]).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    let analytics = db.get_performance_analytics(Some("c")).await.unwrap();
    assert_eq!(analytics.collections["c"]["search_batch"].count, 1);
}
