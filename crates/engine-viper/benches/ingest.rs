//! VIPER throughput: durable ingest (batches of 1,000, fsync `always`) at 50 and
//! 768 dimensions, flush (Parquet encode + fsync + manifest) in MB/s of vector
//! data, and a full scan of a read view in GB/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proxima_core::{CollectionConfig, DistanceMetric};
use proxima_engine::{VectorStorage, WriteBatch};

mod common;
use common::batch;
use proxima_engine_viper::{VectorCompression, ViperConfig, ViperEngine};

// The allocator the `proximadb` binary runs on, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: proxima_alloc::Allocator = proxima_alloc::Allocator;

const BATCH: usize = 1_000;

fn engine(rt: &tokio::runtime::Runtime, dir: &std::path::Path, dim: u32) -> Arc<ViperEngine> {
    let engine = opened(rt, ViperConfig::local(dir));
    let c = CollectionConfig::new("bench", dim).with_metric(DistanceMetric::Euclidean);
    rt.block_on(engine.create_collection(&c)).expect("create");
    engine
}

fn opened(rt: &tokio::runtime::Runtime, config: ViperConfig) -> Arc<ViperEngine> {
    Arc::new(rt.block_on(ViperEngine::open(config, None)).expect("open"))
}

/// Times `iters` batches of `dim`-d vectors sent by `writers` concurrent
/// writers into a fresh collection, which is dropped afterwards (untimed).
/// With `flushed`, the time runs until every row is in a Parquet file: the
/// flushes still running when the last write returns, and the flush of what
/// is left in the buffer, are in it.
///
/// Each sample starts empty, as an ingest into a new collection does: when
/// samples kept adding to one collection, later ones ran with tens of millions
/// of rows resident and the figures drifted with the sample count.
fn timed_ingest(
    rt: &tokio::runtime::Runtime,
    engine: &Arc<ViperEngine>,
    (dim, writers, flushed): (usize, usize, bool),
    iters: u64,
) -> Duration {
    let collection = CollectionConfig::new("bench", dim as u32).with_metric(DistanceMetric::Euclidean);
    rt.block_on(engine.create_collection(&collection)).expect("create");
    let per_writer = iters.div_ceil(writers as u64);
    let plans: Vec<Vec<WriteBatch>> = (0..writers as u64)
        .map(|w| (0..per_writer).map(|i| batch((w * per_writer + i) * BATCH as u64, BATCH as u64, dim)).collect())
        .collect();
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let engine = Arc::clone(engine);
                tokio::spawn(async move {
                    for b in plan {
                        engine.write("bench", b).await.expect("write");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("writer");
        }
        if flushed {
            engine.flush("bench").await.expect("flush");
        }
    });
    // Time per batch, as criterion expects for `iters` iterations.
    let elapsed = start.elapsed().mul_f64(iters as f64 / (per_writer * writers as u64) as f64);
    rt.block_on(engine.drop_collection("bench")).expect("drop");
    elapsed
}

fn viper(c: &mut Criterion) {
    // As the `proximadb` binary runs.
    proxima_alloc::tune().expect("allocator tuning");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("viper");
    group.sample_size(10).measurement_time(Duration::from_secs(8));

    // One writer, with flushes every 100,000 rows running in the background
    // (all of them in the figure), and without flushes: the write-ahead log and
    // the write buffer alone.
    for (dim, flush_rows, label) in [(50usize, 100_000, ""), (768, 100_000, ""), (50, usize::MAX, "_unflushed")] {
        let flushed = flush_rows != usize::MAX;
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = opened(&rt, ViperConfig { flush_rows, ..ViperConfig::local(dir.path()) });
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("durable_ingest_{dim}d{label}"), |b| {
            b.iter_custom(|iters| timed_ingest(&rt, &engine, (dim, 1, flushed), iters))
        });
    }

    // Concurrent writers (batches of 1,000 each): fsyncs are shared between
    // them. And files with uncompressed vectors (`vector_compression=none`).
    for (writers, vectors, label) in [
        (4usize, VectorCompression::Zstd, ""),
        (16, VectorCompression::Zstd, ""),
        (4, VectorCompression::None, "_uncompressed"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = opened(&rt, ViperConfig { vector_compression: vectors, ..ViperConfig::local(dir.path()) });
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("durable_ingest_50d_{writers}_writers{label}"), |b| {
            b.iter_custom(|iters| timed_ingest(&rt, &engine, (50, writers, true), iters))
        });
    }

    // Flush: 20,000 buffered 50-d vectors (4 MB of floats) to one Parquet file.
    let rows = 20_000u64;
    group.throughput(Throughput::Bytes(rows * 50 * 4));
    group.bench_function("flush_50d", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let engine = engine(&rt, dir.path(), 50);
                rt.block_on(async {
                    for i in 0..rows / BATCH as u64 {
                        engine.write("bench", batch(i * BATCH as u64, BATCH as u64, 50)).await.expect("write");
                    }
                });
                let start = Instant::now();
                rt.block_on(engine.flush("bench")).expect("flush");
                total += start.elapsed();
            }
            total
        })
    });

    // Full scan: every live row of a 200,000 × 50 read view.
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(&rt, dir.path(), 50);
    rt.block_on(async {
        for i in 0..200 {
            engine.write("bench", batch(i * BATCH as u64, BATCH as u64, 50)).await.expect("write");
        }
        engine.flush("bench").await.expect("flush");
    });
    let view = rt.block_on(engine.read_view("bench")).expect("view");
    let bytes: usize = view.segments().iter().map(|s| s.vectors().len() * 4).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("full_scan_200k_50d", |b| {
        b.iter(|| {
            let mut sum = 0.0f32;
            for s in view.segments() {
                for row in s.live().ones() {
                    sum += s.vector(row).iter().sum::<f32>();
                }
            }
            std::hint::black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, viper);
criterion_main!(benches);
