//! The three engines side by side on the same data (`cargo xtask bench engines`):
//! durable ingest, an update-heavy mix, point gets, full scans of a read view,
//! and restart (open → first answer) with 390,000 × 50-d vectors.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use proxima::core::{CollectionConfig, DistanceMetric, FsyncPolicy, VectorRecord};
use proxima::engine::{VectorStorage, WriteBatch};
use proxima::engine_lsm::{LsmConfig, LsmEngine};
use proxima::engine_mmap::{MmapConfig, MmapEngine};
use proxima::engine_viper::{ViperConfig, ViperEngine};

const DIM: usize = 50;
const BIG: u64 = 390_000;
const BATCH: u64 = 1_000;
const ENGINES: [&str; 3] = ["viper", "lsm", "mmap"];

fn vector(i: u64) -> Vec<f32> {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 20_000) as f32 / 10_000.0 - 1.0
        })
        .collect()
}

fn records(range: std::ops::Range<u64>, salt: u64) -> Vec<VectorRecord> {
    range.map(|i| VectorRecord::new(format!("v{i}"), vector(i ^ salt))).collect()
}

async fn open(engine: &str, dir: &Path) -> Arc<dyn VectorStorage> {
    match engine {
        "viper" => Arc::new(ViperEngine::open(ViperConfig::local(dir), None).await.expect("viper")),
        "lsm" => Arc::new(LsmEngine::open(LsmConfig::new(dir), None).await.expect("lsm")),
        _ => Arc::new(MmapEngine::open(MmapConfig::new(dir), None).await.expect("mmap")),
    }
}

fn collection(name: &str, fsync: FsyncPolicy) -> CollectionConfig {
    CollectionConfig::new(name, DIM as u32).with_metric(DistanceMetric::Euclidean).with_fsync(fsync)
}

fn engines(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let root = tempfile::tempdir().expect("tempdir");

    let mut ingest = c.benchmark_group("ingest_durable");
    ingest.throughput(Throughput::Elements(BATCH));
    for name in ENGINES {
        let engine = rt.block_on(open(name, &root.path().join(name)));
        rt.block_on(engine.create_collection(&collection("ingest", FsyncPolicy::Always))).expect("create");
        let mut next = 0;
        ingest.bench_function(name, |b| {
            b.iter(|| {
                let batch = WriteBatch::from(records(next..next + BATCH, 0));
                next += BATCH;
                rt.block_on(engine.write("ingest", batch)).expect("write")
            })
        });
    }
    ingest.finish();

    // Updates: each batch overwrites 500 records and updates the metadata of 500 others, over 20,000;
    // durable (fsync per batch) and in memory speed (no fsync), where the engines' own work shows.
    for (group, fsync) in [("update_heavy", FsyncPolicy::Always), ("update_heavy_no_fsync", FsyncPolicy::None)] {
        let mut updates = c.benchmark_group(group);
        updates.throughput(Throughput::Elements(BATCH));
        for name in ENGINES {
            let engine = rt.block_on(open(name, &root.path().join(name)));
            let collection_name = group.to_string();
            rt.block_on(engine.create_collection(&collection(&collection_name, fsync))).expect("create");
            for start in (0..20_000).step_by(BATCH as usize) {
                let batch = WriteBatch::from(records(start..start + BATCH, 0));
                rt.block_on(engine.write(&collection_name, batch)).expect("fill");
            }
            let mut round = 0u64;
            updates.bench_function(name, |b| {
                b.iter(|| {
                    round += 1;
                    let base = (round * 7_919) % 19_000;
                    let mut batch = WriteBatch::from(records(base..base + 500, round));
                    for i in (base + 500)..(base + 1_000) {
                        let metadata = serde_json::json!({"round": round}).as_object().cloned().unwrap_or_default();
                        batch = batch.update_metadata(format!("v{i}"), metadata);
                    }
                    rt.block_on(engine.write(&collection_name, batch)).expect("update")
                })
            });
        }
        updates.finish();
    }

    // The large collection: loaded once per engine without fsync, then made durable.
    let mut dirs = Vec::new();
    for name in ENGINES {
        let dir = root.path().join(format!("{name}-big"));
        let engine = rt.block_on(open(name, &dir));
        rt.block_on(engine.create_collection(&collection("big", FsyncPolicy::None))).expect("create");
        let started = Instant::now();
        for start in (0..BIG).step_by(10_000) {
            rt.block_on(engine.write("big", WriteBatch::from(records(start..start + 10_000, 0)))).expect("load");
        }
        rt.block_on(engine.flush("big")).expect("flush");
        eprintln!("{name}: loaded {BIG} x {DIM} in {:.1} s", started.elapsed().as_secs_f64());
        dirs.push((name, dir, engine));
    }

    let mut get = c.benchmark_group("point_get");
    for (name, _, engine) in &dirs {
        let mut i = 0u64;
        get.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 104_729) % BIG;
                rt.block_on(engine.get("big", &[format!("v{i}")])).expect("get")
            })
        });
    }
    get.finish();

    let mut scan = c.benchmark_group("full_scan");
    scan.throughput(Throughput::Bytes(BIG * DIM as u64 * 4));
    for (name, _, engine) in &dirs {
        scan.bench_function(*name, |b| {
            b.iter(|| {
                let view = rt.block_on(engine.read_view("big")).expect("view");
                let mut sum = 0.0f32;
                for segment in view.segments() {
                    for (value, live) in segment.vectors().chunks_exact(DIM).zip(0..) {
                        if segment.live().get(live) {
                            sum += value[0];
                        }
                    }
                }
                sum
            })
        });
    }
    scan.finish();

    let mut restart = c.benchmark_group("restart");
    restart.sample_size(10).measurement_time(Duration::from_secs(20));
    let engines: Vec<(&str, std::path::PathBuf)> = dirs.into_iter().map(|(n, d, _)| (n, d)).collect();
    for (name, dir) in &engines {
        restart.bench_with_input(BenchmarkId::from_parameter(name), dir, |b, dir| {
            b.iter(|| {
                rt.block_on(async {
                    let engine = open(name, dir).await;
                    engine.get("big", &["v12345".to_string()]).await.expect("first answer")
                })
            })
        });
    }
    restart.finish();
}

criterion_group!(benches, engines);
criterion_main!(benches);
