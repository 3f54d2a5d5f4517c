//! Expired records are invisible at once and gone for good after compaction.

use proxima_core::{CollectionConfig, VectorRecord, now_unix_secs};
use proxima_engine::{CompactionPolicy, MemoryEngine, VectorStorage, WriteBatch};

#[tokio::test]
async fn compaction_removes_expired_records_and_keeps_the_rest() {
    let engine = MemoryEngine::new();
    engine.create_collection(&CollectionConfig::new("c", 2)).await.unwrap();
    let mut gone = VectorRecord::new("gone", vec![1.0, 0.0]);
    gone.expires_at = Some(1);
    let mut later = VectorRecord::new("later", vec![0.0, 1.0]);
    later.expires_at = Some(now_unix_secs() + 3_600);
    let batch = WriteBatch::new().upsert(gone).upsert(later).upsert(VectorRecord::new("kept", vec![1.0, 1.0]));
    engine.write("c", batch).await.unwrap();
    engine.flush("c").await.unwrap();
    let ids = ["gone".to_string(), "later".to_string(), "kept".to_string()];
    let visible = |got: Vec<Option<proxima_engine::StoredRecord>>| got.iter().map(Option::is_some).collect::<Vec<_>>();
    assert_eq!(visible(engine.get("c", &ids).await.unwrap()), [false, true, true], "expired is invisible at once");
    let before = engine.stats("c").await.unwrap();
    let report =
        engine.compact("c", &CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 1 << 20 }).await.unwrap();
    assert_eq!(report.rows_removed, 1, "{report:?} (stats before: {before:?})");
    assert_eq!(visible(engine.get("c", &ids).await.unwrap()), [false, true, true]);
    let view = engine.read_view("c").await.unwrap();
    let rows: usize = view.segments().iter().map(|s| s.len()).sum();
    assert_eq!(rows, 2, "the expired row is physically gone");
    // The id is free again: writing it anew works like a first write.
    engine.write("c", WriteBatch::new().upsert(VectorRecord::new("gone", vec![2.0, 2.0]))).await.unwrap();
    assert_eq!(visible(engine.get("c", &ids).await.unwrap()), [true, true, true]);
}
