//! Our kernels against simsimd at the dimensions users index most.
//!
//! `cargo bench -p proxima-index --bench kernels`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use proxima_index::Kernels;
use simsimd::SpatialSimilarity;

fn vectors(dimension: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..dimension).map(|i| ((i * 37) % 101) as f32 / 101.0 - 0.5).collect();
    let b = (0..dimension).map(|i| ((i * 53) % 97) as f32 / 97.0 - 0.5).collect();
    (a, b)
}

fn kernels(c: &mut Criterion) {
    for dimension in [50, 128, 768] {
        let (a, b) = vectors(dimension);
        let mut group = c.benchmark_group(format!("dot/{dimension}"));
        for k in Kernels::available() {
            group.bench_function(format!("{:?}", k.isa), |bench| bench.iter(|| k.dot(black_box(&a), black_box(&b))));
        }
        group.bench_function("simsimd", |bench| bench.iter(|| f32::dot(black_box(&a), black_box(&b))));
        group.finish();
        let mut group = c.benchmark_group(format!("l2sq/{dimension}"));
        for k in Kernels::available() {
            group.bench_function(format!("{:?}", k.isa), |bench| bench.iter(|| k.l2sq(black_box(&a), black_box(&b))));
        }
        group.bench_function("simsimd", |bench| bench.iter(|| f32::sqeuclidean(black_box(&a), black_box(&b))));
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
