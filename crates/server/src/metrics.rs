//! Request counts and latency histograms per route, in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Method, route template, status.
type Series = (String, String, u16);

/// (method, route, status) → latencies.
#[derive(Debug, Default, Clone)]
pub struct Metrics(Arc<Mutex<BTreeMap<Series, Histogram>>>);

impl Metrics {
    fn observe(&self, key: Series, seconds: f64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(key).or_default();
        h.count += 1;
        h.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = String::new();
        out.push_str("# HELP proximadb_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE proximadb_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in &map {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ =
                    writeln!(out, "proximadb_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "proximadb_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "proximadb_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "proximadb_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        out
    }
}

/// A counter's name, its help text, and how to read it from a layer's report.
type CacheSeries = (&'static str, &'static str, fn(&proxima::LayerReport) -> u64);

/// Each cache layer's counters, as Prometheus counters labelled by layer.
pub(crate) fn render_cache(layers: &[proxima::LayerReport]) -> String {
    let mut out = String::new();
    let series: [CacheSeries; 5] = [
        ("hits", "Gets a cache layer answered.", |l| l.hits),
        ("misses", "Gets a cache layer could not answer.", |l| l.misses),
        ("errors", "Failed cache layer calls (timeouts, damaged values).", |l| l.errors),
        ("dropped", "Cache writes dropped by a full queue.", |l| l.dropped),
        ("messages_received", "Invalidations received from other instances.", |l| l.messages_received),
    ];
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP proximadb_cache_{name}_total {help}");
        let _ = writeln!(out, "# TYPE proximadb_cache_{name}_total counter");
        for layer in layers {
            let _ = writeln!(out, "proximadb_cache_{name}_total{{layer=\"{}\"}} {}", layer.layer, value(layer));
        }
    }
    out
}

/// Hybrid queries answered and their p95 (since start), per strategy.
pub(crate) fn render_strategies(table: &proxima::OperationTable) -> String {
    let mut out = String::new();
    let ops: Vec<(&str, &proxima::OperationSummary)> =
        table.iter().filter_map(|(op, s)| Some((op.strip_prefix("query_")?, s))).collect();
    out.push_str("# HELP proximadb_query_total Hybrid queries answered, by strategy.\n");
    out.push_str("# TYPE proximadb_query_total counter\n");
    for (strategy, summary) in &ops {
        let _ = writeln!(out, "proximadb_query_total{{strategy=\"{strategy}\"}} {}", summary.count);
    }
    out.push_str("# HELP proximadb_query_p95_seconds 95th percentile latency of hybrid queries, by strategy.\n");
    out.push_str("# TYPE proximadb_query_p95_seconds gauge\n");
    for (strategy, summary) in &ops {
        let _ = writeln!(out, "proximadb_query_p95_seconds{{strategy=\"{strategy}\"}} {}", summary.p95_ms / 1e3);
    }
    out
}

/// The middleware: times every request under its route template (never the raw
/// path, so ids do not explode the label set).
pub(crate) async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    tracing::debug!(%method, %route, status, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "request");
    metrics.observe((method, route, status), started.elapsed().as_secs_f64());
    response
}
