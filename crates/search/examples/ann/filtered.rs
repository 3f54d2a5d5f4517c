//! `--filtered`: filters of every selectivity through the search handler, the
//! way a collection answers them: one sealed segment carrying the HNSW graph
//! and the payload index of three declared int fields (`p1 = i % 100`,
//! `p01 = i % 1000`, `yr = 1900 + i % 125`), `accuracy: 0.95`, k = 10, one
//! query thread, recall@10 against the exact filtered top 10.

use std::sync::Arc;
use std::time::Instant;

use proxima_core::{CollectionConfig, DistanceMetric, FieldType, Filter, IndexConfig, Metadata, SearchRequest};
use proxima_engine::{Bitmap, ReadView, Segment, Snapshot};
use proxima_index::{Distance, IndexParts, flat_search_rows};
use proxima_payload::PayloadIndex;
use proxima_search::{SearchContext, VectorSearchHandler};
use serde_json::{Value, json};

use crate::{K, recall};

/// Queries per filter (the exact filtered truth of a 99% filter costs a full scan each).
const QUERIES: usize = 1_000;

struct BenchSegment {
    dim: usize,
    vectors: Vec<f32>,
    ids: Vec<String>,
    metadata: Vec<Metadata>,
    live: Bitmap,
    index: Vec<u8>,
}

impl Segment for BenchSegment {
    fn segment_id(&self) -> u64 {
        1
    }
    fn sealed(&self) -> bool {
        true
    }
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn dimension(&self) -> usize {
        self.dim
    }
    fn vectors(&self) -> &[f32] {
        &self.vectors
    }
    fn id(&self, row: usize) -> &str {
        &self.ids[row]
    }
    fn seq(&self, row: usize) -> u64 {
        row as u64 + 1
    }
    fn metadata(&self, row: usize) -> &Metadata {
        &self.metadata[row]
    }
    fn expires_at(&self, _: usize) -> Option<u64> {
        None
    }
    fn live(&self) -> &Bitmap {
        &self.live
    }
    fn index_bytes(&self) -> Option<&[u8]> {
        Some(&self.index)
    }
}

/// The five filters of the filtered-search issue, by name.
fn filters() -> Vec<(&'static str, Filter)> {
    let int = |field: &str, value: i64| proxima_core::filter::FieldValue { field: field.into(), value: json!(value) };
    vec![
        ("eq p1 (1%)", Filter::eq("p1", 7)),
        ("eq p01 (0.1%)", Filter::eq("p01", 77)),
        ("yr in [1950, 1975) (20%)", Filter::And(vec![Filter::Gte(int("yr", 1950)), Filter::lt("yr", 1975)])),
        ("eq p1 and yr >= 2000 (0.2%)", Filter::And(vec![Filter::eq("p1", 7), Filter::Gte(int("yr", 2000))])),
        ("ne p1 (99%)", Filter::Ne(int("p1", 7))),
        ("no filter", Filter::And(Vec::new())),
    ]
}

pub(crate) fn run(base: &[f32], dim: usize, queries: &[f32], graph: Vec<u8>, hnsw_build_s: Option<f64>) -> Value {
    let rows = base.len() / dim;
    let mut config = CollectionConfig::new("bench", dim as u32)
        .with_metric(DistanceMetric::Cosine)
        .with_field("p1", FieldType::Int)
        .with_field("p01", FieldType::Int)
        .with_field("yr", FieldType::Int);
    config.index = IndexConfig::Hnsw { m: 16, ef_construction: 200 };
    let metadata: Vec<Metadata> = (0..rows)
        .map(|i| json!({"p1": i % 100, "p01": i % 1000, "yr": 1900 + i % 125}).as_object().expect("object").clone())
        .collect();
    let started = Instant::now();
    let payload = PayloadIndex::build(&config.fields, metadata.iter());
    let payload_build_s = started.elapsed().as_secs_f64();
    let payload_bytes = payload.memory_bytes();
    eprintln!(
        "ann: payload index of 3 int fields built in {:.3} s, {:.1} MiB",
        payload_build_s,
        payload_bytes as f64 / (1 << 20) as f64
    );
    let segment = BenchSegment {
        dim,
        vectors: base.to_vec(),
        ids: (0..rows).map(|r| r.to_string()).collect(),
        metadata: metadata.clone(),
        live: Bitmap::all_set(rows),
        index: IndexParts::bundle(Some(&graph), &payload.to_bytes()),
    };
    let view: Arc<dyn ReadView> = Arc::new(Snapshot {
        config,
        seq: rows as u64,
        segments: vec![Arc::new(segment) as Arc<dyn Segment>],
        tombstones: Arc::from(Vec::new()),
    });
    let handler = VectorSearchHandler::default();
    let distance = Distance::new(DistanceMetric::Cosine);
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).take(QUERIES).collect();
    let mut results = Vec::new();
    for (name, filter) in filters() {
        let matching: Vec<u32> = (0..rows as u32).filter(|&r| filter.matches(&metadata[r as usize])).collect();
        let truth: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| {
                flat_search_rows(&distance, base, dim, q, K, matching.iter().copied()).iter().map(|n| n.row).collect()
            })
            .collect();
        let request = |q: &[f32]| {
            let mut request = SearchRequest::new(q.to_vec(), K);
            if !matches!(&filter, Filter::And(parts) if parts.is_empty()) {
                request.filter = Some(filter.clone());
            }
            request.accuracy = Some(0.95);
            request
        };
        // Warm-up: loads the graph and the payload index into the handler's caches.
        for q in queries.iter().take(100) {
            std::hint::black_box(handler.execute_search(&SearchContext::new(view.clone(), request(q))).ok());
        }
        let mut latencies = Vec::with_capacity(queries.len());
        let mut found = Vec::with_capacity(queries.len());
        let mut plans = Vec::new();
        for q in &queries {
            let started = Instant::now();
            let response = handler.execute_search(&SearchContext::new(view.clone(), request(q))).expect("search");
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            found.push(response.hits.iter().map(|h| h.id.parse::<u32>().expect("row id")).collect::<Vec<_>>());
            plans = response.performance.plans;
        }
        let total_ms: f64 = latencies.iter().sum();
        latencies.sort_by(f64::total_cmp);
        let p50 = latencies[latencies.len() / 2];
        let p99 = latencies[latencies.len() * 99 / 100];
        let qps = latencies.len() as f64 / (total_ms / 1e3);
        let r = recall(&found, &truth);
        let method = plans.first().map_or("none", |p| p.method.name());
        eprintln!(
            "ann: {name:28} rows {:7} recall@10 {r:.4} qps {qps:7.0} p50 {p50:.3} ms p99 {p99:.3} ms ({method})",
            matching.len()
        );
        results.push(json!({
            "filter": name, "matching_rows": matching.len(), "recall10": r, "qps": qps,
            "p50_ms": p50, "p99_ms": p99, "method": method, "plan": plans.first(),
        }));
    }
    json!({
        "queries": queries.len(),
        "accuracy": 0.95,
        "payload_index_bytes": payload_bytes,
        "payload_build_s": payload_build_s,
        "hnsw_build_s": hnsw_build_s,
        "filters": results,
    })
}
