//! The ANN benchmark: `cargo xtask bench ann --data DIR [--filtered] --out FILE.json`.
//!
//! Reads `base.fvecs`, `query.fvecs` and `gt.ivecs` (TEXMEX) from DIR, builds
//! HNSW (m 16, ef_construction 200) with 1 and with 2 threads, and sweeps ef
//! with one query thread, k = 10, the way `../shared/bench/peers.sh` drives
//! hnswlib, FAISS and usearch: a warm-up pass over 1,000 queries, then three
//! timed passes over all of them, the median reported. `--filtered` adds a tag
//! carried by 10% of the base rows, computes the exact filtered ground truth and
//! sweeps again with the filter evaluated on each row's metadata; then runs
//! filters of every selectivity through the search handler with payload
//! indexes (`filtered.rs`); `--payload-filters-only` runs just those, on a
//! graph loaded with `--graph`; `--walks-only` just the unfiltered sweeps on
//! codes and on rows; `--build-threads N` times only that build; `--queries N`
//! keeps the first N queries. Every run also times batched exact search
//! (`flat_search_batch`) over all the queries in one call, with one and with
//! two threads, as FAISS's `IndexFlatIP` is timed batched; `--batch-only`
//! runs just that.

mod filtered;
mod walks;

// The server's allocator: searches through the handler allocate per query.
#[global_allocator]
static ALLOCATOR: proxima_alloc::Allocator = proxima_alloc::Allocator;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use proxima_core::{DistanceMetric, Filter, Metadata};
use proxima_index::{
    BatchQueries, Distance, Hnsw, HnswParams, Neighbor, TopK, flat_search, flat_search_batch, flat_search_rows,
};
use serde_json::{Value, json};

pub(crate) const EFS: [usize; 7] = [10, 20, 40, 80, 120, 200, 400];
pub(crate) const K: usize = 10;

struct Args {
    data: PathBuf,
    out: PathBuf,
    filtered: bool,
    /// Only the payload-index filters (`filtered.rs`), on a graph loaded with `--graph`.
    payload_only: bool,
    /// Only batched exact search (no graph).
    batch_only: bool,
    /// Only the unfiltered sweeps, on codes and on rows (quick side-by-side runs).
    walks_only: bool,
    /// Time only builds with this many threads (default: 1 and 2).
    build_threads: Option<usize>,
    /// Use only the first N queries (default: all).
    queries: Option<usize>,
    /// While iterating: load the graph from this file if present (no build
    /// timings then), else build as usual and save it there.
    graph: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut data, mut out, mut filtered, mut graph, mut payload_only, mut batch_only, mut walks_only) =
        (None, None, false, None, false, false, false);
    let (mut build_threads, mut queries) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "--filtered" => filtered = true,
            "--payload-filters-only" => payload_only = true,
            "--batch-only" => batch_only = true,
            "--walks-only" => walks_only = true,
            "--build-threads" => build_threads = args.next().and_then(|n| n.parse().ok()),
            "--queries" => queries = args.next().and_then(|n| n.parse().ok()),
            "--graph" => graph = args.next().map(PathBuf::from),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let usage = "usage: ann --data DIR [--filtered] [--graph FILE [--payload-filters-only | --walks-only]] \
                 [--batch-only] [--build-threads N] [--queries N] --out FILE.json";
    Ok(Args {
        data: data.ok_or(usage)?,
        out: out.ok_or(usage)?,
        filtered,
        graph,
        payload_only,
        batch_only,
        walks_only,
        build_threads,
        queries,
    })
}

/// Rows of a TEXMEX `.fvecs`/`.ivecs` file: per row a little-endian i32 length, then the values.
fn read_vecs<T>(path: &Path, decode: fn([u8; 4]) -> T) -> Result<(Vec<T>, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dim = u32::from_le_bytes(bytes.get(..4).ok_or("empty file")?.try_into().expect("4")) as usize;
    let stride = 4 + dim * 4;
    if dim == 0 || bytes.len() % stride != 0 {
        return Err(format!("{}: not a TEXMEX file of dimension {dim}", path.display()));
    }
    let values = bytes
        .chunks_exact(stride)
        .flat_map(|row| row[4..].chunks_exact(4).map(|c| decode(c.try_into().expect("4"))))
        .collect();
    Ok((values, dim))
}

/// Queries per second of `search` over all queries: median of three passes after a warm-up.
fn timed(queries: &[f32], dim: usize, mut search: impl FnMut(&[f32]) -> Vec<u32>) -> (f64, Vec<Vec<u32>>) {
    for q in queries.chunks_exact(dim).take(1_000) {
        std::hint::black_box(search(q));
    }
    let mut walls = Vec::new();
    let mut results = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        results = queries.chunks_exact(dim).map(&mut search).collect();
        walls.push(started.elapsed().as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    ((queries.len() / dim) as f64 / walls[1], results)
}

pub(crate) fn recall(results: &[Vec<u32>], truth: &[Vec<u32>]) -> f64 {
    let hits: usize = results
        .iter()
        .zip(truth)
        .map(|(got, want)| {
            let want: HashSet<u32> = want.iter().take(K).copied().collect();
            got.iter().filter(|r| want.contains(r)).count()
        })
        .sum();
    hits as f64 / (truth.len() * K) as f64
}

/// The deterministic 10% tag: a multiplicative hash of the row number.
fn tagged(row: usize) -> bool {
    (row as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32 & 0xffff < 6_554
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let (base, dim) = read_vecs(&args.data.join("base.fvecs"), f32::from_le_bytes)?;
    let (mut queries, qdim) = read_vecs(&args.data.join("query.fvecs"), f32::from_le_bytes)?;
    if let Some(n) = args.queries {
        queries.truncate(n * qdim);
    }
    let (gt, gt_width) = read_vecs(&args.data.join("gt.ivecs"), |b| i32::from_le_bytes(b) as u32)?;
    if qdim != dim {
        return Err(format!("queries are {qdim}-d, base is {dim}-d"));
    }
    let truth: Vec<Vec<u32>> = gt.chunks_exact(gt_width).take(queries.len() / dim).map(|r| r.to_vec()).collect();
    let rows = base.len() / dim;
    eprintln!("ann: {rows} base rows, {} queries, {dim}-d", queries.len() / dim);
    let metric = DistanceMetric::Cosine;
    let params = HnswParams::new(16, 200);
    if args.batch_only {
        return write(&args.out, &json!({"batch": batched_exact(&base, dim, &queries, &truth)}));
    }

    let mut build_s = serde_json::Map::new();
    let saved = args.graph.as_ref().and_then(|p| std::fs::read(p).ok());
    let mut graph = saved.map(|bytes| Hnsw::from_bytes(&bytes)).transpose().map_err(|e| e.to_string())?;
    let threads_to_time = match (&graph, args.build_threads) {
        (Some(_), _) => vec![],
        (None, Some(n)) => vec![n],
        (None, None) => vec![1, 2],
    };
    for threads in threads_to_time {
        let started = Instant::now();
        let built = Hnsw::build(params, metric, dim, &base, threads).map_err(|e| e.to_string())?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!("ann: built with {threads} thread(s) in {secs:.1} s");
        build_s.insert(threads.to_string(), json!(secs));
        // Queries run on the single-threaded build, as the peers' harness does.
        graph.get_or_insert(built);
    }
    let mut graph = graph.expect("built");
    if graph.codes().is_none() {
        // A graph saved before codes existed: train them now, as a build would.
        graph.quantise(&base).map_err(|e| e.to_string())?;
    }
    if let Some(path) = args.graph.as_ref().filter(|p| !p.exists()) {
        std::fs::write(path, graph.to_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if args.walks_only {
        let mut out = walks::compare(&graph, &base, dim, &queries, &truth);
        out["build_s"] = json!(build_s);
        return write(&args.out, &out);
    }
    if args.payload_only {
        return write(
            &args.out,
            &json!({"payload_filters": filtered::run(&base, dim, &queries, graph.to_bytes(), None)}),
        );
    }
    let graph_bytes = graph.memory_bytes();
    let codes_bytes = graph.codes().map_or(0, |c| c.memory_bytes());
    let vector_bytes = base.len() * 4;
    let mut on_rows = Hnsw::from_bytes(&graph.to_bytes()).map_err(|e| e.to_string())?;
    on_rows.drop_codes();

    let sweep_graph = |graph: &Hnsw,
                       accept: &dyn Fn(u32) -> bool,
                       truth: &[Vec<u32>],
                       selective: bool,
                       efs: &[usize]|
     -> Vec<Value> {
        efs.iter()
            .map(|&ef| {
                let computations = std::cell::Cell::new(0u64);
                let (qps, results) = timed(&queries, dim, |q| {
                    let (found, stats) = if selective {
                        graph.search_selective(&base, q, K, ef, accept)
                    } else {
                        graph.search(&base, q, K, ef, accept)
                    };
                    computations.set(computations.get() + stats.distance_computations);
                    found.iter().map(|n| n.row).collect()
                });
                let r = recall(&results, truth);
                // Four passes ran (the warm-up's 1,000 queries too).
                let per_query = computations.get() as f64 / (3 * truth.len() + 1_000.min(truth.len())) as f64;
                eprintln!("ann: ef {ef:4} recall@10 {r:.4} qps {qps:.0} distances/query {per_query:.0}");
                json!({"ef": ef, "recall10": r, "qps": qps, "distances_per_query": per_query})
            })
            .collect()
    };
    let sweep = |accept: &dyn Fn(u32) -> bool, truth: &[Vec<u32>], selective: bool, efs: &[usize]| {
        sweep_graph(&graph, accept, truth, selective, efs)
    };
    eprintln!("ann: the walk on 8-bit codes, re-ranked on the rows");
    let points = sweep(&|_| true, &truth, false, &EFS);
    eprintln!("ann: the walk on the f32 rows");
    let points_rows = sweep_graph(&on_rows, &|_| true, &truth, false, &EFS);

    let distance = Distance::new(metric);
    let (flat_qps, flat_results) = timed(&queries[..1_000 * dim], dim, |q| {
        flat_search(&distance, &base, dim, q, K, |_| true).iter().map(|n| n.row).collect()
    });
    eprintln!(
        "ann: flat exact, one query at a time: {flat_qps:.0} qps (recall {:.4})",
        recall(&flat_results, &truth[..1_000])
    );

    let batch = batched_exact(&base, dim, &queries, &truth);
    let mut out = json!({
        "engine": "proximadb",
        "version": env!("CARGO_PKG_VERSION"),
        "dataset": args.data.file_name().map(|n| n.to_string_lossy().into_owned()),
        "build_s": build_s,
        "index_bytes": graph_bytes + vector_bytes,
        "index_mb": (graph_bytes + vector_bytes) as f64 / (1 << 20) as f64,
        "graph_bytes": graph_bytes,
        "codes_bytes": codes_bytes,
        "flat_qps": flat_qps,
        "points": points,
        "points_walk_on_rows": points_rows,
        "batch": batch,
    });

    if args.filtered {
        let metadata: Vec<Metadata> = (0..rows)
            .map(|r| {
                let tag = if tagged(r) { "a" } else { "b" };
                json!({"tag": tag}).as_object().expect("object").clone()
            })
            .collect();
        let filter = Filter::eq("tag", "a");
        let matching: Vec<u32> = (0..rows as u32).filter(|&r| filter.matches(&metadata[r as usize])).collect();
        eprintln!("ann: filter matches {} rows ({:.1}%)", matching.len(), 100.0 * matching.len() as f64 / rows as f64);
        let filtered_truth: Vec<Vec<u32>> = queries
            .chunks_exact(dim)
            .map(|q| {
                flat_search_rows(&distance, &base, dim, q, K, matching.iter().copied()).iter().map(|n| n.row).collect()
            })
            .collect();
        let accept = |row: u32| filter.matches(&metadata[row as usize]);
        eprintln!("ann: filtered, beam over every node (search_selective)");
        let selective = sweep(&accept, &filtered_truth, true, &EFS);
        // hnswlib's way, for comparison; its cost grows as 1/selectivity, so only the small beams.
        eprintln!("ann: filtered, beam over matching nodes only (search)");
        let matching_only = sweep(&accept, &filtered_truth, false, &EFS[..3]);
        out["filtered"] = json!({
            "selectivity": matching.len() as f64 / rows as f64,
            "points": selective,
            "points_matching_beam": matching_only,
        });
        let hnsw_build_s = out["build_s"]["2"].as_f64();
        out["payload_filters"] = filtered::run(&base, dim, &queries, graph.to_bytes(), hnsw_build_s);
    }
    write(&args.out, &out)
}

fn write(path: &Path, out: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(out).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("ann: wrote {}", path.display());
    Ok(())
}

/// Every query in one batched exact search, with 1 and 2 threads: median of
/// three passes, and recall@10 against the ground truth.
fn batched_exact(base: &[f32], dim: usize, queries: &[f32], truth: &[Vec<u32>]) -> Value {
    let queries: Vec<Vec<f32>> = queries.chunks_exact(dim).map(<[f32]>::to_vec).collect();
    let k = vec![K; queries.len()];
    let mut out = serde_json::Map::new();
    for threads in [1, 2] {
        let mut walls = Vec::new();
        let mut results = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let batch = BatchQueries { queries: &queries, k: &k };
            let found = flat_search_batch(DistanceMetric::Cosine, base, dim, batch, threads, |_| true);
            walls.push(started.elapsed().as_secs_f64());
            results = found.into_iter().map(|n| n.into_iter().map(|n| n.row).collect()).collect();
        }
        walls.sort_by(f64::total_cmp);
        let qps = queries.len() as f64 / walls[1];
        let r = recall(&results, truth);
        eprintln!("ann: batched exact, {threads} thread(s): {qps:.0} qps (recall@10 {r:.4})");
        out.insert(threads.to_string(), json!({"qps": qps, "recall10": r}));
    }
    // The same blocking without a matrix product: each query of a block is
    // scored against a cache-resident block of rows by the one-query kernel.
    let distance = Distance::new(DistanceMetric::Cosine);
    let started = Instant::now();
    let mut tops: Vec<TopK> = queries.iter().map(|_| TopK::new(K)).collect();
    let mut scores = vec![0.0f32; 1_024];
    for start in (0..base.len() / dim).step_by(1_024) {
        let block = &base[start * dim..(start + 1_024).min(base.len() / dim) * dim];
        let scores = &mut scores[..block.len() / dim];
        for (query, top) in queries.iter().zip(&mut tops) {
            distance.distances(query, block, dim, scores);
            for (i, &d) in scores.iter().enumerate() {
                if d < top.threshold() {
                    top.push(Neighbor { row: (start + i) as u32, distance: d });
                }
            }
        }
    }
    let qps = queries.len() as f64 / started.elapsed().as_secs_f64();
    let results: Vec<Vec<u32>> = tops.into_iter().map(|t| t.into_sorted().iter().map(|n| n.row).collect()).collect();
    let r = recall(&results, truth);
    eprintln!("ann: blocked rows, one-query kernel, 1 thread: {qps:.0} qps (recall@10 {r:.4})");
    out.insert("blocked_one_query_kernel".into(), json!({"qps": qps, "recall10": r}));
    Value::Object(out)
}
