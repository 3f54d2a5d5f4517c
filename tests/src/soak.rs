//! The mixed workload of a collection whose documents change, against a real
//! `proximadb` over HTTP: writers overwrite records drawn from a fixed id
//! space, searchers query (half of them filtered), records are deleted all
//! along. Sampled for the collection's files, its log, the server's resident
//! memory and its statistics; checked record by record at the end.
//!
//! Each writer owns the ids congruent to its number, and deletes only those,
//! so every id's writes are ordered by one thread and its latest acknowledged
//! version is known exactly.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http;

/// The collection the workload creates.
pub const COLLECTION: &str = "soak";

/// The shape of a soak run.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The engine the collection is created on.
    pub engine: String,
    /// Ids are drawn from `0..ids`: the live set never exceeds it.
    pub ids: u64,
    /// Vector dimension.
    pub dimension: usize,
    /// Upserting threads, each with its own share of the ids.
    pub writers: u64,
    /// Records per upsert.
    pub batch: usize,
    /// Searching threads.
    pub searchers: usize,
    /// Each writer deletes one of its ids this often.
    pub delete_every: Duration,
    /// How long the mixed workload runs.
    pub duration: Duration,
    /// How often the files, memory and statistics are sampled.
    pub sample_every: Duration,
}

impl Workload {
    /// The workload of the issue that found VIPER's unbounded growth: 32-d,
    /// 50,000 ids, four writers of 200-record batches, four searchers.
    pub fn overwrites(engine: &str, duration: Duration) -> Self {
        Self {
            engine: engine.to_string(),
            ids: 50_000,
            dimension: 32,
            writers: 4,
            batch: 200,
            searchers: 4,
            delete_every: Duration::from_millis(10),
            duration,
            sample_every: Duration::from_secs(5),
        }
    }
}

/// One sample taken while the workload runs.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the workload started.
    pub at_secs: f64,
    /// Bytes of the collection's files, its log excluded.
    pub file_bytes: u64,
    /// Bytes of the collection's write-ahead log.
    pub wal_bytes: u64,
    /// The server's resident memory.
    pub rss_bytes: u64,
    /// `live_records` as the server reports it.
    pub live_records: u64,
    /// `dead_rows` as the server reports it.
    pub dead_rows: u64,
    /// `segments` as the server reports it.
    pub segments: u64,
}

/// What a run did and saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Samples, in order.
    pub samples: Vec<Sample>,
    /// Acknowledged upserted records.
    pub upserted: u64,
    /// Answered searches.
    pub searches: u64,
    /// Acknowledged deletes.
    pub deleted: u64,
    /// Every answer that was not the expected one.
    pub errors: Vec<String>,
    /// The latest acknowledged version of each id (`None`: deleted or never written).
    pub latest: Vec<Option<Version>>,
}

/// A record's acknowledged version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// The `v` metadata field: unique per write.
    pub v: u64,
    /// Its vector.
    pub vector: Vec<f32>,
}

impl Report {
    /// Ids whose latest acknowledged write is an upsert.
    pub fn live(&self) -> u64 {
        self.latest.iter().filter(|v| v.is_some()).count() as u64
    }

    /// Upserted records per second.
    pub fn upserts_per_sec(&self, workload: &Workload) -> f64 {
        self.upserted as f64 / workload.duration.as_secs_f64()
    }

    /// Searches per second.
    pub fn searches_per_sec(&self, workload: &Workload) -> f64 {
        self.searches as f64 / workload.duration.as_secs_f64()
    }
}

/// A small deterministic generator per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| (self.below(2_000) as f32 - 1_000.0) / 1_000.0 + 0.001).collect()
    }
}

fn path(rest: &str) -> String {
    format!("/v1/collections/{COLLECTION}{rest}")
}

/// Creates the collection: cosine, one declared int field `k` (what the
/// filtered searches test), the rest of the config from the engine's defaults.
pub fn create(addr: &str, workload: &Workload) {
    let config = json!({"name": COLLECTION, "dimension": workload.dimension, "metric": "cosine",
        "fields": [{"name": "k", "type": "int"}], "engine": workload.engine});
    let r = http::json(addr, "POST", "/v1/collections", Some(&config));
    assert_eq!(r.status, 201, "create {COLLECTION}: {}", r.body);
}

/// What the workload's threads share: the stop flag, the error answers, the counters.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    errors: Mutex<Vec<String>>,
    upserted: AtomicU64,
    deleted: AtomicU64,
    searches: AtomicU64,
    /// The next `v`: unique per written record.
    version: AtomicU64,
}

impl Shared {
    fn error(&self, what: String) {
        self.errors.lock().unwrap().push(what);
    }
}

/// Runs the workload for its duration, sampling `data_dir` (the server's) and
/// the process `pid`.
pub fn run(addr: &str, pid: u32, data_dir: &Path, workload: &Workload) -> Report {
    let shared = Arc::new(Shared::default());
    let writers: Vec<_> = (0..workload.writers)
        .map(|w| {
            let (addr, workload, shared) = (addr.to_string(), workload.clone(), Arc::clone(&shared));
            std::thread::spawn(move || write_loop(&addr, w, &workload, &shared))
        })
        .collect();
    let searchers: Vec<_> = (0..workload.searchers)
        .map(|s| {
            let (addr, workload, shared) = (addr.to_string(), workload.clone(), Arc::clone(&shared));
            std::thread::spawn(move || search_loop(&addr, s, &workload, &shared))
        })
        .collect();
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < workload.duration {
        std::thread::sleep(workload.sample_every.min(workload.duration.saturating_sub(started.elapsed())));
        samples.push(sample(addr, pid, data_dir, workload, started));
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut latest: Vec<Option<Version>> = vec![None; workload.ids as usize];
    for h in writers {
        for (id, v) in h.join().expect("writer thread") {
            latest[id as usize] = v;
        }
    }
    searchers.into_iter().for_each(|h| h.join().expect("search thread"));
    Report {
        samples,
        upserted: shared.upserted.load(Ordering::Relaxed),
        searches: shared.searches.load(Ordering::Relaxed),
        deleted: shared.deleted.load(Ordering::Relaxed),
        errors: std::mem::take(&mut *shared.errors.lock().unwrap()),
        latest,
    }
}

/// One writer: upserts batches of its own ids, deleting one now and then;
/// returns the latest acknowledged version of each id it wrote.
fn write_loop(addr: &str, w: u64, workload: &Workload, shared: &Shared) -> Vec<(u64, Option<Version>)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
    let owned = (workload.ids - w).div_ceil(workload.writers);
    let mut latest = std::collections::HashMap::new();
    let mut last_delete = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut batch = Vec::with_capacity(workload.batch);
        let mut records = Vec::with_capacity(workload.batch);
        for _ in 0..workload.batch {
            let id = rng.below(owned) * workload.writers + w;
            let v = shared.version.fetch_add(1, Ordering::Relaxed);
            let vector = rng.vector(workload.dimension);
            records.push(json!({"id": id.to_string(), "vector": vector, "metadata": {"k": id % 100, "v": v}}));
            batch.push((id, Version { v, vector }));
        }
        let r = http::send_json(addr, "POST", &path("/vectors"), Some(&json!({"vectors": records})), None);
        match r {
            Ok(r) if r.status == 200 => {
                shared.upserted.fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (id, v) in batch {
                    latest.insert(id, Some(v));
                }
            }
            // An upsert that was not answered may or may not have been applied:
            // its ids' latest version is unknown, which the final check cannot allow.
            Ok(r) => shared.error(format!("upsert: {} {}", r.status, r.body)),
            Err(e) => shared.error(format!("upsert: {e}")),
        }
        if last_delete.elapsed() >= workload.delete_every {
            last_delete = Instant::now();
            let id = rng.below(owned) * workload.writers + w;
            match http::send_json(addr, "DELETE", &path(&format!("/vectors/{id}")), None, None) {
                Ok(r) if r.status == 200 || r.status == 404 => {
                    shared.deleted.fetch_add(u64::from(r.status == 200), Ordering::Relaxed);
                    latest.insert(id, None);
                }
                Ok(r) => shared.error(format!("delete: {} {}", r.status, r.body)),
                Err(e) => shared.error(format!("delete: {e}")),
            }
        }
    }
    latest.into_iter().collect()
}

/// One searcher: k = 10, every other query filtered on `k`; an answer must
/// be 200 with no id twice.
fn search_loop(addr: &str, s: usize, workload: &Workload, shared: &Shared) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (s as u64 + 1));
    let mut filtered = s.is_multiple_of(2);
    while !shared.stop.load(Ordering::Relaxed) {
        let mut query = json!({"vector": rng.vector(workload.dimension), "k": 10, "include_metadata": true});
        if filtered {
            query["filter"] = json!({"eq": {"field": "k", "value": rng.below(100)}});
        }
        filtered = !filtered;
        match http::send_json(addr, "POST", &path("/search"), Some(&query), None) {
            Ok(r) if r.status == 200 => {
                shared.searches.fetch_add(1, Ordering::Relaxed);
                if let Some(problem) = duplicate_hit(&r.json()) {
                    shared.error(problem);
                }
            }
            Ok(r) => shared.error(format!("search: {} {}", r.status, r.body)),
            Err(e) => shared.error(format!("search: {e}")),
        }
    }
}

fn hits(answer: &Value) -> &[Value] {
    answer["hits"].as_array().map_or(&[], Vec::as_slice)
}

fn duplicate_hit(answer: &Value) -> Option<String> {
    let mut seen = HashSet::new();
    hits(answer).iter().find_map(|h| {
        let id = h["id"].as_str().unwrap_or("");
        (!seen.insert(id.to_string())).then(|| format!("search answered `{id}` twice: {answer}"))
    })
}

/// The collection's statistics as the server reports them.
pub fn stats(addr: &str) -> Value {
    let r = http::json(addr, "GET", &path(""), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["stats"].clone()
}

fn sample(addr: &str, pid: u32, data_dir: &Path, workload: &Workload, started: Instant) -> Sample {
    let (file_bytes, wal_bytes) = collection_bytes(data_dir, &workload.engine);
    let stats = stats(addr);
    let field = |name: &str| stats[name].as_u64().unwrap_or(0);
    Sample {
        at_secs: started.elapsed().as_secs_f64(),
        file_bytes,
        wal_bytes,
        rss_bytes: resident_bytes(pid),
        live_records: field("live_records"),
        dead_rows: field("dead_rows"),
        segments: field("segments"),
    }
}

/// Bytes of the collection's files and of its write-ahead log, under the
/// server's `data_dir/<engine>/` (VIPER keeps logs in `_wal/<collection>`,
/// LSM and mmap in `<collection>/wal`).
pub fn collection_bytes(data_dir: &Path, engine: &str) -> (u64, u64) {
    let root = data_dir.join(engine);
    let files = dir_bytes(&root.join(COLLECTION), &|p: &Path| p.file_name().is_some_and(|n| n == "wal"));
    let wal = dir_bytes(&root.join(COLLECTION).join("wal"), &|_: &Path| false)
        + dir_bytes(&root.join("_wal").join(COLLECTION), &|_: &Path| false);
    (files, wal)
}

fn dir_bytes(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            match e.metadata() {
                _ if skip(&path) => 0,
                Ok(m) if m.is_dir() => dir_bytes(&path, skip),
                Ok(m) => m.len(),
                Err(_) => 0, // removed while we walked
            }
        })
        .sum()
}

/// `VmRSS` of a process, in bytes.
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Checks every id against its latest acknowledged version through `get`, and
/// a sample of live ids through search (their own vector, at accuracy 1.0):
/// the record comes back at its latest version, and no answer holds a stale
/// version, a deleted id or an id twice. Returns the problems found.
pub fn verify(addr: &str, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let version_of = |hit: &Value| hit["metadata"]["v"].as_u64();
    for (id, latest) in report.latest.iter().enumerate() {
        let r = http::json(addr, "GET", &path(&format!("/vectors/{id}")), None);
        match (latest, r.status) {
            (Some(want), 200) if version_of(&r.json()["record"]) == Some(want.v) => {}
            (None, 404) => {}
            (want, status) => {
                problems.push(format!("get {id}: want {:?}, got {status} {}", want.as_ref().map(|w| w.v), r.body))
            }
        }
    }
    let live: Vec<(usize, &Version)> =
        report.latest.iter().enumerate().filter_map(|(id, v)| Some((id, v.as_ref()?))).collect();
    for (id, want) in live.iter().step_by((live.len() / 200).max(1)) {
        let query = json!({"vector": want.vector, "k": 10, "accuracy": 1.0, "include_metadata": true});
        let r = http::json(addr, "POST", &path("/search"), Some(&query));
        if r.status != 200 {
            problems.push(format!("search for {id}: {} {}", r.status, r.body));
            continue;
        }
        let answer = r.json();
        problems.extend(duplicate_hit(&answer));
        let top = hits(&answer).first();
        if top.and_then(|h| h["id"].as_str()) != Some(&id.to_string()) || top.and_then(version_of) != Some(want.v) {
            problems.push(format!("search for {id} at version {}: {answer}", want.v));
        }
        for hit in hits(&answer) {
            let hit_id: usize = hit["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
            let current = report.latest.get(hit_id).and_then(Option::as_ref).map(|v| v.v);
            if current.is_none() || current != version_of(hit) {
                problems.push(format!("search for {id} answered {hit} (latest: {current:?})"));
            }
        }
    }
    problems
}
