//! Record lifetimes and upkeep: TTLs, and compaction when enough rows are dead
//! or expired — on demand (`maybe_compact`) or from a background task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proxima_core::{Error, Result, VectorRecord, now_unix_secs};
use proxima_engine::{CompactionPolicy, ReadView, WriteReceipt};
use serde::{Deserialize, Serialize};

use crate::Proxima;

/// When automatic compaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// Whether the background task compacts at all.
    pub enabled: bool,
    /// Compact once at least this many rows are dead (deleted, overwritten) or expired…
    pub min_deleted_records: u64,
    /// …and they are at least this share of the stored rows.
    pub min_deleted_ratio: f64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self { enabled: true, min_deleted_records: 1_000, min_deleted_ratio: 0.2 }
    }
}

/// What `maybe_compact` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompactionResult {
    /// Whether it compacted.
    pub triggered: bool,
    /// Rows physically removed.
    pub removed_count: u64,
    /// Wall time.
    pub duration_ms: f64,
    /// Why it did or did not compact.
    pub reason: String,
}

/// Live rows whose expiry has passed (invisible, still stored).
fn expired_rows(view: &dyn ReadView, now: u64) -> u64 {
    view.segments()
        .iter()
        .map(|s| s.live().ones().filter(|&r| s.expires_at(r).is_some_and(|t| t <= now)).count() as u64)
        .sum()
}

impl Proxima {
    /// Upserts records that expire `ttl_secs` from now.
    pub async fn upsert_with_ttl(
        &self,
        collection: &str,
        mut records: Vec<VectorRecord>,
        ttl_secs: u64,
    ) -> Result<WriteReceipt> {
        let at = now_unix_secs().saturating_add(ttl_secs);
        records.iter_mut().for_each(|r| r.expires_at = Some(at));
        self.upsert(collection, records).await
    }

    /// Gives a record a new lifetime (`None`: never expires; `Some(0)`: expires now)
    /// by writing it again with the new expiry. A write to the same id racing
    /// this call may be overwritten by it, as with any read-modify-write.
    pub async fn set_ttl(&self, collection: &str, id: &str, ttl_secs: Option<u64>) -> Result<WriteReceipt> {
        let current = self.get(collection, &[id.to_string()]).await?.pop().flatten();
        let mut record = current.ok_or_else(|| Error::not_found(format!("no record `{id}` in `{collection}`")))?.record;
        record.expires_at = ttl_secs.map(|ttl| now_unix_secs().saturating_add(ttl));
        self.upsert(collection, vec![record]).await
    }

    /// Compacts `collection` when its dead and expired rows pass `config`'s thresholds.
    pub async fn maybe_compact(&self, collection: &str, config: &CompactionConfig) -> Result<CompactionResult> {
        let started = Instant::now();
        // Summed over the partitions of a partitioned collection.
        let stats = self.stats(collection).await?;
        let mut expired = 0;
        for (_, engine) in self.holders(collection).await?.0 {
            expired += expired_rows(&*engine.read_view(collection).await?, now_unix_secs());
        }
        let stored = stats.live_records + stats.soft_deleted_records + stats.dead_rows;
        let deleted = stats.dead_rows + expired;
        let ratio = if stored == 0 { 0.0 } else { deleted as f64 / stored as f64 };
        let skip = |reason: String| CompactionResult {
            triggered: false,
            removed_count: 0,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            reason,
        };
        if !config.enabled {
            return Ok(skip("automatic compaction is disabled".into()));
        }
        if deleted < config.min_deleted_records.max(1) || ratio < config.min_deleted_ratio {
            return Ok(skip(format!(
                "{deleted} dead or expired rows ({:.1}% of {stored}) are below the thresholds ({} rows, {:.1}%)",
                ratio * 100.0,
                config.min_deleted_records,
                config.min_deleted_ratio * 100.0
            )));
        }
        // Rewrite every segment (compaction seals the write buffer first): expired rows can sit in any of them.
        let policy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX };
        let report = self.compact(collection, &policy).await?;
        Ok(CompactionResult {
            triggered: true,
            removed_count: report.rows_removed,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            reason: format!("{deleted} dead or expired rows ({:.1}% of {stored})", ratio * 100.0),
        })
    }

    /// Runs `maybe_compact` on every collection every `every`, until the task is aborted.
    pub fn spawn_maintenance(
        self: &Arc<Self>,
        every: Duration,
        config: CompactionConfig,
    ) -> tokio::task::JoinHandle<()> {
        let db = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Ok(collections) = db.list_collections().await else { continue };
                for c in collections {
                    // In a cluster, a collection's writer maintains it.
                    if db.written_elsewhere(&c.name).await {
                        continue;
                    }
                    match db.maybe_compact(&c.name, &config).await {
                        Ok(result) if result.triggered => {
                            tracing::info!(collection = %c.name, removed = result.removed_count, reason = %result.reason, "compacted");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(collection = %c.name, error = %e, "automatic compaction failed"),
                    }
                }
            }
        })
    }
}
