//! Batched searches answer as single searches do: exact scans shared by
//! several requests run as matrix products, the rest one by one, over
//! several segments with deletes; a refused request refuses the batch.

use std::sync::Arc;

use proxima_core::testkit::seeded_vector;
use proxima_core::{CollectionConfig, DistanceMetric, ErrorKind, Filter, IndexConfig, SearchRequest, VectorRecord};
use proxima_engine::{MemoryEngine, VectorStorage, WriteBatch};
use proxima_search::{Method, SearchContext, SegmentIndexer, VectorSearchHandler};
use serde_json::json;

const DIM: usize = 12;

async fn collection(metric: DistanceMetric) -> Arc<dyn VectorStorage> {
    let indexer = Arc::new(SegmentIndexer { min_rows: 3_000, threads: 2 });
    let engine: Arc<dyn VectorStorage> = Arc::new(MemoryEngine::new().with_index_builder(indexer));
    let mut config = CollectionConfig::new("c", DIM as u32).with_metric(metric);
    config.index = IndexConfig::Hnsw { m: 16, ef_construction: 100 };
    engine.create_collection(&config).await.unwrap();
    // A large segment with a graph, a small one scanned exactly, and a write buffer.
    for (from, to) in [(0u64, 4_000u64), (4_000, 5_500), (5_500, 5_800)] {
        let batch = (from..to).fold(WriteBatch::new(), |b, i| {
            b.upsert(VectorRecord::new(format!("r{i}"), seeded_vector(i, DIM)).with_metadata(json!({"n": i % 10})))
        });
        engine.write("c", batch).await.unwrap();
        if to < 5_800 {
            engine.flush("c").await.unwrap();
        }
    }
    engine.write("c", (4_000..4_100).fold(WriteBatch::new(), |b, i| b.delete(format!("r{i}")))).await.unwrap();
    engine
}

fn requests() -> Vec<SearchRequest> {
    (0..40u64)
        .map(|i| {
            let mut r = SearchRequest::new(seeded_vector(100_000 + i, DIM), 1 + (i as usize % 15));
            match i % 4 {
                0 => r.accuracy = Some(1.0),
                1 => r = r.with_filter(Filter::eq("n", (i % 10) as i64)),
                2 => r.include_metadata = true,
                _ => {}
            }
            r
        })
        .collect()
}

#[tokio::test]
async fn a_batch_answers_as_single_searches() {
    for metric in [DistanceMetric::Cosine, DistanceMetric::Euclidean] {
        let engine = collection(metric).await;
        let view = engine.read_view("c").await.unwrap();
        let handler = VectorSearchHandler::default();
        let batch = handler.execute_batch(&view, requests(), 2).unwrap();
        assert_eq!(batch.len(), requests().len());
        let mut shared_scans = 0;
        for (i, (request, answer)) in requests().into_iter().zip(&batch).enumerate() {
            let single = handler.execute_search(&SearchContext::new(view.clone(), request)).unwrap();
            let ids = |hits: &[proxima_core::SearchHit]| hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&answer.hits), ids(&single.hits), "{metric:?} search {i}");
            for (a, b) in answer.hits.iter().zip(&single.hits) {
                assert!(
                    (a.score - b.score).abs() <= 1e-4 * b.score.abs().max(1.0),
                    "{metric:?} search {i}: {a:?} {b:?}"
                );
                assert_eq!(a.metadata, b.metadata);
            }
            assert_eq!(answer.performance.plans, single.performance.plans, "{metric:?} search {i}");
            shared_scans += answer.performance.plans.iter().filter(|p| p.method == Method::Flat).count();
        }
        assert!(shared_scans >= 20, "the batch had exact scans to share: {shared_scans}");
    }
}

#[tokio::test]
async fn a_refused_search_refuses_the_batch_and_names_it() {
    let engine = collection(DistanceMetric::Cosine).await;
    let view = engine.read_view("c").await.unwrap();
    let mut bad = requests();
    bad[7].vector = vec![1.0; DIM + 1];
    let e = VectorSearchHandler::default().execute_batch(&view, bad, 2).unwrap_err();
    assert_eq!((e.kind(), e.context("search")), (ErrorKind::InvalidArgument, Some("7")), "{e}");
}
