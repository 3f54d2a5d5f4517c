//! Filters on declared fields answered from payload indexes: the planner's
//! choice and the recall at every selectivity, exact counts in plans, and a
//! damaged stored index rebuilt rather than trusted.

use std::collections::BTreeSet;
use std::sync::Arc;

use proxima_core::testkit::seeded_vector;
use proxima_core::{CollectionConfig, DistanceMetric, FieldType, Filter, IndexConfig, SearchRequest, VectorRecord};
use proxima_engine::testkit::RowsSegment;
use proxima_engine::{IndexBuilder, MemoryEngine, Segment, VectorStorage, WriteBatch};
use proxima_index::IndexParts;
use proxima_search::{FilterSource, Method, SearchContext, SegmentIndexer, VectorSearchHandler};
use serde_json::json;

const DIM: usize = 16;
const ROWS: u64 = 12_000;

fn vector(seed: u64) -> Vec<f32> {
    seeded_vector(seed, DIM)
}

/// `u` spreads rows evenly over 10,000 values; `note` is never declared.
fn record(i: u64) -> VectorRecord {
    VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"u": i % 10_000, "note": i % 7}))
}

async fn collection(builder: Arc<dyn IndexBuilder>) -> Arc<dyn VectorStorage> {
    let engine: Arc<dyn VectorStorage> = Arc::new(MemoryEngine::new().with_index_builder(builder));
    let mut config =
        CollectionConfig::new("c", DIM as u32).with_metric(DistanceMetric::Euclidean).with_field("u", FieldType::Int);
    config.index = IndexConfig::Hnsw { m: 16, ef_construction: 100 };
    engine.create_collection(&config).await.unwrap();
    let batch = (0..ROWS).fold(WriteBatch::new(), |b, i| b.upsert(record(i)));
    engine.write("c", batch).await.unwrap();
    engine.flush("c").await.unwrap();
    engine
}

fn indexer() -> Arc<dyn IndexBuilder> {
    Arc::new(SegmentIndexer { min_rows: 100, threads: 2 })
}

fn exact_top(query: &[f32], k: usize, filter: &Filter) -> Vec<String> {
    static RECORDS: std::sync::OnceLock<Vec<VectorRecord>> = std::sync::OnceLock::new();
    let records = RECORDS.get_or_init(|| (0..ROWS).map(record).collect());
    let mut scored: Vec<(f32, &str)> = records
        .iter()
        .filter(|r| filter.matches(&r.metadata))
        .map(|r| (DistanceMetric::Euclidean.score(query, &r.vector), r.id.as_str()))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(k).map(|(_, id)| id.to_string()).collect()
}

/// Recall@10 over 30 queries at `accuracy: 0.95`, and the plans of the last.
async fn recall(
    engine: &Arc<dyn VectorStorage>,
    handler: &VectorSearchHandler,
    filter: &Filter,
) -> (f64, Vec<proxima_search::SegmentPlan>) {
    let (mut found, mut wanted, mut plans) = (0, 0, Vec::new());
    for q in 0..30 {
        let query = vector(1_000_000 + q);
        let mut request = SearchRequest::new(query.clone(), 10).with_filter(filter.clone());
        request.accuracy = Some(0.95);
        let view = engine.read_view("c").await.unwrap();
        let response = handler.execute_search(&SearchContext::new(view, request)).unwrap();
        for hit in &response.hits {
            let i: u64 = hit.id[1..].parse().unwrap();
            assert!(filter.matches(&record(i).metadata), "{} fails {filter:?}", hit.id);
        }
        let got: BTreeSet<String> = response.hits.into_iter().map(|h| h.id).collect();
        let truth = exact_top(&query, 10, filter);
        found += truth.iter().filter(|id| got.contains(*id)).count();
        wanted += truth.len();
        plans = response.performance.plans;
    }
    (found as f64 / wanted.max(1) as f64, plans)
}

#[tokio::test]
async fn every_selectivity_keeps_the_accuracy_promise_and_selective_filters_are_exact() {
    let engine = collection(indexer()).await;
    let handler = VectorSearchHandler::default();
    // 0.01%, 0.1%, 1%, 10%, 50%, 99% of rows.
    let cases = [
        (Filter::eq("u", 4_242), 1),
        (Filter::lt("u", 6), 12),
        (Filter::And(vec![Filter::Gte(fv("u", 5_000)), Filter::lt("u", 5_120)]), 120),
        (Filter::is_in("u", (0..1_000).map(|v| json!(v * 10)).collect()), 1_200),
        (Filter::Or(vec![Filter::lt("u", 2_500), Filter::Gte(fv("u", 7_500))]), 7_000),
        (Filter::Not(Box::new(Filter::lt("u", 120))), 11_760),
    ];
    for (filter, matching) in cases {
        let (recall, plans) = recall(&engine, &handler, &filter).await;
        assert!(recall >= 0.95, "{filter:?}: recall {recall}");
        let counted: u64 = plans.iter().filter_map(|p| p.matching_rows).sum();
        assert_eq!(counted, matching, "{filter:?}: exact count {plans:?}");
        assert!(plans.iter().all(|p| p.filter == FilterSource::PayloadIndex), "{plans:?}");
        let selective = matching <= 120;
        if selective {
            assert_eq!(recall, 1.0, "{filter:?}: ranked exactly");
            assert!(plans.iter().all(|p| p.method == Method::FilteredFlat), "{filter:?}: {plans:?}");
            let computations: u64 = plans.iter().map(|p| p.estimated_computations).sum();
            assert_eq!(computations, matching, "only the matching rows are scored");
        }
        if matching >= 7_000 {
            assert!(plans.iter().all(|p| matches!(p.method, Method::Hnsw { .. })), "{filter:?}: {plans:?}");
        }
    }
    assert!(handler.payload_index_bytes() > 0);

    // Undeclared fields are evaluated; with a declared part, only on its rows.
    let (recall_undeclared, plans) = recall(&engine, &handler, &Filter::eq("note", 3)).await;
    assert!(recall_undeclared >= 0.95, "{recall_undeclared}");
    assert!(plans.iter().all(|p| p.filter == FilterSource::Evaluation && p.matching_rows.is_none()));
    let mixed = Filter::And(vec![Filter::lt("u", 50), Filter::eq("note", 3)]);
    let (recall_mixed, plans) = recall(&engine, &handler, &mixed).await;
    assert_eq!(recall_mixed, 1.0);
    assert!(plans.iter().all(|p| p.filter == FilterSource::PayloadIndexThenEvaluation), "{plans:?}");
}

fn fv(field: &str, value: u64) -> proxima_core::filter::FieldValue {
    proxima_core::filter::FieldValue { field: field.into(), value: json!(value) }
}

#[tokio::test]
async fn deletes_and_overwrites_are_seen_through_the_index() {
    let engine = collection(indexer()).await;
    let handler = VectorSearchHandler::default();
    let filter = Filter::lt("u", 10);
    // Delete most matches; move two other rows into the filter (in the unsealed tail).
    let deleted: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let mut batch = deleted.iter().cloned().fold(WriteBatch::new(), WriteBatch::delete);
    for i in [500, 501] {
        batch = batch.upsert(VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"u": 3})));
    }
    engine.write("c", batch).await.unwrap();
    let view = engine.read_view("c").await.unwrap();
    let response = handler
        .execute_search(&SearchContext::new(view, SearchRequest::new(vector(9), 50).with_filter(filter)))
        .unwrap();
    let mut got: Vec<String> = response.hits.iter().map(|h| h.id.clone()).collect();
    got.sort();
    let mut want: Vec<String> = (0..ROWS).filter(|i| i % 10_000 < 10).map(|i| format!("r{i}")).collect();
    want.extend(["r500".to_string(), "r501".to_string()]);
    want.retain(|id| !deleted.contains(id));
    want.sort();
    assert_eq!(got, want);
}

/// The segment indexer, with one byte of every payload index flipped.
#[derive(Debug)]
struct Damaging(SegmentIndexer);

impl IndexBuilder for Damaging {
    fn build(&self, config: &CollectionConfig, segment: &dyn Segment) -> proxima_core::Result<Option<Vec<u8>>> {
        let Some(bytes) = self.0.build(config, segment)? else { return Ok(None) };
        let parts = IndexParts::of(&bytes)?;
        let mut payload = parts.payload.expect("declared fields are indexed").to_vec();
        let at = payload.len() / 2;
        payload[at] ^= 0x10;
        Ok(Some(IndexParts::bundle(parts.vector, &payload)))
    }
}

#[tokio::test]
async fn a_damaged_payload_index_is_rebuilt_never_trusted() {
    let engine = collection(Arc::new(Damaging(SegmentIndexer { min_rows: 100, threads: 2 }))).await;
    let handler = VectorSearchHandler::default();
    for filter in [Filter::lt("u", 10), Filter::lt("u", 3_000)] {
        let (recall, plans) = recall(&engine, &handler, &filter).await;
        assert!(recall >= 0.95, "{filter:?}: {recall}");
        assert!(plans.iter().all(|p| p.filter == FilterSource::PayloadIndex), "{plans:?}");
    }
}

#[test]
fn a_grown_segment_answers_from_its_earlier_index_and_evaluates_what_changed() {
    let (indexed, appended) = (3_000usize, 200usize);
    let config =
        CollectionConfig::new("g", DIM as u32).with_metric(DistanceMetric::Euclidean).with_field("u", FieldType::Int);
    let metadata = |u: usize| json!({"u": u % 100}).as_object().unwrap().clone();
    let sealed: Vec<_> = (0..indexed).map(metadata).collect();
    let payload = proxima_payload::PayloadIndex::build(&config.fields, sealed.iter()).to_bytes();
    // Every 50th indexed row now holds another value; rows past the index are new.
    let mut now: Vec<_> = (0..indexed + appended).map(metadata).collect();
    let mut changed = proxima_engine::Bitmap::all_unset(indexed);
    for row in (0..indexed).step_by(50) {
        now[row] = metadata(row + 7);
        changed.set(row, true);
    }
    // An unsealed segment grown in place from a sealed one, as the mmap engine's is between flushes.
    let grown = |earlier: Vec<u8>| {
        let mut rows = proxima_engine::state::Chunk::new(2, DIM);
        for (r, metadata) in now.iter().enumerate() {
            rows.push(format!("r{r}"), r as u64 + 1, &vector(r as u64), metadata.clone(), None);
        }
        let mut segment = RowsSegment::sealed(rows);
        segment.sealed = false;
        segment.earlier = Some((1, indexed, earlier, changed.clone()));
        segment
    };
    let mut damaged = IndexParts::bundle(None, &payload);
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x10;
    let cases = [(IndexParts::bundle(None, &payload), FilterSource::PayloadIndex), (damaged, FilterSource::Evaluation)];
    for (earlier, source) in cases {
        let view: Arc<dyn proxima_engine::ReadView> = Arc::new(proxima_engine::Snapshot {
            config: config.clone(),
            seq: now.len() as u64,
            segments: vec![Arc::new(grown(earlier)) as Arc<dyn Segment>],
            tombstones: Arc::from(Vec::new()),
        });
        let handler = VectorSearchHandler::default();
        for u in [7u64, 57] {
            let filter = Filter::eq("u", u);
            let query = vector(900_000 + u);
            let request = SearchRequest::new(query.clone(), 10).with_filter(filter.clone());
            let response = handler.execute_search(&SearchContext::new(view.clone(), request)).unwrap();
            let mut truth: Vec<(f32, String)> = (0..now.len())
                .filter(|&r| filter.matches(&now[r]))
                .map(|r| (DistanceMetric::Euclidean.score(&query, &vector(r as u64)), format!("r{r}")))
                .collect();
            truth.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let truth: Vec<String> = truth.into_iter().take(10).map(|(_, id)| id).collect();
            let got: Vec<String> = response.hits.iter().map(|h| h.id.clone()).collect();
            assert_eq!(got, truth, "u = {u}, {source:?}");
            let plan = &response.performance.plans[0];
            assert_eq!(plan.filter, source, "{plan:?}");
            if source == FilterSource::PayloadIndex {
                assert_eq!(plan.method, Method::FilteredFlat, "{plan:?}");
                assert_eq!(plan.matching_rows, Some(truth_count(&now, &filter)), "{plan:?}");
            }
        }
    }
}

fn truth_count(metadata: &[proxima_core::Metadata], filter: &Filter) -> u64 {
    metadata.iter().filter(|m| filter.matches(m)).count() as u64
}
