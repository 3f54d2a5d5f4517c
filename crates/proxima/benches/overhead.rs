//! The coordinator's overhead: the same upserts and searches on the same engine
//! instance, once through `Proxima` (catalogue routing, gates, analytics, a
//! blocking task for ranking) and once calling the engine and the search
//! handler directly.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proxima::core::{CollectionConfig, DistanceMetric, SearchRequest, VectorRecord};
use proxima::engine::{VectorStorage, WriteBatch};
use proxima::search::{SearchContext, VectorSearchHandler};
use proxima::{Proxima, ProximaConfig};

const DIM: usize = 50;
const IDS: u64 = 20_000;
const BATCH: u64 = 100;

fn vector(i: u64) -> Vec<f32> {
    (0..DIM as u64).map(|d| ((i * 31 + d * 7) % 97) as f32 / 97.0 - 0.5).collect()
}

/// Batch `n` of a rolling window over `IDS` ids: after warm-up every batch overwrites.
fn records(n: u64) -> Vec<VectorRecord> {
    (0..BATCH).map(|j| (n * BATCH + j) % IDS).map(|i| VectorRecord::new(format!("v{i}"), vector(i + n))).collect()
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ProximaConfig::at(dir.path());
    config.metadata_url = Some("memory://".into());
    config.engines = vec!["memory".into()];
    let db = rt.block_on(Proxima::open(config)).expect("open");
    let collection = CollectionConfig::new("bench", DIM as u32).with_metric(DistanceMetric::Euclidean);
    rt.block_on(db.create_collection(collection.clone())).expect("create");
    // The same engine instance, with a collection the coordinator does not know.
    let engine: Arc<dyn VectorStorage> = db.engines()["memory"].clone();
    let direct = CollectionConfig { name: "direct".into(), ..collection };
    rt.block_on(engine.create_collection(&direct)).expect("create direct");
    let handler = Arc::new(VectorSearchHandler::default());
    for n in 0..IDS / BATCH {
        rt.block_on(db.upsert("bench", records(n))).expect("fill");
        rt.block_on(engine.write("direct", WriteBatch::from(records(n)))).expect("fill direct");
    }
    rt.block_on(db.flush("bench")).expect("flush");
    rt.block_on(engine.flush("direct")).expect("flush direct");

    let mut group = c.benchmark_group("coordinator_overhead");
    group.throughput(Throughput::Elements(BATCH + 1));
    let mut n = 0;
    group.bench_function("direct", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                engine.write("direct", WriteBatch::from(records(n))).await.expect("write");
                let view = engine.read_view("direct").await.expect("view");
                let request = SearchRequest::new(vector(n), 10);
                handler.execute_search(&SearchContext::new(view, request)).expect("search")
            })
        })
    });
    let mut n = 0;
    group.bench_function("coordinator", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                db.upsert("bench", records(n)).await.expect("write");
                db.search("bench", SearchRequest::new(vector(n), 10)).await.expect("search")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
