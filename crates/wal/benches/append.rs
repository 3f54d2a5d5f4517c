//! Durable appends per second: batches of 1,000 records of 50 floats, fsync
//! `always`, with 1, 4 and 16 concurrent writers. Group commit shows as the
//! throughput rising with the writer count while each writer still waits for
//! its own fsync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proxima_core::FsyncPolicy;
use proxima_wal::{Wal, WalOptions};

const BATCH: usize = 1_000;
const DIM: usize = 50;

type Record = (u64, Vec<f32>);

fn batch() -> Vec<Record> {
    (0..BATCH as u64).map(|i| (i, (0..DIM).map(|d| (i as f32) * 0.001 + d as f32).collect())).collect()
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("wal_append_fsync_always");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(BATCH as u64));
    for writers in [1usize, 4, 16] {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = WalOptions { segment_bytes: 256 << 20, fsync: FsyncPolicy::Always };
        let wal = Arc::new(Wal::<Record>::open(dir.path(), options).expect("open"));
        let records = Arc::new(batch());
        group.bench_function(format!("{writers}_writers_batch_{BATCH}x{DIM}f32"), |b| {
            // Each iteration is one acknowledged batch; `writers` threads share the iterations.
            b.iter_custom(|iters| {
                let per_writer = iters.div_ceil(writers as u64);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..writers {
                        let (wal, records) = (Arc::clone(&wal), Arc::clone(&records));
                        s.spawn(move || {
                            for _ in 0..per_writer {
                                wal.append(&records).expect("append");
                            }
                        });
                    }
                });
                // Report time per batch so Throughput gives records/s over all writers.
                start.elapsed().mul_f64(iters as f64 / (per_writer * writers as u64) as f64)
            });
        });
        let stats = wal.stats();
        eprintln!(
            "{writers} writers: {} batches, {} fsyncs, {:.2} batches per fsync",
            stats.frames,
            stats.syncs,
            stats.frames as f64 / stats.syncs.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(benches, appends);
criterion_main!(benches);
