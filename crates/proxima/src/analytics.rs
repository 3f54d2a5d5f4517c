//! Per-collection and per-engine latency (HDR histograms), throughput and
//! success rates, and recommendations drawn from them and from engine figures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, 1 µs to 1 hour, 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug)]
struct OpStats {
    latency: Histogram<u64>,
    errors: u64,
    first: Instant,
    last: Instant,
}

impl OpStats {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"),
            errors: 0,
            first: now,
            last: now,
        }
    }

    fn summary(&self) -> OperationSummary {
        let count = self.latency.len();
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1e3;
        let window = self.last.duration_since(self.first).as_secs_f64();
        OperationSummary {
            count,
            errors: self.errors,
            success_rate: if count == 0 { 1.0 } else { 1.0 - self.errors as f64 / count as f64 },
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            mean_ms: self.latency.mean() / 1e3,
            throughput_per_s: if window > 0.0 { count as f64 / window } else { 0.0 },
        }
    }
}

/// Figures for one kind of operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationSummary {
    /// Operations recorded.
    pub count: u64,
    /// How many failed.
    pub errors: u64,
    /// Share that succeeded.
    pub success_rate: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Operations per second between the first and the last one recorded.
    pub throughput_per_s: f64,
}

/// Figures for a collection or an engine, by operation.
pub type OperationTable = BTreeMap<String, OperationSummary>;

/// Advice with its reason and how sure we are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Recommendation {
    /// The collection concerned.
    pub collection: String,
    /// What to do, e.g. `"compact"`.
    pub action: String,
    /// Why.
    pub reason: String,
    /// 0..1.
    pub confidence: f64,
}

/// The answer of [`crate::Proxima::get_performance_analytics`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PerformanceAnalytics {
    /// By collection, then operation.
    pub collections: BTreeMap<String, OperationTable>,
    /// By engine, then operation.
    pub engines: BTreeMap<String, OperationTable>,
    /// Suggestions.
    pub recommendations: Vec<Recommendation>,
}

/// Where time went: one collection's share of one kind of operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationCost {
    /// The collection.
    pub collection: String,
    /// The operation, e.g. `"search"`.
    pub operation: String,
    /// How many ran.
    pub count: u64,
    /// Their summed latency.
    pub total_ms: f64,
    /// That sum's share of all recorded time, 0..1.
    pub share: f64,
}

/// Costs, most expensive first.
pub(crate) fn costs(tables: &BTreeMap<String, OperationTable>) -> Vec<OperationCost> {
    let mut out: Vec<OperationCost> = tables
        .iter()
        .flat_map(|(collection, ops)| {
            ops.iter().map(move |(operation, s)| OperationCost {
                collection: collection.clone(),
                operation: operation.clone(),
                count: s.count,
                total_ms: s.mean_ms * s.count as f64,
                share: 0.0,
            })
        })
        .collect();
    let total: f64 = out.iter().map(|c| c.total_ms).sum();
    out.iter_mut().for_each(|c| c.share = if total > 0.0 { c.total_ms / total } else { 0.0 });
    out.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms).then_with(|| a.collection.cmp(&b.collection)));
    out
}

/// Statistics by owner (a collection or an engine), then by operation.
type Owners = BTreeMap<String, BTreeMap<&'static str, OpStats>>;

/// Latencies kept per collection and operation for [`Recorder::recent_p95`].
const RECENT_WINDOW: usize = 128;

/// Where the operations' figures accumulate.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    by_collection: Mutex<Owners>,
    by_engine: Mutex<Owners>,
    /// The last `RECENT_WINDOW` latencies (µs) per collection and operation:
    /// what a planner choosing by latency needs, unlike the lifetime histograms.
    recent: Mutex<BTreeMap<(String, &'static str), std::collections::VecDeque<u64>>>,
}

impl Recorder {
    pub(crate) fn record(&self, collection: &str, engine: &str, op: &'static str, elapsed: Duration, ok: bool) {
        let micros = (elapsed.as_micros() as u64).clamp(1, MAX_MICROS);
        for (map, owner) in [(&self.by_collection, collection), (&self.by_engine, engine)] {
            let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
            // Looked up by `&str` first: the hot path allocates nothing.
            if !map.contains_key(owner) {
                map.insert(owner.to_string(), BTreeMap::new());
            }
            let ops = map.get_mut(owner).expect("inserted above");
            let stats = ops.entry(op).or_insert_with(OpStats::new);
            let _ = stats.latency.record(micros);
            stats.errors += u64::from(!ok);
            stats.last = Instant::now();
        }
    }

    /// Records `elapsed` like [`Recorder::record`] and in the recent window.
    pub(crate) fn record_recent(&self, collection: &str, op: &'static str, elapsed: Duration, ok: bool) {
        self.record(collection, "hybrid", op, elapsed, ok);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let window = recent.entry((collection.to_string(), op)).or_default();
        if window.len() == RECENT_WINDOW {
            window.pop_front();
        }
        window.push_back((elapsed.as_micros() as u64).clamp(1, MAX_MICROS));
    }

    /// The 95th percentile (ms) of the recent window and its size; `None` before any sample.
    pub(crate) fn recent_p95(&self, collection: &str, op: &'static str) -> Option<(f64, usize)> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let window = recent.get(&(collection.to_string(), op)).filter(|w| !w.is_empty())?;
        let mut sorted: Vec<u64> = window.iter().copied().collect();
        sorted.sort_unstable();
        let at = ((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1;
        Some((sorted[at] as f64 / 1e3, sorted.len()))
    }

    /// Forgets a dropped collection.
    pub(crate) fn forget(&self, collection: &str) {
        self.by_collection.lock().unwrap_or_else(|e| e.into_inner()).remove(collection);
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).retain(|(c, _), _| c != collection);
    }

    pub(crate) fn tables(
        &self,
        collection: Option<&str>,
    ) -> (BTreeMap<String, OperationTable>, BTreeMap<String, OperationTable>) {
        let table = |map: &Mutex<Owners>, keep: &dyn Fn(&str) -> bool| {
            let mut out: BTreeMap<String, OperationTable> = BTreeMap::new();
            for (owner, ops) in map.lock().unwrap_or_else(|e| e.into_inner()).iter().filter(|(o, _)| keep(o)) {
                let table = out.entry(owner.clone()).or_default();
                for (op, stats) in ops {
                    table.insert(op.to_string(), stats.summary());
                }
            }
            out
        };
        (table(&self.by_collection, &|c| collection.is_none_or(|want| want == c)), table(&self.by_engine, &|_| true))
    }
}
