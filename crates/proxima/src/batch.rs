//! `batch_execute`: apply every valid operation of a list in one durable
//! write (one per partition for a partitioned collection), and say exactly
//! which ones were refused and why.

use std::time::Instant;

use proxima_core::{Result, now_unix_secs};
use proxima_engine::{WriteBatch, WriteOp, prepare_batch};
use serde::Serialize;

use crate::Proxima;

/// One operation of a batch: `{"upsert": record}`, `{"delete": {"id"}}`,
/// `{"soft_delete": {"id"}}`, `{"restore": {"id"}}`, `{"update_metadata": {"id", "metadata"}}`.
pub type BatchOperation = WriteOp;

/// Why one operation was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BatchError {
    /// Its position in the list.
    pub index: usize,
    /// Its kind, e.g. `"upsert"`.
    pub operation: &'static str,
    /// The error kind, e.g. `"InvalidArgument"`.
    pub code: &'static str,
    /// What was wrong.
    pub error: String,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BatchResult {
    /// Operations applied.
    pub succeeded: usize,
    /// Operations refused.
    pub failed: usize,
    /// The refused operations.
    pub errors: Vec<BatchError>,
    /// Sequence numbers of the applied operations (first, last), if any were applied.
    pub seq_range: Option<(u64, u64)>,
    /// Wall time.
    pub duration_ms: f64,
}

fn kind(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Upsert(_) => "upsert",
        WriteOp::Delete { .. } => "delete",
        WriteOp::UpdateMetadata { .. } => "update_metadata",
        WriteOp::SoftDelete { .. } => "soft_delete",
        WriteOp::Restore { .. } => "restore",
    }
}

impl Proxima {
    /// Validates each operation on its own, then applies the valid ones as one
    /// write batch (one log record, so all of them or none survive a crash;
    /// on a partitioned collection, one such batch per partition).
    /// Operations that depend on state (restoring what is not soft-deleted, say)
    /// are refused one by one as the engine names them, before anything is logged.
    pub async fn batch_execute(&self, collection: &str, operations: Vec<BatchOperation>) -> Result<BatchResult> {
        let started = Instant::now();
        let gate = self.gates.of(collection);
        let _open = gate.read().await;
        let (holders, config) = self.holders(collection).await?;
        let now = now_unix_secs();
        let mut errors = Vec::new();
        let mut valid: Vec<Vec<(usize, WriteOp)>> = vec![Vec::new(); holders.len()];
        for (index, op) in operations.into_iter().enumerate() {
            let mut alone = WriteBatch { ops: vec![op] };
            let checked = prepare_batch(&mut alone, &config, now);
            let op = alone.ops.pop().expect("one operation");
            match checked {
                Ok(()) => valid[crate::partition_of(op.id(), holders.len())].push((index, op)),
                Err(e) => errors.push(refused(index, &op, &e)),
            }
        }
        let mut seq_range: Option<(u64, u64)> = None;
        let mut succeeded = 0;
        for ((_, engine), part) in holders.iter().zip(valid) {
            let (applied, range) = apply(&**engine, collection, part, &mut errors).await?;
            succeeded += applied;
            seq_range = match (seq_range, range) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (a, b) => a.or(b),
            };
        }
        errors.sort_by_key(|e| e.index);
        Ok(BatchResult {
            succeeded,
            failed: errors.len(),
            errors,
            seq_range,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }
}

fn refused(index: usize, op: &WriteOp, e: &proxima_core::Error) -> BatchError {
    BatchError { index, operation: kind(op), code: e.kind().as_str(), error: e.to_string() }
}

/// Writes `valid` to `engine` as one batch; an operation the engine refuses
/// (it names its position) is reported and the rest are tried again. Returns
/// how many were applied and their sequence numbers.
async fn apply(
    engine: &dyn proxima_engine::VectorStorage,
    collection: &str,
    mut valid: Vec<(usize, WriteOp)>,
    errors: &mut Vec<BatchError>,
) -> Result<(usize, Option<(u64, u64)>)> {
    while !valid.is_empty() {
        let batch = WriteBatch { ops: valid.iter().map(|(_, op)| op.clone()).collect() };
        match engine.write(collection, batch).await {
            Ok(receipt) => return Ok((valid.len(), Some((receipt.first_seq, receipt.last_seq)))),
            Err(e) => {
                let position =
                    e.context("operation").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p < valid.len());
                let Some(position) = position else { return Err(e) };
                let (index, op) = valid.remove(position);
                errors.push(refused(index, &op, &e));
            }
        }
    }
    Ok((0, None))
}
