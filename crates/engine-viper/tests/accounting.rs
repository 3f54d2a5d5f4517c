//! VIPER's statistics describe its files: after overwrites spread across many
//! flushes, with read views taken between writes (as searchers do) and a memory
//! budget that evicts decoded segments, the rows the statistics count are the
//! rows the manifest's files hold, the files stay within a bounded multiple of
//! the live rows, and compaction removes exactly the dead rows it counted.

use std::collections::HashMap;
use std::path::Path;

use proxima_core::{CollectionConfig, DistanceMetric, VectorRecord};
use proxima_engine::{CompactionPolicy, VectorStorage, WriteBatch, WriteOp};
use proxima_engine_viper::{ViperConfig, ViperEngine};

const IDS: u64 = 500;
const COMPACT_ALL: CompactionPolicy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: usize::MAX };

/// The manifest's segments as (rows, bytes, file name).
fn manifest_segments(dir: &Path) -> Vec<(u64, u64, String)> {
    let bytes = std::fs::read(dir.join("c/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["rows"].as_u64().unwrap(), s["bytes"].as_u64().unwrap(), s["file"].as_str().unwrap().to_string()))
        .collect()
}

fn parquet_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir.join("c"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".parquet"))
        .collect();
    files.sort();
    files
}

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Checks the statistics against the manifest once everything is flushed.
async fn assert_stats_match_files(engine: &ViperEngine, dir: &Path, when: &str) -> u64 {
    let stats = engine.stats("c").await.unwrap();
    let segments = manifest_segments(dir);
    let file_rows: u64 = segments.iter().map(|s| s.0).sum();
    let stored = stats.live_records + stats.soft_deleted_records + stats.dead_rows;
    assert_eq!(stored, file_rows, "{when}: statistics count {stored} rows, the manifest's files hold {file_rows}");
    assert_eq!(stats.segments, segments.len() as u64, "{when}: segments against the manifest");
    assert_eq!(stats.bytes, segments.iter().map(|s| s.1).sum::<u64>(), "{when}: bytes against the manifest");
    let mut named: Vec<String> = segments.into_iter().map(|s| s.2).collect();
    named.sort();
    assert_eq!(parquet_files(dir), named, "{when}: the directory holds exactly the manifest's files");
    file_rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_match_the_manifest_after_overwrites_views_and_evictions() {
    let dir = tempfile::tempdir().unwrap();
    // Small flushes, and a budget of a few segments' vectors: evictions all along.
    let config = ViperConfig { flush_rows: 3_000, resident_budget_bytes: 16 << 10, ..ViperConfig::local(dir.path()) };
    let engine = ViperEngine::open(config, None).await.unwrap();
    engine.create_collection(&CollectionConfig::new("c", 4).with_metric(DistanceMetric::Euclidean)).await.unwrap();
    let mut latest: HashMap<String, Vec<f32>> = HashMap::new();
    let mut random = Lcg(7);
    for round in 0..240u32 {
        let records: Vec<VectorRecord> = (0..50)
            .map(|_| {
                let id = format!("id-{}", random.below(IDS));
                VectorRecord::new(id, vec![round as f32, random.below(1000) as f32, 1.0, 2.0])
            })
            .collect();
        for r in &records {
            latest.insert(r.id.clone(), r.vector.clone());
        }
        // Searchers' views between writes: each seals the write buffer.
        for part in records.chunks(10) {
            engine.write("c", WriteBatch::from(part.to_vec())).await.unwrap();
            drop(engine.read_view("c").await.unwrap());
        }
        if round % 7 == 0 {
            let id = format!("id-{}", random.below(IDS));
            if latest.remove(&id).is_some() {
                engine.write("c", WriteBatch { ops: vec![WriteOp::Delete { id }] }).await.unwrap();
            }
        }
        if round % 40 == 39 {
            engine.flush("c").await.unwrap();
            let file_rows = assert_stats_match_files(&engine, dir.path(), &format!("round {round}")).await;
            let live = latest.len() as u64;
            assert!(file_rows < 2 * live, "round {round}: {file_rows} rows in files for {live} live records");
        }
    }
    engine.flush("c").await.unwrap();
    let stats = engine.stats("c").await.unwrap();
    assert_eq!(stats.live_records, latest.len() as u64);
    let report = engine.compact("c", &COMPACT_ALL).await.unwrap();
    assert_eq!(report.rows_removed, stats.dead_rows, "compaction removes the dead rows the statistics counted");
    let file_rows = assert_stats_match_files(&engine, dir.path(), "after compaction").await;
    assert_eq!(file_rows, latest.len() as u64, "after compaction the files hold only live rows");
    for i in 0..IDS {
        let id = format!("id-{i}");
        let got = engine.get("c", std::slice::from_ref(&id)).await.unwrap().pop().flatten();
        assert_eq!(got.map(|r| r.record.vector), latest.get(&id).cloned(), "{id}");
    }
}
