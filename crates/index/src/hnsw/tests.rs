use proxima_core::DistanceMetric;

use super::*;
use crate::flat_search;

/// Seeded clustered vectors: a realistic shape for graph tests (uniform noise is unusually hard).
pub(crate) fn clustered(n: usize, dimension: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centers: Vec<f32> = (0..32 * dimension).map(|_| next() * 4.0).collect();
    let mut out = Vec::with_capacity(n * dimension);
    for i in 0..n {
        let c = (i * 7919) % 32;
        for j in 0..dimension {
            out.push(centers[c * dimension + j] + next());
        }
    }
    out
}

/// Vectors in stored form (unit length under cosine).
pub(crate) fn prepared(metric: DistanceMetric, mut vectors: Vec<f32>, dim: usize) -> Vec<f32> {
    vectors.chunks_exact_mut(dim).for_each(|v| metric.prepare(v).unwrap());
    vectors
}

fn recall(graph: &Hnsw, vectors: &[f32], queries: &[f32], dim: usize, ef: usize) -> f64 {
    let distance = Distance::new(graph.metric());
    let mut hits = 0;
    let mut total = 0;
    for q in queries.chunks_exact(dim) {
        let truth: Vec<u32> = flat_search(&distance, vectors, dim, q, 10, |_| true).iter().map(|n| n.row).collect();
        let (found, _) = graph.search(vectors, q, 10, ef, &|_| true);
        hits += found.iter().filter(|n| truth.contains(&n.row)).count();
        total += truth.len();
    }
    hits as f64 / total as f64
}

#[test]
fn recall_is_high_single_and_multi_threaded() {
    let dim = 24;
    for threads in [1, 2] {
        for metric in [DistanceMetric::Euclidean, DistanceMetric::Cosine] {
            let vectors = prepared(metric, clustered(4_000, dim, 7), dim);
            let queries = prepared(metric, clustered(100, dim, 99), dim);
            let graph = Hnsw::build(HnswParams::new(12, 100), metric, dim, &vectors, threads).unwrap();
            let r = recall(&graph, &vectors, &queries, dim, 160);
            assert!(r >= 0.95, "recall {r} with {threads} threads, {metric:?}");
        }
    }
}

#[test]
fn rejected_nodes_are_never_returned_and_k_come_back_when_they_exist() {
    let dim = 16;
    let vectors = clustered(3_000, dim, 3);
    let graph = Hnsw::build(HnswParams::new(16, 100), DistanceMetric::Euclidean, dim, &vectors, 2).unwrap();
    let accept = |row: u32| row % 10 == 3;
    let distance = Distance::new(DistanceMetric::Euclidean);
    let (mut hits, mut total) = (0, 0);
    for q in clustered(20, dim, 5).chunks_exact(dim) {
        let truth: Vec<u32> = flat_search(&distance, &vectors, dim, q, 10, accept).iter().map(|n| n.row).collect();
        for found in
            [graph.search(&vectors, q, 10, 80, &accept).0, graph.search_selective(&vectors, q, 10, 160, &accept).0]
        {
            assert_eq!(found.len(), 10);
            assert!(found.iter().all(|n| accept(n.row)));
            hits += found.iter().filter(|n| truth.contains(&n.row)).count();
            total += 10;
        }
    }
    assert!(hits as f64 / total as f64 >= 0.9, "filtered recall {hits}/{total}");
    // A filter only 3 rows pass: the selective walk keeps going until it has them all.
    let rare = |row: u32| row % 1_000 == 7;
    let (found, _) = graph.search_selective(&vectors, &vectors[..dim], 3, 16, &rare);
    assert_eq!(found.iter().map(|n| n.row).collect::<std::collections::BTreeSet<_>>(), [7, 1_007, 2_007].into());
}

#[test]
fn serialised_graph_loads_and_answers_identically() {
    let dim = 8;
    let vectors = clustered(2_500, dim, 11);
    let graph = Hnsw::build(HnswParams::new(8, 64), DistanceMetric::Cosine, dim, &vectors, 1).unwrap();
    let loaded = Hnsw::from_bytes(&graph.to_bytes()).unwrap();
    assert_eq!(loaded.to_bytes(), graph.to_bytes());
    for q in clustered(20, dim, 1).chunks_exact(dim) {
        assert_eq!(graph.search(&vectors, q, 5, 32, &|_| true).0, loaded.search(&vectors, q, 5, 32, &|_| true).0);
    }
}

#[test]
fn damaged_bytes_are_corrupted_not_a_panic() {
    let dim = 4;
    let vectors = clustered(300, dim, 2);
    let bytes = Hnsw::build(HnswParams::new(4, 16), DistanceMetric::Euclidean, dim, &vectors, 1).unwrap().to_bytes();
    for cut in [0, 7, 12, bytes.len() / 2, bytes.len() - 1] {
        let err = Hnsw::from_bytes(&bytes[..cut]).unwrap_err();
        assert_eq!(err.kind(), proxima_core::ErrorKind::Corrupted);
    }
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    assert_eq!(Hnsw::from_bytes(&flipped).unwrap_err().kind(), proxima_core::ErrorKind::Corrupted);
}

#[test]
fn incremental_insert_reaches_new_rows() {
    let dim = 16;
    let vectors = clustered(3_000, dim, 21);
    let mut graph =
        Hnsw::build(HnswParams::new(12, 80), DistanceMetric::Euclidean, dim, &vectors[..2_000 * dim], 2).unwrap();
    graph.insert_new_rows(&vectors, 2).unwrap();
    assert_eq!(graph.len(), 3_000);
    // Every new row finds itself.
    for row in (2_000..3_000u32).step_by(37) {
        let q = &vectors[row as usize * dim..(row as usize + 1) * dim];
        let (found, _) = graph.search(&vectors, q, 1, 32, &|_| true);
        assert_eq!(found[0].row, row);
    }
    assert!(recall(&graph, &vectors, &clustered(50, dim, 77), dim, 64) >= 0.95);
}

#[test]
fn bad_parameters_are_invalid_argument() {
    for params in [HnswParams::new(1, 10), HnswParams::new(65, 10), HnswParams::new(16, 0)] {
        let err = Hnsw::build(params, DistanceMetric::Dot, 4, &[0.0; 16], 1).unwrap_err();
        assert_eq!(err.kind(), proxima_core::ErrorKind::InvalidArgument);
    }
}

#[test]
fn the_walk_on_codes_keeps_the_recall_of_the_walk_on_rows() {
    let dim = 32;
    for metric in [DistanceMetric::Cosine, DistanceMetric::Euclidean] {
        let vectors = prepared(metric, clustered(6_000, dim, 17), dim);
        let queries = prepared(metric, clustered(200, dim, 171), dim);
        // One build thread: the graph is reproducible, so only the walk differs.
        let quantised = Hnsw::build(HnswParams::new(16, 100), metric, dim, &vectors, 1).unwrap();
        assert_eq!(quantised.codes().map(Sq8::len), Some(6_000));
        let mut on_rows = Hnsw::from_bytes(&quantised.to_bytes()).unwrap();
        on_rows.drop_codes();
        for ef in [64, 128] {
            let (codes, rows) =
                (recall(&quantised, &vectors, &queries, dim, ef), recall(&on_rows, &vectors, &queries, dim, ef));
            assert!(codes >= rows - 0.005, "{metric:?} ef {ef}: codes {codes} against rows {rows}");
        }
        // Answers carry exact distances, re-ranked from the rows.
        let q = &queries[..dim];
        let (found, _) = quantised.search(&vectors, q, 10, 64, &|_| true);
        let exact = Distance::new(metric);
        for n in &found {
            let row = &vectors[n.row as usize * dim..(n.row as usize + 1) * dim];
            assert_eq!(n.distance, exact.distance(q, row));
        }
        assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
    }
}

#[test]
fn codes_are_serialised_and_damaged_codes_are_corrupted() {
    let dim = 12;
    let vectors = clustered(2_500, dim, 5);
    let graph = Hnsw::build(HnswParams::new(8, 64), DistanceMetric::Euclidean, dim, &vectors, 1).unwrap();
    let bytes = graph.to_bytes();
    assert_eq!(&bytes[..8], b"PXHNSW02");
    let loaded = Hnsw::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.memory_bytes(), graph.memory_bytes());
    assert!(loaded.codes().is_some(), "loaded without rebuilding");
    for q in clustered(20, dim, 8).chunks_exact(dim) {
        assert_eq!(graph.search(&vectors, q, 5, 32, &|_| true).0, loaded.search(&vectors, q, 5, 32, &|_| true).0);
    }
    // A byte inside the codes (near the end, before the norms and checksum).
    let mut damaged = bytes.clone();
    damaged[bytes.len() - 4 * 2_500 - 40] ^= 0x10;
    assert_eq!(Hnsw::from_bytes(&damaged).unwrap_err().kind(), proxima_core::ErrorKind::Corrupted);
    // Without codes the graph still serialises, as the first format did.
    let mut plain = Hnsw::from_bytes(&bytes).unwrap();
    plain.drop_codes();
    let plain = Hnsw::from_bytes(&plain.to_bytes()).unwrap();
    assert!(plain.codes().is_none());
    assert!(plain.memory_bytes() < graph.memory_bytes());
}

#[test]
fn incremental_inserts_extend_the_codes() {
    let dim = 8;
    let vectors = clustered(2_400, dim, 9);
    let mut graph =
        Hnsw::build(HnswParams::new(8, 64), DistanceMetric::Euclidean, dim, &vectors[..1_200 * dim], 1).unwrap();
    graph.reorder();
    graph.insert_new_rows(&vectors, 1).unwrap();
    assert_eq!(graph.codes().map(Sq8::len), Some(2_400));
    assert!(graph.is_reordered(), "renumbered again after the insert");
    for row in (1_200..2_400u32).step_by(53) {
        let q = &vectors[row as usize * dim..(row as usize + 1) * dim];
        assert_eq!(graph.search(&vectors, q, 1, 32, &|_| true).0[0].row, row);
    }
}

#[test]
fn renumbered_graphs_answer_exactly_as_before() {
    let dim = 16;
    for metric in [DistanceMetric::Cosine, DistanceMetric::Euclidean] {
        let vectors = prepared(metric, clustered(5_000, dim, 23), dim);
        let in_row_order = Hnsw::build(HnswParams::new(12, 80), metric, dim, &vectors, 1).unwrap();
        let mut reordered = Hnsw::from_bytes(&in_row_order.to_bytes()).unwrap();
        reordered.reorder();
        assert!(reordered.is_reordered() && !in_row_order.is_reordered());
        let reordered = Hnsw::from_bytes(&reordered.to_bytes()).unwrap();
        assert!(reordered.is_reordered(), "the renumbering is serialised");
        let mut rows_walk =
            [Hnsw::from_bytes(&reordered.to_bytes()).unwrap(), Hnsw::from_bytes(&in_row_order.to_bytes()).unwrap()];
        rows_walk.iter_mut().for_each(Hnsw::drop_codes);
        let odd = |row: u32| row % 2 == 1;
        for q in prepared(metric, clustered(50, dim, 31), dim).chunks_exact(dim) {
            for (a, b) in [(&reordered, &in_row_order), (&rows_walk[0], &rows_walk[1])] {
                assert_eq!(a.search(&vectors, q, 10, 40, &|_| true), b.search(&vectors, q, 10, 40, &|_| true));
                assert_eq!(a.search(&vectors, q, 10, 40, &odd), b.search(&vectors, q, 10, 40, &odd));
                assert_eq!(a.search_selective(&vectors, q, 5, 60, &odd), b.search_selective(&vectors, q, 5, 60, &odd));
            }
        }
    }
}

#[test]
fn a_damaged_renumbering_is_corrupted() {
    let dim = 4;
    let vectors = clustered(500, dim, 3);
    let mut graph = Hnsw::build(HnswParams::new(4, 16), DistanceMetric::Dot, dim, &vectors, 1).unwrap();
    graph.reorder();
    let mut bytes = graph.to_bytes();
    // The last row number, just before the checksum: make it repeat the first.
    let (last, first) = (bytes.len() - 8, bytes.len() - 4 - 4 * 500);
    let first_row: [u8; 4] = bytes[first..first + 4].try_into().unwrap();
    bytes[last..last + 4].copy_from_slice(&first_row);
    let body = bytes.len() - 4;
    let crc = crc32c::crc32c(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    let err = Hnsw::from_bytes(&bytes).unwrap_err();
    assert_eq!(err.kind(), proxima_core::ErrorKind::Corrupted);
    assert!(err.to_string().contains("permutation"), "{err}");
}

#[test]
fn the_summary_reads_the_codes_size_from_the_header() {
    let dim = 6;
    let vectors = clustered(700, dim, 4);
    let mut graph = Hnsw::build(HnswParams::new(6, 24), DistanceMetric::Euclidean, dim, &vectors, 1).unwrap();
    let summary = crate::IndexSummary::peek(&graph.to_bytes());
    assert_eq!(summary, Some(crate::IndexSummary::Hnsw { len: 700, m: 6, code_bytes: 700 * dim }));
    graph.drop_codes();
    let summary = crate::IndexSummary::peek(&graph.to_bytes());
    assert_eq!(summary, Some(crate::IndexSummary::Hnsw { len: 700, m: 6, code_bytes: 0 }));
}
