//! The handler over real read views (the in-memory engine, with the index hook
//! building HNSW or IVF for each sealed chunk), checked against brute force.

use std::collections::BTreeSet;
use std::sync::Arc;

use proxima_core::testkit::expect_kind;
use proxima_core::{
    CollectionConfig, DistanceMetric, ErrorKind, FieldType, Filter, IndexConfig, SearchRequest, VectorRecord,
};
use proxima_engine::{MemoryEngine, VectorStorage, WriteBatch};
use proxima_search::{Method, SearchContext, SegmentIndexer, VectorSearchHandler};
use serde_json::json;

const DIM: usize = 16;

fn vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let cluster = (seed % 20) as f32;
    (0..DIM)
        .map(|j| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            ((cluster * 7.0 + j as f32).sin()) * 3.0 + noise
        })
        .collect()
}

fn record(i: u64) -> VectorRecord {
    VectorRecord::new(format!("r{i}"), vector(i)).with_metadata(json!({"group": i % 10, "tag": format!("t{}", i % 3)}))
}

/// An engine whose collection holds `n` rows in sealed, indexed segments of `chunk` rows.
async fn indexed(
    index: IndexConfig,
    metric: DistanceMetric,
    n: u64,
    chunk: u64,
) -> (Arc<dyn VectorStorage>, CollectionConfig) {
    let indexer = SegmentIndexer { min_rows: 100, threads: 2 };
    let engine: Arc<dyn VectorStorage> = Arc::new(MemoryEngine::new().with_index_builder(Arc::new(indexer)));
    let mut config = CollectionConfig::new("c", DIM as u32).with_metric(metric).with_field("group", FieldType::Int);
    config.index = index;
    engine.create_collection(&config).await.unwrap();
    for start in (0..n).step_by(chunk as usize) {
        let batch = (start..(start + chunk).min(n)).fold(WriteBatch::new(), |b, i| b.upsert(record(i)));
        engine.write("c", batch).await.unwrap();
        engine.flush("c").await.unwrap();
    }
    (engine, config)
}

/// Exact top-k ids over the model of what is visible, honouring `filter`.
fn brute_force(
    visible: &[(String, Vec<f32>, serde_json::Value)],
    metric: DistanceMetric,
    q: &[f32],
    k: usize,
    filter: Option<&Filter>,
) -> Vec<String> {
    let mut query = q.to_vec();
    metric.prepare(&mut query).unwrap();
    let mut scored: Vec<(f32, &String)> = visible
        .iter()
        .filter(|(_, _, m)| filter.is_none_or(|f| f.matches(m.as_object().unwrap())))
        .map(|(id, v, _)| {
            let mut v = v.clone();
            metric.prepare(&mut v).unwrap();
            (metric.score(&query, &v), id)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(k).map(|(_, id)| id.clone()).collect()
}

fn all_records(n: u64) -> Vec<(String, Vec<f32>, serde_json::Value)> {
    (0..n).map(|i| (format!("r{i}"), vector(i), record(i).metadata.into())).collect()
}

async fn recall(
    engine: &Arc<dyn VectorStorage>,
    metric: DistanceMetric,
    n: u64,
    request: impl Fn(Vec<f32>) -> SearchRequest,
) -> f64 {
    let handler = VectorSearchHandler::default();
    let visible = all_records(n);
    let (mut hits, mut total) = (0, 0);
    for q in 0..40 {
        let query = vector(10_000 + q);
        let req = request(query.clone());
        let truth = brute_force(&visible, metric, &query, req.k, req.filter.as_ref());
        let view = engine.read_view("c").await.unwrap();
        let got = handler.execute_search(&SearchContext::new(view, req)).unwrap();
        let got: BTreeSet<String> = got.hits.into_iter().map(|h| h.id).collect();
        hits += truth.iter().filter(|id| got.contains(*id)).count();
        total += truth.len();
    }
    hits as f64 / total as f64
}

#[tokio::test]
async fn every_index_type_reaches_high_recall() {
    for (index, metric) in [
        (IndexConfig::Hnsw { m: 16, ef_construction: 100 }, DistanceMetric::Cosine),
        (IndexConfig::Hnsw { m: 16, ef_construction: 100 }, DistanceMetric::Euclidean),
        (IndexConfig::Ivf { nlist: 32 }, DistanceMetric::Euclidean),
        (IndexConfig::Flat, DistanceMetric::Dot),
    ] {
        let (engine, _) = indexed(index, metric, 6_000, 3_000).await;
        let r = recall(&engine, metric, 6_000, |v| {
            let mut req = SearchRequest::new(v, 10);
            req.accuracy = Some(0.99);
            req
        })
        .await;
        assert!(r >= 0.95, "{index:?} {metric:?}: recall {r}");
        let exact = matches!(index, IndexConfig::Flat);
        if exact {
            assert_eq!(r, 1.0, "flat is exact");
        }
    }
}

#[tokio::test]
async fn the_planner_uses_the_index_and_scans_the_tail() {
    let (engine, _) =
        indexed(IndexConfig::Hnsw { m: 8, ef_construction: 64 }, DistanceMetric::Cosine, 5_000, 2_500).await;
    engine.write("c", WriteBatch::new().upsert(record(5_000))).await.unwrap();
    let view = engine.read_view("c").await.unwrap();
    let response = VectorSearchHandler::default()
        .execute_search(&SearchContext::new(view, SearchRequest::new(vector(1), 5)))
        .unwrap();
    let methods: Vec<Method> = response.performance.plans.iter().map(|p| p.method).collect();
    assert!(matches!(methods[..], [Method::Hnsw { .. }, Method::Hnsw { .. }, Method::Flat]), "{methods:?}");
    assert!(response.performance.distance_computations < 5_000, "the graph is cheaper than a scan");
    assert_eq!(response.hits[0].id, "r1");
    // A time budget skips the segments it does not reach and says so; whatever
    // was searched is searched fully, and an ample budget changes nothing.
    let full = VectorSearchHandler::default()
        .execute_search(&SearchContext::new(engine.read_view("c").await.unwrap(), SearchRequest::new(vector(1), 5)))
        .unwrap();
    for timeout_ms in [1, 60_000] {
        let budgeted = SearchRequest { timeout_ms: Some(timeout_ms), ..SearchRequest::new(vector(1), 5) };
        let view = engine.read_view("c").await.unwrap();
        let answer = VectorSearchHandler::default().execute_search(&SearchContext::new(view, budgeted)).unwrap();
        let p = &answer.performance;
        assert_eq!(p.partial, p.segments_skipped > 0);
        assert_eq!(p.segments_searched + p.segments_skipped, full.performance.segments_searched);
        if !p.partial {
            assert_eq!(answer.hits, full.hits, "timeout {timeout_ms}");
        }
    }
    // A recall target of 1 is a request for the exact answer: no segment is walked.
    let mut exact = SearchRequest::new(vector(1), 5);
    exact.accuracy = Some(1.0);
    let view = engine.read_view("c").await.unwrap();
    let response = VectorSearchHandler::default().execute_search(&SearchContext::new(view, exact)).unwrap();
    assert!(response.performance.plans.iter().all(|p| p.method == Method::Flat), "{:?}", response.performance.plans);
    assert_eq!(response.hits[0].id, "r1");
}

#[tokio::test]
async fn filtered_searches_return_only_matches_and_k_when_k_exist() {
    let (engine, _) =
        indexed(IndexConfig::Hnsw { m: 16, ef_construction: 100 }, DistanceMetric::Cosine, 6_000, 6_000).await;
    let handler = VectorSearchHandler::default();
    // 10%, ~3% and 33% of rows match.
    let cases = [
        (Filter::eq("group", 3), 10, 10),
        (
            Filter::And(vec![Filter::eq("group", 3), Filter::lt("group", 4), Filter::is_in("tag", vec![json!("t0")])]),
            10,
            10,
        ),
        (Filter::is_in("tag", vec![json!("t1")]), 25, 25),
    ];
    for (filter, k, expected) in cases {
        let view = engine.read_view("c").await.unwrap();
        let req = SearchRequest::new(vector(77), k).with_filter(filter.clone());
        let response = handler.execute_search(&SearchContext::new(view, req)).unwrap();
        assert_eq!(response.hits.len(), expected, "{filter:?}");
        for hit in &response.hits {
            let i: u64 = hit.id[1..].parse().unwrap();
            assert!(filter.matches(&record(i).metadata), "{} fails {filter:?}", hit.id);
        }
    }
    // A filter only one row matches: it comes back, found by an exact scan of the matches.
    let few = Filter::Or(vec![Filter::eq("id_is", "x"), Filter::is_in("group", vec![json!(99)])]);
    engine
        .write("c", WriteBatch::new().update_metadata("r5", json!({"group": 99}).as_object().unwrap().clone()))
        .await
        .unwrap();
    let view = engine.read_view("c").await.unwrap();
    let response =
        handler.execute_search(&SearchContext::new(view, SearchRequest::new(vector(1), 10).with_filter(few))).unwrap();
    assert_eq!(response.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), vec!["r5"]);
    let recall = recall(&engine, DistanceMetric::Cosine, 6_000, |v| {
        let mut req = SearchRequest::new(v, 10).with_filter(Filter::eq("group", 7));
        req.accuracy = Some(0.99);
        req
    })
    .await;
    assert!(recall >= 0.95, "filtered recall {recall}");
}

#[tokio::test]
async fn merge_keeps_the_newest_version_and_drops_deleted_and_expired_records() {
    let (engine, _) =
        indexed(IndexConfig::Hnsw { m: 8, ef_construction: 64 }, DistanceMetric::Euclidean, 3_000, 3_000).await;
    // r1 moves far away (newer version in the unsealed tail); r2 is deleted; r3 expires.
    let far = vec![1_000.0; DIM];
    let mut expired = record(3);
    expired.expires_at = Some(1);
    let batch = WriteBatch::new().upsert(VectorRecord::new("r1", far.clone())).delete("r2").upsert(expired);
    engine.write("c", batch).await.unwrap();
    let handler = VectorSearchHandler::default();
    for q in [1u64, 2, 3] {
        let view = engine.read_view("c").await.unwrap();
        let response = handler.execute_search(&SearchContext::new(view, SearchRequest::new(vector(q), 3))).unwrap();
        let ids: Vec<&str> = response.hits.iter().map(|h| h.id.as_str()).collect();
        assert!(!ids.contains(&"r2") && !ids.contains(&"r3") && !ids.contains(&"r1"), "query {q}: {ids:?}");
    }
    let view = engine.read_view("c").await.unwrap();
    let mut req = SearchRequest::new(far, 1);
    req.include_vector = true;
    req.include_metadata = true;
    let response = handler.execute_search(&SearchContext::new(view, req)).unwrap();
    assert_eq!(response.hits[0].id, "r1");
    assert_eq!(response.hits[0].vector.as_deref(), Some(&[1_000.0; DIM][..]));
    assert!(response.hits[0].seq > 3_000, "the newest version");
}

#[tokio::test]
async fn bad_requests_are_invalid_argument() {
    let (engine, config) = indexed(IndexConfig::Flat, DistanceMetric::Cosine, 200, 200).await;
    let handler = VectorSearchHandler::default();
    let mut nan = vector(1);
    nan[3] = f32::NAN;
    let mut ef_zero = SearchRequest::new(vector(1), 1);
    ef_zero.ef = Some(0);
    let mut accuracy = SearchRequest::new(vector(1), 1);
    accuracy.accuracy = Some(0.0);
    let bad = [
        SearchRequest::new(vec![1.0; DIM + 1], 1),
        SearchRequest::new(nan, 1),
        SearchRequest::new(vec![f32::INFINITY; DIM], 1),
        SearchRequest::new(vector(1), 0),
        SearchRequest::new(vector(1), 10_001),
        SearchRequest::new(vec![0.0; DIM], 1),
        SearchRequest::new(vector(1), 1).with_filter(Filter::eq("group", "three")),
        ef_zero,
        accuracy,
    ];
    for req in bad {
        let view = engine.read_view(&config.name).await.unwrap();
        let ctx = SearchContext::new(view, req.clone());
        expect_kind(handler.execute_search(&ctx), ErrorKind::InvalidArgument, &format!("{req:?}")).unwrap();
        if !req.vector.iter().all(|x| *x == 0.0) {
            assert!(!handler.estimate_query(&ctx).valid, "{req:?}");
        }
    }
}

#[tokio::test]
async fn estimates_reflect_the_plan_without_searching() {
    let (engine, _) =
        indexed(IndexConfig::Hnsw { m: 16, ef_construction: 64 }, DistanceMetric::Cosine, 6_000, 6_000).await;
    let handler = VectorSearchHandler::default();
    let view = engine.read_view("c").await.unwrap();
    let plain = handler.estimate_query(&SearchContext::new(view.clone(), SearchRequest::new(vector(1), 10)));
    assert!(plain.valid && plain.errors.is_empty());
    assert!(plain.cost > 0.0 && plain.cost < 1.0, "{plain:?}");
    assert!(plain.estimated_distance_computations < 6_000);
    assert!(!plain.will_over_fetch);
    assert_eq!(handler.cache().bytes(), 0, "estimating loads no index");
    let rare = SearchRequest::new(vector(1), 2_000).with_filter(Filter::eq("group", 10_000));
    let estimate = handler.estimate_query(&SearchContext::new(view, rare));
    assert!(estimate.will_over_fetch);
    let advice = estimate.recommendations.join("\n");
    assert!(advice.contains("k > 1000") && advice.contains("flat scan will be used"), "{advice}");
}
