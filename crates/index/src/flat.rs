//! Exact search over contiguous rows.

use crate::{Distance, Neighbor, TopK};

/// Rows scored per block: a block's vectors (256 × 50-d = 50 KiB) stay in L2
/// while its distances are written to a small buffer and then selected.
const BLOCK_ROWS: usize = 256;

/// The `k` rows of `vectors` (row after row, `dimension` values each) closest
/// to `query` among those `accept` lets through, closest first.
pub fn flat_search(
    distance: &Distance,
    vectors: &[f32],
    dimension: usize,
    query: &[f32],
    k: usize,
    accept: impl Fn(u32) -> bool,
) -> Vec<Neighbor> {
    let rows = vectors.len() / dimension.max(1);
    let mut top = TopK::new(k);
    let mut scores = [0.0f32; BLOCK_ROWS];
    for start in (0..rows).step_by(BLOCK_ROWS) {
        let end = (start + BLOCK_ROWS).min(rows);
        let block = &vectors[start * dimension..end * dimension];
        distance.distances(query, block, dimension, &mut scores[..end - start]);
        for (i, &d) in scores[..end - start].iter().enumerate() {
            let row = (start + i) as u32;
            if d < top.threshold() && accept(row) {
                top.push(Neighbor { row, distance: d });
            }
        }
    }
    top.into_sorted()
}

/// Like [`flat_search`] but only over the listed rows (e.g. the rows a selective filter matched).
pub fn flat_search_rows(
    distance: &Distance,
    vectors: &[f32],
    dimension: usize,
    query: &[f32],
    k: usize,
    rows: impl IntoIterator<Item = u32>,
) -> Vec<Neighbor> {
    let mut top = TopK::new(k);
    for row in rows {
        let at = row as usize * dimension;
        let d = distance.distance(query, &vectors[at..at + dimension]);
        top.push(Neighbor { row, distance: d });
    }
    top.into_sorted()
}
