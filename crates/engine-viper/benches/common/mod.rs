//! The vectors VIPER's ingest bench and its `ingest_latency` example write
//! (the example includes this file by path), so their figures compare.

use proxima_core::VectorRecord;
use proxima_engine::WriteBatch;

/// Values in [-1, 1) from a hash of (row, component): as incompressible as real
/// embeddings, so zstd does the work it would do on them.
pub(crate) fn value(row: u64, component: usize) -> f32 {
    let mut x = (row << 12 | component as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    (x % 20_000) as f32 / 10_000.0 - 1.0
}

/// `rows` upserts of `dim`-d vectors, ids `v<start>` onwards.
pub(crate) fn batch(start: u64, rows: u64, dim: usize) -> WriteBatch {
    WriteBatch::from(
        (start..start + rows)
            .map(|i| VectorRecord::new(format!("v{i}"), (0..dim).map(|d| value(i, d)).collect()))
            .collect::<Vec<_>>(),
    )
}
