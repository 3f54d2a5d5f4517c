//! The engine conformance suite. Every engine's `tests/conformance.rs` calls
//! [`run_all`] with an [`EngineHarness`]; cases are grouped by capability (the
//! durability cases run only for persistent engines).
//!
//! Cases return [`CaseResult`] instead of panicking, so the suite can be run
//! against deliberately broken engines to show that it catches them.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{CollectionConfig, DistanceMetric, Metadata, Result, VectorRecord, now_unix_secs};

use crate::{IndexBuilder, ReadView, Segment, VectorStorage, WriteBatch, WriteOp, prepare_batch};

mod actions;
mod crud;
mod durability;
mod fields;
mod model;
mod segment;
mod views;

#[cfg(test)]
mod broken;

pub use actions::{Action, actions, agrees_with_the_model};
pub use crud::*;
pub use durability::*;
pub use fields::*;
pub use model::{Model, Rng, random_batch};
pub use segment::RowsSegment;
pub use views::*;

/// Opens the engine under test. A second `open` after the previous handle is
/// dropped must see the same data when the engine is persistent.
#[async_trait]
pub trait EngineHarness: Send + Sync {
    /// Opens (or reopens) the engine, with an optional index hook.
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>>;
}

pub use proxima_core::testkit::{CaseError, CaseResult, expect_kind};

pub(crate) use proxima_core::ensure_case as ensure;

/// Runs every case and panics listing the failures.
pub async fn run_all(harness: &dyn EngineHarness) {
    let failures = run_all_collecting(harness).await;
    assert!(failures.is_empty(), "{} conformance case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// Runs every case; returns `"case: why"` for each failure.
pub async fn run_all_collecting(harness: &dyn EngineHarness) -> Vec<String> {
    let mut failures = Vec::new();
    macro_rules! run {
        ($($case:ident),* $(,)?) => {$(
            if let Err(e) = $case(harness).await {
                failures.push(format!("{}: {}", stringify!($case), e));
            }
        )*};
    }
    run!(
        collections_lifecycle,
        upsert_then_get,
        cosine_vectors_are_stored_normalised,
        overwrite_keeps_newest,
        delete_hides_record,
        soft_delete_and_restore,
        update_metadata_keeps_vector,
        expired_records_are_invisible,
        bad_input_changes_nothing,
        sequence_numbers_increase,
        view_is_isolated_from_later_writes,
        segments_expose_contiguous_rows,
        index_hook_runs_on_sealed_segments,
        compaction_keeps_data,
        checkpoint_and_restore,
        fields_declared_later,
        random_operations_match_model,
    );
    let persistent = match harness.open(None).await {
        Ok(engine) => engine.capabilities().persistent,
        Err(e) => {
            failures.push(format!("open: {e}"));
            return failures;
        }
    };
    if persistent {
        run!(
            reopen_preserves_everything,
            unflushed_writes_survive_reopen,
            declared_fields_survive_reopen,
            random_operations_survive_reopens
        );
    }
    failures
}

/// A collection config for case `name` with the Euclidean metric, so stored vectors equal written ones.
pub fn config(name: &str, dimension: u32) -> CollectionConfig {
    CollectionConfig::new(name, dimension).with_metric(DistanceMetric::Euclidean)
}

/// A deterministic vector for `i`.
pub fn vector(i: u64, dimension: u32) -> Vec<f32> {
    (0..dimension as u64).map(|d| ((i * 31 + d * 7) % 97) as f32 / 8.0 - 6.0).collect()
}

/// A record `id{i}` with metadata `{"i": i, "even": i % 2 == 0}`.
pub fn record(i: u64, dimension: u32) -> VectorRecord {
    VectorRecord::new(format!("id{i}"), vector(i, dimension))
        .with_metadata(serde_json::json!({"i": i, "even": i.is_multiple_of(2)}))
}

/// One visible row of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The vector.
    pub vector: Vec<f32>,
    /// The metadata.
    pub metadata: Metadata,
    /// The version's sequence number.
    pub seq: u64,
}

/// The visible (live, unexpired) rows of a view by id; fails if an id is live twice.
pub fn snapshot(view: &dyn ReadView) -> std::result::Result<BTreeMap<String, Row>, CaseError> {
    let now = now_unix_secs();
    let mut rows = BTreeMap::new();
    for segment in view.segments() {
        ensure!(
            segment.vectors().len() == segment.len() * segment.dimension(),
            "segment {} has {} values for {} rows of dimension {}",
            segment.segment_id(),
            segment.vectors().len(),
            segment.len(),
            segment.dimension()
        );
        for row in segment.live().ones() {
            if segment.expires_at(row).is_some_and(|at| at <= now) {
                continue;
            }
            let previous = rows.insert(
                segment.id(row).to_string(),
                Row {
                    vector: segment.vector(row).to_vec(),
                    metadata: segment.metadata(row).clone(),
                    seq: segment.seq(row),
                },
            );
            ensure!(previous.is_none(), "id `{}` is live in two rows of one view", segment.id(row));
        }
    }
    Ok(rows)
}

/// The current visible rows of `collection`.
pub async fn current_rows(
    engine: &dyn VectorStorage,
    collection: &str,
) -> std::result::Result<BTreeMap<String, Row>, CaseError> {
    snapshot(&*engine.read_view(collection).await?)
}

/// Writes `batch` to both the engine and the model.
pub async fn write_both(
    engine: &dyn VectorStorage,
    model: &mut Model,
    collection: &str,
    batch: WriteBatch,
) -> CaseResult {
    let receipt = engine.write(collection, batch.clone()).await?;
    model.apply(batch, receipt.first_seq)?;
    Ok(())
}

/// An index hook that stores the segment's row count, so cases can check it ran.
#[derive(Debug, Default)]
pub struct RowCountIndex;

impl IndexBuilder for RowCountIndex {
    fn build(&self, _config: &CollectionConfig, segment: &dyn Segment) -> Result<Option<Vec<u8>>> {
        Ok(Some((segment.len() as u64).to_le_bytes().to_vec()))
    }
}

/// Prepares a batch the way engines do, for building model state.
pub fn prepared(batch: &WriteBatch, config: &CollectionConfig) -> Result<Vec<WriteOp>> {
    let mut batch = batch.clone();
    prepare_batch(&mut batch, config, now_unix_secs())?;
    Ok(batch.ops)
}
