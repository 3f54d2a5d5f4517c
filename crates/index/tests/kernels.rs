//! Every SIMD kernel this CPU runs agrees with the portable one.

use proptest::prelude::*;
use proxima_index::Kernels;

fn close(a: f32, b: f32) -> bool {
    within(a, b, a.abs().max(b.abs()))
}

/// Rounding error grows with the terms summed, not with the sum: a dot
/// product whose terms cancel to nearly zero is judged against `scale`,
/// the sum of the terms' magnitudes.
fn within(a: f32, b: f32, scale: f32) -> bool {
    (a - b).abs() <= 1e-3 * (1.0 + scale)
}

proptest! {
    #[test]
    fn kernels_agree_with_portable(
        pair in (0usize..300).prop_flat_map(|n| (
            prop::collection::vec(-100.0f32..100.0, n),
            prop::collection::vec(-100.0f32..100.0, n),
        ))
    ) {
        let (a, b) = pair;
        let portable = Kernels::portable();
        let exact_dot: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let exact_l2: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
        let dot_scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        let dot_scale = 0.1 * dot_scale as f32;
        prop_assert!(within(portable.dot(&a, &b), exact_dot as f32, dot_scale));
        prop_assert!(close(portable.l2sq(&a, &b), exact_l2 as f32));
        for k in Kernels::available() {
            prop_assert!(within(k.dot(&a, &b), portable.dot(&a, &b), dot_scale), "{:?} dot", k.isa);
            prop_assert!(close(k.l2sq(&a, &b), portable.l2sq(&a, &b)), "{:?} l2sq", k.isa);
        }
    }
}

proptest! {
    #[test]
    fn code_kernels_agree_with_portable(
        pair in (0usize..300).prop_flat_map(|n| (
            prop::collection::vec(-100.0f32..100.0, n),
            prop::collection::vec(any::<u8>(), n),
        ))
    ) {
        let (weights, codes) = pair;
        let exact: f64 = weights.iter().zip(&codes).map(|(w, c)| *w as f64 * *c as f64).sum();
        let scale: f64 = weights.iter().zip(&codes).map(|(w, c)| (*w as f64 * *c as f64).abs()).sum();
        let scale = 0.1 * scale as f32;
        let portable = Kernels::portable().dot_u8(&weights, &codes);
        prop_assert!(within(portable, exact as f32, scale));
        for k in Kernels::available() {
            prop_assert!(within(k.dot_u8(&weights, &codes), portable, scale), "{:?} dot_u8", k.isa);
        }
    }
}

#[test]
fn the_best_kernels_use_simd_where_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        assert_ne!(Kernels::best().isa, proxima_index::Isa::Portable);
    }
    assert!(!Kernels::available().is_empty());
}

#[test]
fn batch_distances_equal_row_distances() {
    use proxima_core::DistanceMetric;
    let dim = 13;
    let rows: Vec<f32> = (0..dim * 40).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
    let query: Vec<f32> = (0..dim).map(|i| i as f32 * 0.5 - 3.0).collect();
    for kernels in Kernels::available() {
        for metric in [DistanceMetric::Dot, DistanceMetric::Euclidean] {
            let d = proxima_index::Distance::with_kernels(metric, kernels);
            let mut out = vec![0.0; 40];
            d.distances(&query, &rows, dim, &mut out);
            for (i, row) in rows.chunks_exact(dim).enumerate() {
                assert!(close(out[i], d.distance(&query, row)), "{:?} {metric:?} row {i}", kernels.isa);
            }
        }
    }
}
