//! Collections partitioned over VIPER and another engine: writes and reads go
//! to the engine each id hashes to, and `unified_search` merges the engines'
//! answers exactly as a brute-force search over the union would rank them,
//! flagging engines that time out or fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use proxima::core::{CollectionConfig, DistanceMetric, ErrorKind, IndexConfig, Result, SearchRequest, VectorRecord};
use proxima::engine::{
    Capabilities, CollectionStats, CompactionPolicy, CompactionReport, MemoryEngine, ReadView, StoredRecord,
    VectorStorage, WriteBatch, WriteReceipt,
};
use proxima::{
    Condition, EngineOutcome, MergeStrategy, OperationOutcome, PlacementOperation, Proxima, ProximaConfig, RoutingRule,
    RoutingStrategy, SearchStrategy, VectorOperation,
};

/// A memory engine whose reads can be slowed down or made to fail.
#[derive(Debug, Default)]
struct Faulty {
    inner: MemoryEngine,
    slow: AtomicBool,
    failing: AtomicBool,
}

#[async_trait]
impl VectorStorage for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn create_collection(&self, config: &CollectionConfig) -> Result<()> {
        self.inner.create_collection(config).await
    }
    async fn drop_collection(&self, name: &str) -> Result<()> {
        self.inner.drop_collection(name).await
    }
    async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        self.inner.list_collections().await
    }
    async fn declare_field(&self, collection: &str, field: proxima::core::FieldSpec) -> Result<bool> {
        self.inner.declare_field(collection, field).await
    }
    async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        self.inner.write(collection, batch).await
    }
    async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        self.inner.get(collection, ids).await
    }
    async fn read_view(&self, collection: &str) -> Result<Arc<dyn ReadView>> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(proxima::core::Error::unavailable("the faulty engine is down"));
        }
        if self.slow.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        self.inner.read_view(collection).await
    }
    async fn flush(&self, collection: &str) -> Result<()> {
        self.inner.flush(collection).await
    }
    async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        self.inner.compact(collection, policy).await
    }
    async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        self.inner.stats(collection).await
    }
    async fn checkpoint_to(&self, collection: &str, dir: &Path) -> Result<()> {
        self.inner.checkpoint_to(collection, dir).await
    }
    async fn restore_from(&self, collection: &str, dir: &Path) -> Result<()> {
        self.inner.restore_from(collection, dir).await
    }
}

const DIM: u32 = 8;

async fn open(dir: &Path) -> (Proxima, Arc<Faulty>) {
    let mut config = ProximaConfig::at(dir);
    config.metadata_url = Some("memory://".to_string());
    config.engines = vec!["viper".to_string(), "memory".to_string()];
    let db = Proxima::open(config).await.unwrap();
    let faulty = Arc::new(Faulty::default());
    db.register_engine("faulty", faulty.clone()).unwrap();
    (db, faulty)
}

/// A deterministic pseudo-random vector.
fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Writes 300 records, overwrites some, deletes some; returns the visible data.
async fn fill(db: &Proxima, name: &str, partitions: [&str; 2]) -> BTreeMap<String, Vec<f32>> {
    let config = CollectionConfig::new(name, DIM).with_metric(DistanceMetric::Euclidean).with_partitions(partitions);
    let config = CollectionConfig { index: IndexConfig::Flat, ..config };
    db.create_collection(config).await.unwrap();
    let mut model = BTreeMap::new();
    let records: Vec<VectorRecord> = (0..300).map(|i| VectorRecord::new(format!("r{i}"), vector(i))).collect();
    for r in &records {
        model.insert(r.id.clone(), r.vector.clone());
    }
    db.upsert(name, records).await.unwrap();
    db.flush(name).await.unwrap();
    let overwrites: Vec<VectorRecord> = (0..40).map(|i| VectorRecord::new(format!("r{i}"), vector(1000 + i))).collect();
    for r in &overwrites {
        model.insert(r.id.clone(), r.vector.clone());
    }
    db.upsert(name, overwrites).await.unwrap();
    let deleted: Vec<String> = (40..70).map(|i| format!("r{i}")).collect();
    for id in &deleted {
        model.remove(id);
    }
    db.delete(name, deleted).await.unwrap();
    model
}

fn score(a: &[f32], b: &[f32]) -> f32 {
    DistanceMetric::Euclidean.score(a, b)
}

/// Exact top `k` of `data` for `query`: best score first, ties by id.
fn exact<'a>(data: impl Iterator<Item = (&'a String, &'a Vec<f32>)>, query: &[f32], k: usize) -> Vec<String> {
    let mut scored: Vec<(f32, &String)> = data.map(|(id, v)| (score(query, v), id)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(k).map(|(_, id)| id.clone()).collect()
}

/// Which engine holds each visible id, asked of the engines themselves.
async fn holder_of(
    db: &Proxima,
    name: &str,
    model: &BTreeMap<String, Vec<f32>>,
    engines: [&str; 2],
) -> BTreeMap<String, String> {
    let ids: Vec<String> = model.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for engine in engines {
        let found = db.engines()[engine].get(name, &ids).await.unwrap();
        for (id, record) in ids.iter().zip(found) {
            if record.is_some() {
                assert!(out.insert(id.clone(), engine.to_string()).is_none(), "{id} is on two engines");
            }
        }
    }
    out
}

fn ids(hits: &[proxima::core::SearchHit]) -> Vec<String> {
    hits.iter().map(|h| h.id.clone()).collect()
}

#[tokio::test]
async fn cross_engine_search_equals_brute_force_over_the_union() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    let engines = ["viper", "memory"];
    let model = fill(&db, "spread", engines).await;
    let holders = holder_of(&db, "spread", &model, engines).await;
    assert_eq!(holders.len(), model.len(), "every visible id is on exactly one engine");
    for engine in engines {
        let held = holders.values().filter(|e| *e == engine).count();
        assert!(held > 80, "{engine} holds only {held} of {}", model.len());
    }
    assert_eq!(db.stats("spread").await.unwrap().live_records, model.len() as u64);

    // Reads come back in the order asked, from both engines.
    let asked: Vec<String> = ["r5", "r45", "r299", "nope", "r100"].map(String::from).to_vec();
    let got = db.get("spread", &asked).await.unwrap();
    for (id, record) in asked.iter().zip(&got) {
        assert_eq!(record.as_ref().map(|r| &r.record.vector), model.get(id), "{id}");
    }

    let k = 10;
    for q in 0..20 {
        let query = vector(5000 + q);
        let reference = exact(model.iter(), &query, k);
        for merge in [MergeStrategy::default(), MergeStrategy::Max] {
            let strategy =
                SearchStrategy::CrossEngine { merge_strategy: merge.clone(), max_engines: None, timeout_ms: None };
            let response = db.unified_search("spread", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
            assert!(!response.partial, "{:?}", response.engines);
            assert_eq!(ids(&response.hits), reference, "{merge:?}, query {q}");
            for hit in &response.hits {
                assert!((hit.score - score(&query, &model[&hit.id])).abs() < 1e-4);
            }
        }
        // Plain search on a partitioned collection is the same cross-engine search.
        assert_eq!(ids(&db.search("spread", SearchRequest::new(query.clone(), k)).await.unwrap().hits), reference);

        // RRF: each engine's exact ranking of its own ids, fused by 1 / (60 + rank).
        let mut fused: Vec<(f32, String)> = Vec::new();
        for engine in engines {
            let own = model.iter().filter(|(id, _)| holders[*id] == engine);
            for (rank, id) in exact(own, &query, k).into_iter().enumerate() {
                fused.push((1.0 / (60.0 + rank as f32 + 1.0), id));
            }
        }
        fused.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let rrf_reference: Vec<String> = fused.into_iter().take(k).map(|(_, id)| id).collect();
        let strategy = SearchStrategy::CrossEngine {
            merge_strategy: MergeStrategy::ReciprocalRankFusion { k: 60 },
            max_engines: None,
            timeout_ms: None,
        };
        let response = db.unified_search("spread", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
        assert_eq!(ids(&response.hits), rrf_reference, "RRF, query {q}");

        // A weight scales one engine's scores (Euclidean scores are negative: 3x pushes it down).
        let weights = [("memory".to_string(), 3.0)].into();
        let strategy = SearchStrategy::CrossEngine {
            merge_strategy: MergeStrategy::ScoreWeighted { weights },
            max_engines: None,
            timeout_ms: None,
        };
        let response = db.unified_search("spread", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
        let mut weighted: Vec<(f32, &String)> = model
            .iter()
            .map(|(id, v)| (score(&query, v) * if holders[id] == "memory" { 3.0 } else { 1.0 }, id))
            .collect();
        weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let weighted_reference: Vec<String> = weighted.into_iter().take(k).map(|(_, id)| id.clone()).collect();
        assert_eq!(ids(&response.hits), weighted_reference, "weighted, query {q}");
    }

    // One engine only: flagged partial, and exactly that engine's best.
    let query = vector(9);
    let only_viper = exact(model.iter().filter(|(id, _)| holders[*id] == "viper"), &query, k);
    for strategy in [
        SearchStrategy::Single,
        SearchStrategy::CrossEngine { merge_strategy: MergeStrategy::Max, max_engines: Some(1), timeout_ms: None },
    ] {
        let response = db.unified_search("spread", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
        assert!(response.partial);
        assert!(matches!(&response.engines[1], EngineOutcome::Skipped { engine } if engine == "memory"));
        assert_eq!(ids(&response.hits), only_viper);
    }
}

#[tokio::test]
async fn a_slow_or_failing_engine_gives_flagged_partial_results() {
    let dir = tempfile::tempdir().unwrap();
    let (db, faulty) = open(dir.path()).await;
    let engines = ["viper", "faulty"];
    let model = fill(&db, "shaky", engines).await;
    let holders = holder_of(&db, "shaky", &model, engines).await;
    let query = vector(77);
    let k = 10;
    let only_viper = exact(model.iter().filter(|(id, _)| holders[*id] == "viper"), &query, k);
    // Generous enough for a loaded CI machine; the slow engine sleeps a minute.
    let strategy =
        SearchStrategy::CrossEngine { merge_strategy: MergeStrategy::Max, max_engines: None, timeout_ms: Some(1500) };

    let complete = db.unified_search("shaky", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
    assert!(!complete.partial);
    assert_eq!(ids(&complete.hits), exact(model.iter(), &query, k));

    faulty.slow.store(true, Ordering::Relaxed);
    let timed_out = db.unified_search("shaky", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
    assert!(timed_out.partial);
    assert!(matches!(&timed_out.engines[1], EngineOutcome::TimedOut { engine } if engine == "faulty"));
    assert!(matches!(&timed_out.engines[0], EngineOutcome::Answered { engine, hits: 10, .. } if engine == "viper"));
    assert_eq!(ids(&timed_out.hits), only_viper);
    faulty.slow.store(false, Ordering::Relaxed);

    faulty.failing.store(true, Ordering::Relaxed);
    let failed = db.unified_search("shaky", SearchRequest::new(query.clone(), k), &strategy).await.unwrap();
    assert!(failed.partial);
    assert!(matches!(&failed.engines[1], EngineOutcome::Failed { error, .. } if error.contains("down")));
    assert_eq!(ids(&failed.hits), only_viper);
    // A plain search needs every partition: it fails rather than answer with half the data.
    let err = db.search("shaky", SearchRequest::new(query.clone(), k)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    faulty.failing.store(false, Ordering::Relaxed);

    // A bad query is an error, not a partial answer.
    let err = db.unified_search("shaky", SearchRequest::new(vec![1.0; 3], k), &strategy).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn partitioned_writes_refuse_bad_input_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    let model = fill(&db, "parts", ["viper", "memory"]).await;
    let before = db.stats("parts").await.unwrap();
    // Ids for both engines; the last one has the wrong dimension.
    let mut batch = WriteBatch::new();
    for i in 0..20 {
        batch = batch.upsert(VectorRecord::new(format!("new{i}"), vector(i)));
    }
    batch = batch.upsert(VectorRecord::new("bad", vec![1.0; 3]));
    let err = db.write("parts", batch).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(db.stats("parts").await.unwrap(), before, "nothing changed on either engine");
    assert!(db.get("parts", &["new0".to_string(), "new1".to_string()]).await.unwrap().iter().all(Option::is_none));

    let err = db
        .create_collection(CollectionConfig::new("twice", DIM).with_partitions(["viper", "viper"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);

    // The operation entry point routes the same way.
    let outcome = db
        .execute_operation(VectorOperation::Get { collection: "parts".into(), ids: vec!["r100".into()] })
        .await
        .unwrap();
    let OperationOutcome::Records(records) = outcome else { panic!("{outcome:?}") };
    assert_eq!(records[0].as_ref().map(|r| &r.record.vector), model.get("r100"));
    let outcome = db
        .execute_operation(VectorOperation::Search {
            collection: "parts".into(),
            request: SearchRequest::new(vector(3), 5),
            strategy: SearchStrategy::default(),
        })
        .await
        .unwrap();
    let OperationOutcome::Hits(response) = outcome else { panic!("{outcome:?}") };
    assert_eq!(ids(&response.hits), exact(model.iter(), &vector(3), 5));

    db.drop_collection("parts").await.unwrap();
    for (_, engine) in db.engines() {
        assert!(engine.list_collections().await.unwrap().iter().all(|c| c.name != "parts"));
    }
}

/// The visible data of `collection`, read back by every id `model` could hold.
async fn read_back(db: &Proxima, collection: &str) -> BTreeMap<String, Vec<f32>> {
    let ids: Vec<String> = (0..400).map(|i| format!("r{i}")).collect();
    let found = db.get(collection, &ids).await.unwrap();
    ids.into_iter().zip(found).filter_map(|(id, r)| Some((id, r?.record.vector))).collect()
}

#[tokio::test]
async fn partitioned_collections_back_up_restore_and_move_one_partition_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    db.register_engine("spare", Arc::new(MemoryEngine::default())).unwrap();
    let model = fill(&db, "parts", ["viper", "memory"]).await;
    let backup = db.backup_namespace("parts", "b1").await.unwrap();
    assert_eq!(backup.records, model.len() as u64);

    // Changes after the backup, on both partitions; the restore undoes them.
    db.upsert("parts", (0..20).map(|i| VectorRecord::new(format!("r{i}"), vector(5000 + i))).collect()).await.unwrap();
    db.delete("parts", (100..130).map(|i| format!("r{i}")).collect()).await.unwrap();
    db.restore_namespace("parts", "b1", None).await.unwrap();
    assert_eq!(read_back(&db, "parts").await, model);
    db.restore_namespace("parts", "b1", Some("copy")).await.unwrap();
    assert_eq!(db.collection("copy").await.unwrap().partitions, ["viper", "memory"]);
    assert_eq!(read_back(&db, "copy").await, model);
    db.create_collection(CollectionConfig::new("single", DIM)).await.unwrap();
    let err = db.restore_namespace("parts", "b1", Some("single")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    // A partition moves alone; its ids keep their partition.
    for err in [
        db.migrate_collection("parts", "spare").await.unwrap_err(),
        db.move_partition("parts", "nosuch", "spare", false).await.unwrap_err(),
        db.move_partition("parts", "memory", "viper", false).await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let dry = db.move_partition("parts", "memory", "spare", true).await.unwrap();
    assert!(dry.dry_run && dry.records > 0);
    assert_eq!(db.collection("parts").await.unwrap().partitions, ["viper", "memory"]);
    let moved = db.move_partition("parts", "memory", "spare", false).await.unwrap();
    assert_eq!((moved.from.as_str(), moved.to.as_str(), moved.records), ("memory", "spare", dry.records));
    assert!(moved.spot_checked > 0);
    assert_eq!(db.collection("parts").await.unwrap().partitions, ["viper", "spare"]);
    assert_eq!(read_back(&db, "parts").await, model);
    let on_memory = db.engines()["memory"].list_collections().await.unwrap();
    assert!(on_memory.iter().all(|c| c.name != "parts"), "the source copy is dropped");
    let query = vector(7);
    let hits = db.search("parts", SearchRequest::new(query.clone(), 10)).await.unwrap();
    assert_eq!(ids(&hits.hits), exact(model.iter(), &query, 10));
}

#[tokio::test]
async fn rules_can_depend_on_the_placement_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    db.set_routing(RoutingStrategy::Rules(vec![RoutingRule {
        priority: 1,
        condition: Condition::Operation(PlacementOperation::Rebalance),
        engine: "memory".into(),
    }]));
    let config = db.create_collection(CollectionConfig::new("later", 2)).await.unwrap();
    assert_eq!(config.engine.as_deref(), Some("viper"), "the rule is for rebalancing only");
    db.upsert("later", vec![VectorRecord::new("a", vec![0.6, 0.8])]).await.unwrap();
    let moves = db.rebalance_collections().await.unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!(db.collection("later").await.unwrap().engine.as_deref(), Some("memory"));
    assert_eq!(db.get("later", &["a".to_string()]).await.unwrap()[0].as_ref().unwrap().record.vector, vec![0.6, 0.8]);
}

#[tokio::test]
async fn estimates_and_automatic_compaction_cover_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    let model = fill(&db, "parts", ["viper", "memory"]).await;
    let request = proxima::core::SearchRequest::new(vector(3), 5);
    let whole = db.estimate("parts", request.clone()).await.unwrap();
    assert!(whole.valid, "{whole:?}");
    // Flat on both partitions: every stored row of both is a distance computation.
    let stats = db.stats("parts").await.unwrap();
    let stored = stats.live_records + stats.soft_deleted_records + stats.dead_rows;
    assert_eq!(whole.estimated_distance_computations, stored, "{whole:?}");
    // Deleting most rows on both engines trips the thresholds for the collection as a whole.
    let doomed: Vec<String> = model.keys().take(model.len() * 3 / 4).cloned().collect();
    db.delete("parts", doomed.clone()).await.unwrap();
    db.flush("parts").await.unwrap();
    let eager = proxima::CompactionConfig { enabled: true, min_deleted_records: 1, min_deleted_ratio: 0.1 };
    let result = db.maybe_compact("parts", &eager).await.unwrap();
    assert!(result.triggered, "{result:?}");
    assert_eq!(db.stats("parts").await.unwrap().live_records, (model.len() - doomed.len()) as u64);
}

#[tokio::test]
async fn batch_execute_spreads_over_partitions_and_names_each_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    let model = fill(&db, "parts", ["viper", "memory"]).await;
    let before = db.stats("parts").await.unwrap().live_records;
    // Ids landing on both partitions, one of the wrong dimension, one restore of a live record.
    use proxima::engine::WriteOp;
    let mut ops: Vec<WriteOp> =
        (0..12).map(|i| WriteOp::Upsert(VectorRecord::new(format!("b{i}"), vector(i)))).collect();
    ops.insert(3, WriteOp::Upsert(VectorRecord::new("short", vec![1.0; 3])));
    let live = model.keys().next().unwrap().clone();
    ops.insert(7, WriteOp::Restore { id: live });
    let result = db.batch_execute("parts", ops).await.unwrap();
    let refused: Vec<usize> = result.errors.iter().map(|e| e.index).collect();
    assert_eq!(refused, [3, 7], "{result:?}");
    assert_eq!(result.succeeded, 12);
    assert_eq!(db.stats("parts").await.unwrap().live_records, before + 12);
    let ids: Vec<String> = (0..12).map(|i| format!("b{i}")).collect();
    let engines_used: std::collections::BTreeSet<usize> = ids.iter().map(|id| proxima::partition_of(id, 2)).collect();
    assert_eq!(engines_used.len(), 2, "the batch touched both partitions");
    assert!(db.get("parts", &ids).await.unwrap().iter().all(Option::is_some));
}

#[tokio::test]
async fn scans_page_through_every_partition_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = open(dir.path()).await;
    let model = fill(&db, "parts", ["viper", "memory"]).await;
    let mut want: Vec<String> = model.keys().cloned().collect();
    want.sort_by(|a, b| proxima::id_order(a, b));
    let (mut seen, mut from) = (Vec::new(), None);
    loop {
        let request = proxima::ScanRequest { filter: None, from: from.take(), limit: 37, include_vector: true };
        let page = db.scan("parts", request).await.unwrap();
        assert!(page.records.len() <= 37);
        for r in &page.records {
            assert_eq!(Some(&r.record.vector), model.get(&r.record.id), "{}", r.record.id);
        }
        seen.extend(page.records.into_iter().map(|r| r.record.id));
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, want, "every live record once, in id order, across both engines");
    assert_eq!(db.count("parts", None).await.unwrap(), model.len() as u64);
    let unset = proxima::core::filter::FieldRef { field: "x".into() };
    let none = db.count("parts", Some(&proxima::core::Filter::Exists(unset.clone()))).await.unwrap();
    let all =
        db.count("parts", Some(&proxima::core::Filter::Not(Box::new(proxima::core::Filter::Exists(unset))))).await;
    assert_eq!((none, all.unwrap()), (0, model.len() as u64));
}
