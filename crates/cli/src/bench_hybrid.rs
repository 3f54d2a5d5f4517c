//! `proximadb bench-hybrid`: hybrid queries over HTTP on GloVe-50 with a
//! relation graph built from it and users with learned policies; p50/p99 per
//! strategy at concurrency 1, round trip and the server's own time.
//!
//! The first `items` base vectors are loaded (genre `g0`..`g19` by row), each
//! linked by `SIMILAR_TO` to its 10 exact nearest neighbours among them
//! (weight = cosine similarity, floored at 0.01) and by `RANDOM` to two random
//! items (weight 0.2). Each of `users` users states a preference for one genre
//! and likes 10 random items. Queries use the dataset's query vectors, a
//! random start item and a random user.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::import::{self, Row};
use crate::remote::Remote;

const GENRES: usize = 20;

/// What one strategy measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StrategyFigures {
    strategy: String,
    queries: usize,
    p50_ms: f64,
    p99_ms: f64,
    /// The server's time (`took_ms`), p50 and p99.
    server_p50_ms: f64,
    server_p99_ms: f64,
}

/// What to load and how much to send.
pub(crate) struct Setup {
    pub(crate) items: usize,
    pub(crate) users: usize,
    pub(crate) queries: usize,
}

/// A small deterministic generator (xorshift64), so runs compare.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

pub(crate) fn run(
    remote: &Remote,
    data: &Path,
    collection: &str,
    setup: &Setup,
) -> Result<Vec<StrategyFigures>, String> {
    let mut base = import::read_fvecs(&data.join("base.fvecs"))?;
    base.truncate(setup.items);
    let queries = import::read_fvecs(&data.join("query.fvecs"))?;
    if base.len() < 100 || queries.is_empty() {
        return Err("the dataset needs at least 100 base vectors and one query".into());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    if !remote.has_collection(collection)? {
        load(remote, collection, &base, setup.users, &mut rng)?;
    }
    let n = base.len();
    let mut figures = Vec::new();
    let mut parallel_bodies = Vec::new();
    for strategy in ["vector_only", "hybrid_sequential", "hybrid_parallel", "graph_only", "cached_only"] {
        let mut bodies = Vec::with_capacity(setup.queries);
        for i in 0..setup.queries {
            let vector = &queries[i % queries.len()];
            let start = format!("{}", rng.below(n));
            let user = format!("u{}", rng.below(setup.users));
            bodies.push(match strategy {
                "vector_only" => json!({"strategy": strategy, "vector": vector, "k": 10}),
                "hybrid_sequential" => json!({"strategy": strategy, "vector": vector, "user": user, "k": 10}),
                "hybrid_parallel" => json!({"strategy": strategy, "vector": vector, "start_ids": [start], "user": user,
                    "k": 10, "depth": 2}),
                "graph_only" => json!({"strategy": strategy, "start_ids": [start], "user": user, "k": 10, "depth": 2}),
                _ => {
                    let mut body: Value = parallel_bodies.get(i).cloned().unwrap_or_default();
                    body["strategy"] = json!("cached_only");
                    body
                }
            });
        }
        if strategy == "hybrid_parallel" {
            parallel_bodies = bodies.clone();
        }
        figures.push(measure(remote, collection, strategy, &bodies)?);
    }
    Ok(figures)
}

fn load(remote: &Remote, collection: &str, base: &[Vec<f32>], users: usize, rng: &mut Rng) -> Result<(), String> {
    let dimension = base[0].len();
    let config = json!({"name": collection, "dimension": dimension, "metric": "cosine",
        "index": {"type": "hnsw", "m": 16, "ef_construction": 200},
        "fields": [{"name": "genre", "type": "string"}]});
    remote.call("POST", "/v1/collections", Some(&config))?;
    let rows: Vec<Row> = base
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), v.clone(), json!({"genre": format!("g{}", i % GENRES)})))
        .collect();
    eprintln!("bench-hybrid: loading {} items", rows.len());
    import::import(remote, collection, &rows, "cosine", 1_000)?;
    remote.call("POST", &format!("/v1/collections/{collection}/flush"), None)?;
    eprintln!("bench-hybrid: exact 10 nearest neighbours of every item");
    let neighbours = exact_neighbours(base, 10);
    let mut edges = Vec::with_capacity(base.len() * 12);
    for (i, near) in neighbours.iter().enumerate() {
        for &(j, similarity) in near {
            edges.push(json!({"from": i.to_string(), "to": j.to_string(), "type": "SIMILAR_TO",
                "weight": similarity.clamp(0.01, 1.0)}));
        }
        for _ in 0..2 {
            let j = rng.below(base.len());
            if j != i {
                edges.push(json!({"from": i.to_string(), "to": j.to_string(), "type": "RANDOM", "weight": 0.2}));
            }
        }
    }
    let numbered: Vec<(usize, Value)> = edges.into_iter().enumerate().collect();
    eprintln!("bench-hybrid: {} edges", numbered.len());
    crate::relations::import(remote, collection, &numbered, 5_000)?;
    eprintln!("bench-hybrid: {users} users with policies and likes");
    for u in 0..users {
        let policy = json!({"preferences": [{"field": "genre", "value": format!("g{}", u % GENRES), "boost": 0.3}]});
        remote.call("PUT", &format!("/v1/users/u{u}/policy"), Some(&policy))?;
        let likes: Vec<Value> =
            (0..10).map(|_| json!({"id": rng.below(base.len()).to_string(), "event": "like"})).collect();
        remote.call(
            "POST",
            &format!("/v1/users/u{u}/events"),
            Some(&json!({"collection": collection, "events": likes})),
        )?;
    }
    Ok(())
}

/// Each item's `k` most similar other items by cosine, exactly (two threads).
fn exact_neighbours(base: &[Vec<f32>], k: usize) -> Vec<Vec<(usize, f32)>> {
    let unit: Vec<Vec<f32>> = base
        .iter()
        .map(|v| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            v.iter().map(|x| x / norm).collect()
        })
        .collect();
    let half = unit.len() / 2;
    let rows = |range: std::ops::Range<usize>| -> Vec<Vec<(usize, f32)>> {
        range
            .map(|i| {
                let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
                for (j, other) in unit.iter().enumerate() {
                    if i == j {
                        continue;
                    }
                    let s: f32 = unit[i].iter().zip(other).map(|(a, b)| a * b).sum();
                    if best.len() < k || s > best[k - 1].1 {
                        let at = best.partition_point(|b| b.1 >= s);
                        best.insert(at, (j, s));
                        best.truncate(k);
                    }
                }
                best
            })
            .collect()
    };
    std::thread::scope(|s| {
        let first = s.spawn(|| rows(0..half));
        let second = rows(half..unit.len());
        let mut all = first.join().unwrap_or_default();
        all.extend(second);
        all
    })
}

fn measure(remote: &Remote, collection: &str, strategy: &str, bodies: &[Value]) -> Result<StrategyFigures, String> {
    let path = format!("/v1/collections/{collection}/query");
    let mut connection = remote.connection();
    let (mut round, mut server) = (Vec::with_capacity(bodies.len()), Vec::with_capacity(bodies.len()));
    for body in bodies {
        let sent = Instant::now();
        let answer = connection.call("POST", &path, Some(body))?;
        round.push(sent.elapsed());
        if answer["cache_miss"] == true {
            return Err(format!("{strategy}: the cache had no answer for {body}"));
        }
        if answer["strategy"] != strategy {
            return Err(format!("asked for {strategy}, answered by {}: {}", answer["strategy"], answer["reason"]));
        }
        server.push(Duration::from_secs_f64(answer["took_ms"].as_f64().unwrap_or(0.0) / 1e3));
    }
    round.sort();
    server.sort();
    let ms = |sorted: &[Duration], q: f64| {
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e3
    };
    let figures = StrategyFigures {
        strategy: strategy.to_string(),
        queries: bodies.len(),
        p50_ms: ms(&round, 0.5),
        p99_ms: ms(&round, 0.99),
        server_p50_ms: ms(&server, 0.5),
        server_p99_ms: ms(&server, 0.99),
    };
    eprintln!(
        "bench-hybrid: {:18} p50 {:7.3} ms  p99 {:7.3} ms  (server p50 {:7.3} ms  p99 {:7.3} ms)",
        figures.strategy, figures.p50_ms, figures.p99_ms, figures.server_p50_ms, figures.server_p99_ms
    );
    Ok(figures)
}
