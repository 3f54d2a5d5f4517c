//! `proximadb bench`: drives a running server over HTTP with a TEXMEX dataset
//! (GloVe-50 from ../shared/bench/glove50.sh) and reports QPS, latency
//! percentiles, recall@10 and the share answered by the cache at each
//! concurrency, each client thread on one kept-open connection. Each query is sent once, or, with `--distinct N`, requests
//! are drawn from the first N queries by a Zipf law, so they repeat as real
//! traffic does.

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
    /// Share of answers a cache layer gave.
    cache_hit_ratio: f64,
    /// The server's own time for a cached answer, p99 (µs).
    cached_server_p99_us: u64,
}

/// The requests a level sends.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    /// Requests per level.
    pub(crate) queries: usize,
    /// Draw from the first N queries by a Zipf law; `None`: each query once.
    pub(crate) distinct: Option<usize>,
    /// The Zipf exponent.
    pub(crate) zipf: f64,
    /// The recall target sent with each search.
    pub(crate) accuracy: f32,
    /// `use`, `bypass` or `only`.
    pub(crate) cache: String,
}

impl Stream {
    /// The query index of each request, drawn up front (a fixed seed: runs compare).
    fn indexes(&self, available: usize) -> Vec<usize> {
        let Some(distinct) = self.distinct.map(|d| d.clamp(1, available)) else {
            return (0..self.queries.min(available)).collect();
        };
        // Inverse-CDF sampling over weights 1/rank^s.
        let weights: Vec<f64> = (1..=distinct).map(|r| 1.0 / (r as f64).powf(self.zipf)).collect();
        let total: f64 = weights.iter().sum();
        let mut cumulative = Vec::with_capacity(distinct);
        let mut sum = 0.0;
        for w in &weights {
            sum += w / total;
            cumulative.push(sum);
        }
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        (0..self.queries)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                cumulative.partition_point(|c| *c < u).min(distinct - 1)
            })
            .collect()
    }
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
    stream: &Stream,
) -> Result<Vec<Level>, String> {
    if !["use", "bypass", "only"].contains(&stream.cache.as_str()) {
        return Err(format!("--cache {}: use, bypass or only", stream.cache));
    }
    let query_vectors = import::read_fvecs(&data.join("query.fvecs"))?;
    let truth = read_ivecs(&data.join("gt.ivecs"))?;
    let order = stream.indexes(query_vectors.len());
    let queries = order.len();
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
        // (round trip, recall hits, the server's time for a cached answer)
        let results: Mutex<Vec<(Duration, usize, Option<u64>)>> = Mutex::new(Vec::with_capacity(queries));
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    // Each client thread keeps its connection, as a pooled client would.
                    let mut connection = remote.connection();
                    loop {
                        let i = {
                            let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                            *n += 1;
                            *n - 1
                        };
                        let Some(&q) = order.get(i) else { break };
                        let body = json!({"vector": query_vectors[q], "k": 10, "accuracy": stream.accuracy,
                            "cache": stream.cache});
                        let sent = Instant::now();
                        match connection.call("POST", &path, Some(&body)) {
                            Ok(found) => {
                                let elapsed = sent.elapsed();
                                let hits = recall_hits(&found, &truth[q]);
                                let cache = &found["performance"]["cache"];
                                let cached =
                                    cache["answered_by"].is_string().then(|| cache["lookup_us"].as_u64().unwrap_or(0));
                                results.lock().unwrap_or_else(|e| e.into_inner()).push((elapsed, hits, cached));
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
            cache_hit_ratio: results.iter().filter(|r| r.2.is_some()).count() as f64 / results.len().max(1) as f64,
            cached_server_p99_us: {
                let mut server: Vec<u64> = results.iter().filter_map(|r| r.2).collect();
                server.sort_unstable();
                server.get((server.len() * 99 / 100).min(server.len().saturating_sub(1))).copied().unwrap_or(0)
            },
        };
        eprintln!(
            "bench: concurrency {:3}  {:8.0} qps  p50 {:6.2} ms  p95 {:6.2} ms  p99 {:6.2} ms  recall@10 {:.4}  cached {:.3} (server p99 {} us)",
            level.concurrency,
            level.qps,
            level.p50_ms,
            level.p95_ms,
            level.p99_ms,
            level.recall10,
            level.cache_hit_ratio,
            level.cached_server_p99_us
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(distinct: Option<usize>) -> Stream {
        Stream { queries: 20_000, distinct, zipf: 1.0, accuracy: 0.95, cache: "use".into() }
    }

    #[test]
    fn a_zipf_stream_repeats_its_head_and_stays_in_range() {
        let order = stream(Some(1_000)).indexes(10_000);
        assert_eq!(order.len(), 20_000);
        assert!(order.iter().all(|&q| q < 1_000));
        let distinct: std::collections::HashSet<usize> = order.iter().copied().collect();
        let repeats = 1.0 - distinct.len() as f64 / order.len() as f64;
        assert!(repeats > 0.9, "{repeats} of the requests repeat an earlier one");
        let head = order.iter().filter(|&&q| q == 0).count();
        assert!(head > order.iter().filter(|&&q| q == 500).count() * 50, "rank 1 is drawn far more than rank 501");
        assert_eq!(stream(None).indexes(10_000), (0..10_000).collect::<Vec<_>>(), "each query once");
    }
}
