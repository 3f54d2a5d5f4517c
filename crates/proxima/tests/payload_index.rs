//! Payload indexes through `Proxima` on VIPER and mmap: stored with each
//! sealed segment, loaded again after a restart, and answering like an
//! evaluation of the filter after deletes, overwrites, TTL expiry and compaction.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proxima::core::testkit::seeded_vector;
use proxima::core::{
    CollectionConfig, DistanceMetric, ErrorKind, FieldSpec, FieldType, Filter, SearchRequest, VectorRecord,
};
use proxima::index::IndexParts;
use proxima::search::{FilterSource, Method};
use proxima::{Proxima, ProximaConfig};
use serde_json::json;

const DIM: usize = 8;

fn vector(seed: u64) -> Vec<f32> {
    seeded_vector(seed, DIM)
}

/// What is visible: id → (vector, p).
type Model = BTreeMap<String, (Vec<f32>, u64)>;

async fn open(dir: &std::path::Path) -> Proxima {
    Proxima::open(ProximaConfig::at(dir)).await.unwrap()
}

/// The filtered search answers exactly like brute force over the model, from the payload index.
async fn check(db: &Proxima, model: &Model, p: u64, when: &str) {
    let filter = Filter::eq("p", p);
    let query = vector(424_242 + p);
    let mut request = SearchRequest::new(query.clone(), 10).with_filter(filter);
    request.accuracy = Some(0.95);
    let response = db.search("c", request).await.unwrap();
    let mut truth: Vec<(f32, &String)> = model
        .iter()
        .filter(|(_, (_, value))| *value == p)
        .map(|(id, (v, _))| (DistanceMetric::Euclidean.score(&query, v), id))
        .collect();
    truth.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let truth: Vec<&String> = truth.into_iter().take(10).map(|(_, id)| id).collect();
    let got: Vec<&String> = response.hits.iter().map(|h| &h.id).collect();
    assert_eq!(got, truth, "{when}");
    let plans = &response.performance.plans;
    let sealed_and_indexed = plans.iter().filter(|p| p.filter == FilterSource::PayloadIndex).count();
    assert!(sealed_and_indexed > 0, "{when}: {plans:?}");
    assert!(
        plans.iter().filter(|p| p.filter == FilterSource::PayloadIndex).all(|p| p.method == Method::FilteredFlat),
        "{when}: 1% of rows are ranked exactly: {plans:?}"
    );
}

/// Waits until every sealed segment of at least `rows` rows stores a payload index.
async fn stored_payload_indexes(db: &Proxima, rows: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = db.engines()["viper"].read_view("c").await.unwrap();
        let big: Vec<_> = view.segments().iter().filter(|s| s.sealed() && s.len() >= rows).collect();
        let stored = big
            .iter()
            .filter(|s| s.index_bytes().and_then(|b| IndexParts::of(b).ok()).and_then(|p| p.payload).is_some())
            .count();
        if !big.is_empty() && stored == big.len() {
            return stored;
        }
        assert!(Instant::now() < deadline, "payload indexes never built");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_indexes_survive_restart_and_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    {
        let db = open(dir.path()).await;
        let config = CollectionConfig::new("c", DIM as u32)
            .with_metric(DistanceMetric::Euclidean)
            .with_field("p", FieldType::Int)
            .with_field("tag", FieldType::String);
        db.create_collection(config).await.unwrap();
        let records: Vec<VectorRecord> = (0..6_000u64)
            .map(|i| {
                model.insert(format!("r{i}"), (vector(i), i % 100));
                VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"p": i % 100, "tag": "x"}))
            })
            .collect();
        db.upsert("c", records).await.unwrap();
        // Rows that match `p = 7` for a few seconds only.
        let soon = proxima::core::now_unix_secs() + 6;
        let mut fleeting = Vec::new();
        for i in 0..5u64 {
            let mut r = VectorRecord::new(format!("t{i}"), vector(424_249)).with_metadata(json!({"p": 7}));
            r.expires_at = Some(soon);
            fleeting.push(r);
        }
        db.upsert("c", fleeting).await.unwrap();
        db.flush("c").await.unwrap();
        assert!(stored_payload_indexes(&db, 6_000).await > 0);
        let mut with_fleeting = model.clone();
        with_fleeting.extend((0..5).map(|i| (format!("t{i}"), (vector(424_249), 7))));
        // Building the graph may outlast the fleeting rows on a busy machine.
        let visible = if proxima::core::now_unix_secs() < soon { &with_fleeting } else { &model };
        check(&db, visible, 7, "after the flush").await;

        // Deletes and overwrites that move rows into and out of `p = 7`.
        let gone: Vec<String> = (0..3).map(|i| format!("r{}", 7 + 100 * i)).collect();
        db.delete("c", gone.clone()).await.unwrap();
        gone.iter().for_each(|id| drop(model.remove(id)));
        let moved: Vec<VectorRecord> = [(1_007u64, 8u64), (1_107, 8), (9, 7), (19, 7)]
            .iter()
            .map(|&(i, p)| {
                model.insert(format!("r{i}"), (vector(i), p));
                VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"p": p, "tag": "y"}))
            })
            .collect();
        db.upsert("c", moved).await.unwrap();
        while proxima::core::now_unix_secs() <= soon {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check(&db, &model, 7, "after deletes, overwrites and expiry").await;
        check(&db, &model, 8, "after deletes, overwrites and expiry").await;
        db.flush_all().await.unwrap();
    }
    // A restart loads the stored indexes; nothing is rebuilt before the first query.
    let db = open(dir.path()).await;
    assert!(stored_payload_indexes(&db, 6_000).await > 0);
    check(&db, &model, 7, "after a restart").await;
    db.compact("c", &Default::default()).await.unwrap();
    stored_payload_indexes(&db, 5_000).await;
    check(&db, &model, 7, "after compaction").await;
    check(&db, &model, 19, "after compaction").await;
    let estimate = db.estimate("c", SearchRequest::new(vector(1), 10).with_filter(Filter::eq("p", 7))).await.unwrap();
    assert_eq!(estimate.matching_rows, Some(model.values().filter(|(_, p)| *p == 7).count() as u64));
    assert_eq!(estimate.methods.get("filtered_flat"), Some(&1), "{:?}", estimate.methods);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_declared_later_is_checked_indexed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    {
        let db = open(dir.path()).await;
        db.create_collection(CollectionConfig::new("c", DIM as u32).with_metric(DistanceMetric::Euclidean))
            .await
            .unwrap();
        let records: Vec<VectorRecord> = (0..6_000u64)
            .map(|i| {
                model.insert(format!("r{i}"), (vector(i), i % 100));
                VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"p": i % 100}))
            })
            .collect();
        db.upsert("c", records).await.unwrap();
        let odd = VectorRecord::new("odd", vector(1)).with_metadata(json!({"p": "seven"}));
        db.upsert("c", vec![odd]).await.unwrap();
        db.flush("c").await.unwrap();
        let p = || FieldSpec { name: "p".into(), ty: FieldType::Int };

        let refused = db.declare_field("c", p()).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidArgument, "{refused}");
        assert!(refused.to_string().contains("odd"), "the refusal names the record: {refused}");
        assert!(db.collection("c").await.unwrap().fields.is_empty(), "a refused declaration changed the config");
        let unindexed =
            db.search("c", SearchRequest::new(vector(7), 10).with_filter(Filter::eq("p", 7))).await.unwrap();
        assert!(unindexed.performance.plans.iter().all(|p| p.filter != FilterSource::PayloadIndex));

        db.delete("c", vec!["odd".into()]).await.unwrap();
        assert!(db.declare_field("c", p()).await.unwrap());
        assert!(!db.declare_field("c", p()).await.unwrap(), "declaring it again changes nothing");
        check(&db, &model, 7, "declared after the segments were written").await;
        let mistyped = VectorRecord::new("x", vector(2)).with_metadata(json!({"p": "eight"}));
        assert_eq!(db.upsert("c", vec![mistyped]).await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
    let db = open(dir.path()).await;
    assert_eq!(db.collection("c").await.unwrap().fields, vec![FieldSpec { name: "p".into(), ty: FieldType::Int }]);
    check(&db, &model, 7, "after a restart").await;
    // Segments written from now on store the field's index with them.
    db.compact("c", &proxima::engine::CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX })
        .await
        .unwrap();
    assert!(stored_payload_indexes(&db, 5_000).await > 0);
    check(&db, &model, 8, "after compaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_collection_declares_on_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProximaConfig::at(dir.path());
    config.engines = vec!["viper".into(), "memory".into()];
    let db = Proxima::open(config).await.unwrap();
    db.create_collection(CollectionConfig::new("parts", 4).with_partitions(["viper", "memory"])).await.unwrap();
    let records: Vec<VectorRecord> = (0..40u64)
        .map(|i| VectorRecord::new(format!("r{i}"), vec![1.0, i as f32, 0.5, 0.25]).with_metadata(json!({"n": i})))
        .collect();
    db.upsert("parts", records).await.unwrap();
    // A soft-deleted record with another type, held by the second partition.
    let odd = (0..).map(|i| format!("odd{i}")).find(|id| proxima::partition_of(id, 2) == 1).unwrap();
    db.upsert("parts", vec![VectorRecord::new(odd.clone(), vec![1.0; 4]).with_metadata(json!({"n": "x"}))])
        .await
        .unwrap();
    db.batch_execute("parts", vec![proxima::engine::WriteOp::SoftDelete { id: odd.clone() }]).await.unwrap();
    let n = || FieldSpec { name: "n".into(), ty: FieldType::Int };

    let refused = db.declare_field("parts", n()).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    assert_eq!(refused.context("partitions_declared"), Some("1"), "{refused}");
    assert!(db.collection("parts").await.unwrap().fields.is_empty(), "the catalogue names the field too early");

    db.delete("parts", vec![odd]).await.unwrap();
    assert!(db.declare_field("parts", n()).await.unwrap());
    for engine in ["viper", "memory"] {
        let configs = db.engines()[engine].list_collections().await.unwrap();
        assert_eq!(configs.iter().find(|c| c.name == "parts").unwrap().fields, vec![n()], "{engine}");
    }
    assert_eq!(db.collection("parts").await.unwrap().fields, vec![n()]);
    let hits = db
        .search("parts", SearchRequest::new(vec![1.0, 3.0, 0.5, 0.25], 40).with_filter(Filter::eq("n", 3)))
        .await
        .unwrap();
    assert_eq!(hits.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["r3"]);
}

/// The mmap engine's single segment is unsealed by any write after a flush;
/// the payload index stored at the flush keeps answering filters, with the
/// rows written or changed since evaluated on their metadata, also after a
/// restart that replays those writes from the log.
#[cfg(feature = "engine-mmap")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mmap_collection_keeps_answering_from_its_payload_index_between_flushes() {
    use proxima::engine::WriteBatch;
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let mut config = ProximaConfig::at(dir.path());
        config.engines = vec!["viper".into(), "mmap".into()];
        Proxima::open(config).await.unwrap()
    };
    let mut model = Model::new();
    {
        let db = open().await;
        let mut config = CollectionConfig::new("c", DIM as u32)
            .with_metric(DistanceMetric::Euclidean)
            .with_field("p", FieldType::Int);
        config.engine = Some("mmap".into());
        db.create_collection(config).await.unwrap();
        let records: Vec<VectorRecord> = (0..3_000u64)
            .map(|i| {
                model.insert(format!("r{i}"), (vector(i), i % 100));
                VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"p": i % 100}))
            })
            .collect();
        db.upsert("c", records).await.unwrap();
        db.flush("c").await.unwrap();
        check(&db, &model, 7, "sealed by the flush").await;

        // Into and out of `p = 7` every way a row can change: a delete, an
        // overwrite (a new slot), metadata updated in place, a soft delete and a new row.
        db.delete("c", vec!["r7".into()]).await.unwrap();
        model.remove("r7");
        db.upsert("c", vec![VectorRecord::new("r9", vector(9)).with_metadata(json!({"p": 7}))]).await.unwrap();
        model.insert("r9".into(), (vector(9), 7));
        let batch = WriteBatch::new()
            .update_metadata("r17", json!({"p": 7}).as_object().unwrap().clone())
            .update_metadata("r107", json!({"p": 8}).as_object().unwrap().clone())
            .soft_delete("r207");
        db.write("c", batch).await.unwrap();
        model.get_mut("r17").unwrap().1 = 7;
        model.get_mut("r107").unwrap().1 = 8;
        model.remove("r207");
        db.upsert("c", vec![VectorRecord::new("n1", vector(77)).with_metadata(json!({"p": 7}))]).await.unwrap();
        model.insert("n1".into(), (vector(77), 7));
        let view = db.engines()["mmap"].read_view("c").await.unwrap();
        assert!(view.segments().iter().all(|s| !s.sealed()), "the writes unsealed the segment");
        check(&db, &model, 7, "unsealed").await;
        check(&db, &model, 8, "unsealed").await;
    }
    // No flush before the restart: the writes come back from the log, over the stored index.
    let db = open().await;
    let view = db.engines()["mmap"].read_view("c").await.unwrap();
    assert!(view.segments().iter().all(|s| !s.sealed()), "the log tail unsealed the segment");
    check(&db, &model, 7, "after a restart that replayed the log").await;
    check(&db, &model, 8, "after a restart that replayed the log").await;
    db.flush("c").await.unwrap();
    check(&db, &model, 7, "sealed again").await;
}
