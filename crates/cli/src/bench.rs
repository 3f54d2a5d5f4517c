//! `proximadb bench`: drives a running server over HTTP with a TEXMEX dataset
//! (GloVe-50 from ../shared/bench/glove50.sh) and reports QPS, latency
//! percentiles and recall@10 at each concurrency.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::import::{self, Row};
use crate::remote::Remote;

/// What one concurrency level measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Level {
    concurrency: usize,
    queries: usize,
    qps: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    recall10: f64,
}

fn read_ivecs(path: &Path) -> Result<Vec<Vec<u32>>, String> {
    // Same layout as .fvecs; the values are i32 ids.
    Ok(import::read_fvecs(path)?.into_iter().map(|r| r.into_iter().map(|x| x.to_bits()).collect()).collect())
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// Loads the dataset into `collection` unless it is there, then measures each concurrency.
pub(crate) fn run(
    remote: &Remote,
    data: &Path,
    collection: &str,
    concurrency: &[usize],
    queries: usize,
    accuracy: f32,
) -> Result<Vec<Level>, String> {
    let query_vectors = import::read_fvecs(&data.join("query.fvecs"))?;
    let truth = read_ivecs(&data.join("gt.ivecs"))?;
    let queries = queries.min(query_vectors.len());
    if !remote.has_collection(collection)? {
        eprintln!("bench: loading {} into `{collection}`", data.join("base.fvecs").display());
        let base: Vec<Row> = import::read_fvecs(&data.join("base.fvecs"))?
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v, json!({})))
            .collect();
        let dimension = base.first().map(|r| r.1.len()).ok_or("empty base.fvecs")?;
        let config = json!({"name": collection, "dimension": dimension, "metric": "cosine",
            "index": {"type": "hnsw", "m": 16, "ef_construction": 200}, "fsync": "always"});
        remote.call("POST", "/v1/collections", Some(&config))?;
        import::import(remote, collection, &base, "cosine", 1_000)?;
        eprintln!("bench: flushing (builds the last segment's index)");
        remote.call("POST", &format!("/v1/collections/{collection}/flush"), None)?;
    }
    let path = format!("/v1/collections/{collection}/search");
    let mut levels = Vec::new();
    for &threads in concurrency {
        let next = Mutex::new(0usize);
        let results: Mutex<Vec<(Duration, usize)>> = Mutex::new(Vec::with_capacity(queries));
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    loop {
                        let i = {
                            let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                            *n += 1;
                            *n - 1
                        };
                        if i >= queries {
                            break;
                        }
                        let body = json!({"vector": query_vectors[i], "k": 10, "accuracy": accuracy});
                        let sent = Instant::now();
                        match remote.call("POST", &path, Some(&body)) {
                            Ok(found) => {
                                let elapsed = sent.elapsed();
                                let hits = recall_hits(&found, &truth[i]);
                                results.lock().unwrap_or_else(|e| e.into_inner()).push((elapsed, hits));
                            }
                            Err(e) => {
                                *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        let wall = started.elapsed().as_secs_f64();
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut latencies: Vec<Duration> = results.iter().map(|r| r.0).collect();
        latencies.sort();
        let hits: usize = results.iter().map(|r| r.1).sum();
        let level = Level {
            concurrency: threads,
            queries: results.len(),
            qps: results.len() as f64 / wall,
            p50_ms: percentile(&latencies, 0.50),
            p95_ms: percentile(&latencies, 0.95),
            p99_ms: percentile(&latencies, 0.99),
            recall10: hits as f64 / (results.len() * 10) as f64,
        };
        eprintln!(
            "bench: concurrency {:3}  {:8.0} qps  p50 {:6.2} ms  p95 {:6.2} ms  p99 {:6.2} ms  recall@10 {:.4}",
            level.concurrency, level.qps, level.p50_ms, level.p95_ms, level.p99_ms, level.recall10
        );
        levels.push(level);
    }
    Ok(levels)
}

fn recall_hits(found: &Value, truth: &[u32]) -> usize {
    let top: Vec<u32> = truth.iter().take(10).copied().collect();
    found["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["id"].as_str().and_then(|id| id.parse::<u32>().ok()))
                .filter(|id| top.contains(id))
                .count()
        })
        .unwrap_or(0)
}
