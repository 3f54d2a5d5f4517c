//! The metadata conformance suite. Every backend's `tests/conformance.rs` calls
//! [`run_all`] with a [`MetaHarness`]; cases are grouped by capability.
//!
//! Cases namespace their entries by name prefix (and list with that prefix), so
//! they can share one database.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{DistanceMetric, Result, now_unix_secs};
use serde_json::json;

use crate::{AccessPattern, CollectionMetadata, MetadataBackend};

mod cases;
mod concurrency;
mod leases;
mod workload;

#[cfg(test)]
mod broken;

pub use cases::*;
pub use concurrency::*;
pub use leases::leases_conform;
pub use workload::{BENCH_OPS, run_op, seed};

/// Opens the backend under test; a second `open` must see the same data when the backend is persistent.
#[async_trait]
pub trait MetaHarness: Send + Sync {
    /// Opens (or reopens) the backend.
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>>;
}

pub use proxima_core::testkit::{CaseError, CaseResult, expect_kind};

pub(crate) use proxima_core::ensure_case as ensure;

/// Runs every case and panics listing the failures.
pub async fn run_all(harness: &dyn MetaHarness) {
    let failures = run_all_collecting(harness).await;
    assert!(failures.is_empty(), "{} conformance case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// Runs every case; returns `"case: why"` for each failure.
pub async fn run_all_collecting(harness: &dyn MetaHarness) -> Vec<String> {
    let mut failures = Vec::new();
    macro_rules! run {
        ($($case:ident),* $(,)?) => {$(
            if let Err(e) = $case(harness).await {
                failures.push(format!("{}: {}", stringify!($case), e));
            }
        )*};
    }
    run!(
        create_and_get_round_trip,
        duplicates_are_refused,
        invalid_input_is_refused,
        update_checks_version,
        delete_checks_version,
        list_filters_and_pages,
        batch_is_all_or_nothing,
        backup_and_restore,
        expired_entries_are_invisible,
        import_stores_entries_verbatim,
        concurrent_updates_have_one_winner,
        health_and_stats,
    );
    // The probe is dropped before the reopen case: a backend may hold its files exclusively.
    let persistent = harness.open().await.map(|b| b.capabilities().persistent);
    match persistent {
        Ok(true) => run!(reopen_preserves_entries),
        Ok(false) => {}
        Err(e) => failures.push(format!("open: {e}")),
    }
    failures
}

/// An entry with every field set to something other than its default.
pub fn sample(name: &str, i: u64) -> CollectionMetadata {
    let mut m = CollectionMetadata::new(format!("{name}-id"), name, 16 + i as u32);
    m.distance_metric = DistanceMetric::Euclidean;
    m.indexing_algorithm = "ivf".into();
    m.vector_count = 1000 + i;
    m.total_size_bytes = 1 << 20;
    m.config =
        json!({"index": {"type": "ivf", "nlist": 64}, "fields": [{"name": "year", "type": "int"}], "note": "ünïcode"});
    m.access_pattern = AccessPattern::Hot;
    m.description = Some(format!("Sample collection number {i}"));
    m.tags = vec!["sample".into(), format!("t{i}")];
    m.owner = Some("ada".into());
    m.expires_at = Some(now_unix_secs() + 86_400 * 365);
    m
}

/// Whether two entries agree on every field a caller sets (not version or timestamps).
pub fn same_fields(a: &CollectionMetadata, b: &CollectionMetadata) -> bool {
    let strip = |m: &CollectionMetadata| CollectionMetadata { version: 0, created_at: 0, updated_at: 0, ..m.clone() };
    strip(a) == strip(b)
}
