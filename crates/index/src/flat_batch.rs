//! Exact search of many queries at once. A block of queries times a block of
//! rows is one matrix product (`matrixmultiply`'s packed, register-blocked
//! sgemm), so each row is read once per block of queries rather than once per
//! query, and the arithmetic runs at the speed of the multiply units instead
//! of memory.

use proxima_core::DistanceMetric;

use crate::{Kernels, Neighbor, TopK};

/// Queries per product: 256 × 50-d vectors (50 KiB).
const QUERY_BLOCK: usize = 256;
/// Rows per product: 1,024 × 50-d (200 KiB), read from L2 by every query
/// block; the 256 × 1,024 products (1 MiB) are selected from as they come.
/// Measured on GloVe-50 against 64 × 2,048 and 256 × 512 (docs/perf-journal.md).
const ROW_BLOCK: usize = 1024;

/// Many exact searches over one matrix of rows.
#[derive(Debug, Clone, Copy)]
pub struct BatchQueries<'a> {
    /// The queries, each prepared as the metric stores vectors (unit length under cosine).
    pub queries: &'a [Vec<f32>],
    /// How many neighbours each query wants.
    pub k: &'a [usize],
}

/// For each query, the `k` rows of `vectors` (row after row, `dimension`
/// values each) closest to it among those `accept` lets through, closest
/// first: what [`crate::flat_search`] returns for each, but for rounding (a
/// product sums in another order), spread over `threads` threads.
pub fn flat_search_batch(
    metric: DistanceMetric,
    vectors: &[f32],
    dimension: usize,
    batch: BatchQueries<'_>,
    threads: usize,
    accept: impl Fn(u32) -> bool + Sync,
) -> Vec<Vec<Neighbor>> {
    let BatchQueries { queries, k } = batch;
    assert_eq!(queries.len(), k.len(), "flat_search_batch: one k per query");
    assert!(queries.iter().all(|q| q.len() == dimension), "flat_search_batch: queries of another dimension");
    let rows = vectors.len() / dimension.max(1);
    if queries.is_empty() || rows == 0 || dimension == 0 {
        return vec![Vec::new(); queries.len()];
    }
    // Under Euclidean distance |q - r|² = |q|² - 2 q·r + |r|²: the product
    // gives q·r, the norms are computed once.
    let kernels = Kernels::best();
    let squared = |v: &[f32]| kernels.dot(v, v);
    let row_norms: Vec<f32> = match metric {
        DistanceMetric::Euclidean => vectors.chunks_exact(dimension).map(squared).collect(),
        DistanceMetric::Cosine | DistanceMetric::Dot => Vec::new(),
    };
    let per_thread = queries.len().div_ceil(threads.max(1));
    let search = |first: usize| {
        let mine = first..(first + per_thread).min(queries.len());
        let packed: Vec<f32> = queries[mine.clone()].iter().flatten().copied().collect();
        let query_norms: Vec<f32> = queries[mine.clone()].iter().map(|q| squared(q)).collect();
        let mut tops: Vec<TopK> = k[mine.clone()].iter().map(|&k| TopK::new(k)).collect();
        let mut products = vec![0.0f32; QUERY_BLOCK * ROW_BLOCK];
        for row_start in (0..rows).step_by(ROW_BLOCK) {
            let row_count = ROW_BLOCK.min(rows - row_start);
            let block = &vectors[row_start * dimension..(row_start + row_count) * dimension];
            for query_start in (0..tops.len()).step_by(QUERY_BLOCK) {
                let query_count = QUERY_BLOCK.min(tops.len() - query_start);
                let block_queries = &packed[query_start * dimension..(query_start + query_count) * dimension];
                let out = &mut products[..query_count * row_count];
                multiply(block_queries, block, dimension, out);
                for (q, distances) in out.chunks_exact_mut(row_count).enumerate() {
                    match metric {
                        DistanceMetric::Euclidean => {
                            let (query_norm, norms) = (query_norms[query_start + q], &row_norms[row_start..]);
                            distances.iter_mut().zip(norms).for_each(|(d, n)| *d = query_norm + n - 2.0 * *d);
                        }
                        DistanceMetric::Cosine | DistanceMetric::Dot => distances.iter_mut().for_each(|d| *d = -*d),
                    }
                    select(&mut tops[query_start + q], distances, row_start, &accept);
                }
            }
        }
        tops.into_iter().map(TopK::into_sorted).collect::<Vec<_>>()
    };
    let starts: Vec<usize> = (0..queries.len()).step_by(per_thread).collect();
    if starts.len() == 1 {
        return search(0);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = starts.iter().map(|&first| scope.spawn(move || search(first))).collect();
        workers.into_iter().flat_map(|w| w.join().expect("a batch search thread panicked")).collect()
    })
}

/// Pushes the rows of `distances` (row `first` onwards) that beat `top`.
/// Once `top` is full almost every distance loses: a chunk is passed over
/// after one vectorised comparison of all its values with the threshold.
fn select(top: &mut TopK, distances: &[f32], first: usize, accept: &impl Fn(u32) -> bool) {
    const CHUNK: usize = 16;
    for (c, chunk) in distances.chunks(CHUNK).enumerate() {
        let limit = top.threshold();
        if !chunk.iter().fold(false, |any, &d| any | (d < limit)) {
            continue;
        }
        for (i, &distance) in chunk.iter().enumerate() {
            let row = (first + c * CHUNK + i) as u32;
            if distance < top.threshold() && accept(row) {
                top.push(Neighbor { row, distance });
            }
        }
    }
}

/// `out[q][r] = queries[q] · rows[r]`, every matrix row-major with `dimension` columns.
fn multiply(queries: &[f32], rows: &[f32], dimension: usize, out: &mut [f32]) {
    let (m, n) = (queries.len() / dimension, rows.len() / dimension);
    assert!(out.len() == m * n, "multiply: the output does not fit the shapes");
    let d = dimension as isize;
    // SAFETY: A is m × d (row stride d), B is the transpose of `rows` (d × n:
    // row stride 1, column stride d), C is m × n (row stride n); the three
    // slices hold exactly those elements, as the assertion above checks.
    unsafe {
        matrixmultiply::sgemm(
            m,
            dimension,
            n,
            1.0,
            queries.as_ptr(),
            d,
            1,
            rows.as_ptr(),
            1,
            d,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Distance, flat_search};

    fn matrix(rows: usize, dimension: usize, seed: u64) -> Vec<f32> {
        (0..rows * dimension).map(|i| ((i as u64 * 2_654_435_761 + seed) % 1_000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn agrees_with_one_scan_per_query_for_every_metric_and_thread_count() {
        let (dimension, rows) = (13, ROW_BLOCK + 77);
        let vectors = matrix(rows, dimension, 1);
        let queries: Vec<Vec<f32>> =
            matrix(QUERY_BLOCK + 9, dimension, 7).chunks(dimension).map(<[f32]>::to_vec).collect();
        let k: Vec<usize> = (0..queries.len()).map(|i| 1 + i % 12).collect();
        let accept = |row: u32| row % 5 != 3;
        for metric in [DistanceMetric::Dot, DistanceMetric::Euclidean] {
            let distance = Distance::new(metric);
            for threads in [1, 2, 3] {
                let batch = BatchQueries { queries: &queries, k: &k };
                let got = flat_search_batch(metric, &vectors, dimension, batch, threads, accept);
                assert_eq!(got.len(), queries.len());
                for (q, found) in got.iter().enumerate() {
                    let want = flat_search(&distance, &vectors, dimension, &queries[q], k[q], accept);
                    assert_eq!(found.len(), want.len(), "{metric:?} query {q}");
                    // The same distances in the same order (rows may swap only where distances tie).
                    for (a, b) in found.iter().zip(&want) {
                        let close = (a.distance - b.distance).abs() <= 1e-4 * b.distance.abs().max(1.0);
                        assert!(close, "{metric:?} query {q}: {a:?} against {b:?}");
                        assert!(accept(a.row));
                    }
                }
            }
        }
    }

    #[test]
    fn empty_inputs_answer_empty_lists() {
        let batch = BatchQueries { queries: &[vec![1.0, 2.0]], k: &[3] };
        assert_eq!(flat_search_batch(DistanceMetric::Dot, &[], 2, batch, 2, |_| true), vec![Vec::new()]);
        let none = BatchQueries { queries: &[], k: &[] };
        assert!(flat_search_batch(DistanceMetric::Dot, &[1.0, 2.0], 2, none, 2, |_| true).is_empty());
    }
}
