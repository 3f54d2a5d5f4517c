//! `--filtered`: filters of every selectivity through the search handler, the
//! way a collection answers them: one sealed segment carrying the HNSW graph
//! and the payload index of three declared int fields (`p1 = i % 100`,
//! `p01 = i % 1000`, `yr = 1900 + i % 125`), `accuracy: 0.95`, k = 10, one
//! query thread, recall@10 against the exact filtered top 10. The filters and
//! the unfiltered search take turns in blocks of queries, so the ratios to
//! the unfiltered QPS hold on a host whose speed drifts.

use std::sync::Arc;
use std::time::Instant;

use proxima_core::{CollectionConfig, DistanceMetric, FieldType, Filter, IndexConfig, Metadata, SearchRequest};
use proxima_engine::state::Chunk;
use proxima_engine::testkit::RowsSegment;
use proxima_engine::{ReadView, Segment, Snapshot};
use proxima_index::{Distance, IndexParts, flat_search_rows};
use proxima_payload::PayloadIndex;
use proxima_search::{SearchContext, VectorSearchHandler};
use serde_json::{Value, json};

use crate::{K, recall};

/// Queries per filter (the exact filtered truth of a 99% filter costs a full scan each).
const QUERIES: usize = 1_000;

/// Queries a filter runs before the next filter takes its turn.
const BLOCK: usize = 50;

/// One filter of the benchmark with its exact answers.
struct Case {
    name: &'static str,
    /// `None` for the unfiltered yardstick.
    filter: Option<Filter>,
    matching: usize,
    truth: Vec<Vec<u32>>,
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
    let mut chunk = Chunk::new(1, dim);
    for (row, (vector, metadata)) in base.chunks_exact(dim).zip(&metadata).enumerate() {
        chunk.push(row.to_string(), row as u64 + 1, vector, metadata.clone(), None);
    }
    let mut segment = RowsSegment::sealed(chunk);
    segment.index = Some(IndexParts::bundle(Some(&graph), &payload.to_bytes()));
    let view: Arc<dyn ReadView> = Arc::new(Snapshot {
        config,
        seq: rows as u64,
        segments: vec![Arc::new(segment) as Arc<dyn Segment>],
        tombstones: Arc::from(Vec::new()),
    });
    let handler = VectorSearchHandler::default();
    let distance = Distance::new(DistanceMetric::Cosine);
    let queries: Vec<&[f32]> = queries.chunks_exact(dim).take(QUERIES).collect();
    let cases: Vec<Case> = filters()
        .into_iter()
        .map(|(name, filter)| {
            let matching: Vec<u32> = (0..rows as u32).filter(|&r| filter.matches(&metadata[r as usize])).collect();
            let truth = queries
                .iter()
                .map(|q| {
                    let rows = matching.iter().copied();
                    flat_search_rows(&distance, base, dim, q, K, rows).iter().map(|n| n.row).collect()
                })
                .collect();
            let filter = (!matches!(&filter, Filter::And(parts) if parts.is_empty())).then_some(filter);
            Case { name, filter, matching: matching.len(), truth }
        })
        .collect();
    let search = |case: &Case, q: &[f32]| {
        let mut request = SearchRequest::new(q.to_vec(), K);
        request.filter = case.filter.clone();
        request.accuracy = Some(0.95);
        handler.execute_search(&SearchContext::new(view.clone(), request)).expect("search")
    };
    // Warm-up: loads the graph and the payload index into the handler's caches.
    for case in &cases {
        for q in queries.iter().take(100) {
            std::hint::black_box(search(case, q));
        }
    }
    // Filters take turns a block of queries at a time, so a slow phase of a
    // noisy host lands on every filter alike; each block's time is also set
    // against the unfiltered block run beside it.
    let blocks = queries.len().div_ceil(BLOCK);
    let mut latencies = vec![Vec::with_capacity(queries.len()); cases.len()];
    let mut found = vec![Vec::with_capacity(queries.len()); cases.len()];
    let mut block_seconds = vec![Vec::with_capacity(blocks); cases.len()];
    let mut plans = vec![Vec::new(); cases.len()];
    let mut computations = vec![0u64; cases.len()];
    for block in queries.chunks(BLOCK) {
        for (c, case) in cases.iter().enumerate() {
            let mut seconds = 0.0;
            for q in block {
                let started = Instant::now();
                let response = search(case, q);
                let elapsed = started.elapsed().as_secs_f64();
                seconds += elapsed;
                latencies[c].push(elapsed * 1e3);
                found[c].push(response.hits.iter().map(|h| h.id.parse::<u32>().expect("row id")).collect::<Vec<_>>());
                computations[c] += response.performance.distance_computations;
                plans[c] = response.performance.plans;
            }
            block_seconds[c].push(seconds);
        }
    }
    let unfiltered = cases.len() - 1;
    let unfiltered_qps = queries.len() as f64 / block_seconds[unfiltered].iter().sum::<f64>();
    let mut results = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        let qps = queries.len() as f64 / block_seconds[c].iter().sum::<f64>();
        let mut block_ratios: Vec<f64> =
            block_seconds[unfiltered].iter().zip(&block_seconds[c]).map(|(u, f)| u / f).collect();
        block_ratios.sort_by(f64::total_cmp);
        let (low, median, high) =
            (block_ratios[0], block_ratios[block_ratios.len() / 2], block_ratios[block_ratios.len() - 1]);
        let lat = &mut latencies[c];
        lat.sort_by(f64::total_cmp);
        let (p50, p99) = (lat[lat.len() / 2], lat[lat.len() * 99 / 100]);
        let r = recall(&found[c], &case.truth);
        let method = plans[c].first().map_or("none", |p| p.method.name());
        let ratio = qps / unfiltered_qps;
        let per_query = computations[c] as f64 / queries.len() as f64;
        eprintln!(
            "ann: {:28} rows {:7} recall@10 {r:.4} qps {qps:7.0} p50 {p50:.3} ms ({method}, \
             {per_query:.0} distances) vs unfiltered {ratio:.2}x (blocks {low:.2}/{median:.2}/{high:.2})",
            case.name, case.matching
        );
        results.push(json!({
            "filter": case.name, "matching_rows": case.matching, "recall10": r, "qps": qps,
            "p50_ms": p50, "p99_ms": p99, "method": method, "plan": plans[c].first(),
            "distances_per_query": per_query, "vs_unfiltered": ratio,
            "vs_unfiltered_by_block": {"min": low, "median": median, "max": high},
        }));
    }
    json!({
        "queries": queries.len(),
        "block": BLOCK,
        "accuracy": 0.95,
        "payload_index_bytes": payload_bytes,
        "payload_build_s": payload_build_s,
        "hnsw_build_s": hnsw_build_s,
        "filters": results,
    })
}
