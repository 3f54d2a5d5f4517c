//! Recommendations: what to do about a collection, from its engine figures,
//! its segments and the latencies recorded for it.

use proxima_engine::{CollectionStats, ReadView, VectorStorage};

use crate::analytics::{OperationTable, Recommendation};

/// Rows in sealed segments without an index beyond which searches pay for exact scans.
const UNINDEXED_ROWS: usize = 20_000;

pub(crate) fn recommend(
    collection: &str,
    engine: &dyn VectorStorage,
    stats: &CollectionStats,
    view: &dyn ReadView,
    ops: Option<&OperationTable>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut say = |action: &str, reason: String, confidence: f64| {
        out.push(Recommendation { collection: collection.to_string(), action: action.to_string(), reason, confidence });
    };
    let rows = stats.live_records + stats.soft_deleted_records + stats.dead_rows;
    if rows > 0 && stats.dead_rows as f64 / rows as f64 >= 0.2 {
        let share = 100.0 * stats.dead_rows as f64 / rows as f64;
        say("compact", format!("{share:.0}% of stored rows are dead versions or deletes"), 0.9);
    }
    let unindexed: usize = view.segments().iter().filter(|s| s.index_bytes().is_none()).map(|s| s.len()).sum();
    if unindexed >= UNINDEXED_ROWS {
        say(
            "build_index",
            format!("{unindexed} rows sit in segments without an index; flush or compact to index them"),
            0.8,
        );
    }
    if !engine.capabilities().persistent && stats.live_records >= 100_000 {
        say(
            "move_engine",
            format!("{} records live in `{}`, which does not persist", stats.live_records, engine.name()),
            0.7,
        );
    }
    if let Some(search) = ops.and_then(|o| o.get("search")).filter(|s| s.count >= 100) {
        if search.p99_ms > 50.0 {
            say(
                "lower_ef",
                format!("search p99 is {:.1} ms; a lower ef or accuracy target trades recall for speed", search.p99_ms),
                0.5,
            );
        } else if search.p99_ms < 1.0 {
            say(
                "raise_ef",
                format!("search p99 is {:.2} ms; there is room for a wider beam (higher recall)", search.p99_ms),
                0.4,
            );
        }
    }
    if let Some(write) = ops.and_then(|o| o.get("write")).filter(|w| w.count >= 20 && w.success_rate < 0.9) {
        let failed = 100.0 * (1.0 - write.success_rate);
        say(
            "check_clients",
            format!("{failed:.0}% of writes are refused; see the error messages clients receive"),
            0.6,
        );
    }
    out
}
