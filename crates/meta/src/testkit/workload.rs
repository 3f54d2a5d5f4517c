//! The operations the backend benchmarks time, shared so every backend runs the same workload.

use proxima_core::Result;

use super::sample;
use crate::{ListFilter, MetadataBackend};

/// The benchmarked operations.
pub const BENCH_OPS: [&str; 4] = ["create", "get", "list", "update"];

/// Creates `n` entries named `bench-<i>` for the read and update benchmarks.
pub async fn seed(backend: &dyn MetadataBackend, n: u64) -> Result<()> {
    for i in 0..n {
        backend.create(sample(&format!("bench-{i:06}"), i)).await?;
    }
    Ok(())
}

/// Runs operation `op` once; `i` picks the seeded target. Creates take fresh names from a process-wide counter.
pub async fn run_op(backend: &dyn MetadataBackend, op: &str, i: u64, seeded: u64) -> Result<()> {
    let name = format!("bench-{:06}", i % seeded.max(1));
    match op {
        "create" => {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            backend.create(sample(&format!("bench-new-{n}"), i)).await.map(|_| ())
        }
        "get" => backend.get(&name).await.map(|_| ()),
        "list" => {
            let filter = ListFilter { name_prefix: Some("bench-0".into()), limit: Some(50), ..Default::default() };
            backend.list(&filter).await.map(|_| ())
        }
        "update" => {
            let mut m = backend.get(&name).await?.expect("seeded entry");
            m.vector_count += 1;
            backend.update(m).await.map(|_| ())
        }
        other => panic!("unknown benchmark op {other}"),
    }
}
