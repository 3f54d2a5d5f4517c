//! create / get / list / update operations per second on the SQLite backend.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use proxima_meta::testkit::{BENCH_OPS, run_op, seed};
use proxima_meta_sqlite::{SqliteBackend, SqliteConfig};

const SEEDED: u64 = 1000;

fn ops(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SqliteConfig { path: dir.path().join("bench.db"), ..SqliteConfig::default() };
    let backend = rt.block_on(SqliteBackend::open(config)).expect("open");
    rt.block_on(seed(&backend, SEEDED)).expect("seed");
    let mut group = c.benchmark_group("meta_sqlite");
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    for op in BENCH_OPS {
        group.bench_function(op, |b| {
            let mut i = 0;
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        i += 1;
                        run_op(&backend, op, i, SEEDED).await.expect("op");
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ops);
criterion_main!(benches);
