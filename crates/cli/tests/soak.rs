//! A soak of the real binary under the workload that once filled VIPER's disk:
//! steady overwrites from a fixed id space, searches and deletes at once, on
//! each engine. It asserts no error answers, files and the log within a bounded
//! multiple of the live data after warm-up, resident memory that stops
//! growing, statistics that agree with the files, and at the end every id's
//! latest acknowledged version through get and search.
//!
//! CI runs it for 30 s per engine on 5,000 ids; `cargo xtask soak --minutes N`
//! runs the full workload (50,000 ids, the default VIPER settings) in release
//! and prints the figures docs/benchmarks.md quotes.

use std::path::Path;
use std::time::Duration;

use proxima_tests::http;
use proxima_tests::server::ServerProcess;
use proxima_tests::soak::{self, COLLECTION, Report, Workload};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_proximadb");
const MIB: u64 = 1 << 20;
/// Each collection's log may hold three 64 MiB segments (docs/operations.md), plus what is unflushed.
const WAL_BOUND: u64 = 4 * 64 * MIB;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// The CI workload, or the full one when `PROXIMA_SOAK_FULL=1` (as `cargo xtask soak` sets).
fn workload(engine: &str) -> (Workload, u64) {
    let seconds = env_u64("PROXIMA_SOAK_SECONDS").unwrap_or(30);
    let mut workload = Workload::overwrites(engine, Duration::from_secs(seconds));
    let full = std::env::var("PROXIMA_SOAK_FULL").is_ok_and(|v| v == "1");
    let interval_seconds = if full { 15 } else { 5 };
    if !full {
        // The same ratios at a tenth of the size: VIPER flushes twice the id
        // space, as its default of 100,000 rows is twice 50,000.
        workload.ids = 5_000;
        workload.sample_every = Duration::from_secs(2);
    }
    (workload, interval_seconds)
}

fn start(dir: &Path, workload: &Workload, interval_seconds: u64) -> ServerProcess {
    let viper_root = if workload.ids < 50_000 {
        format!("{}/viper?flush_rows={}", dir.display(), workload.ids * 2)
    } else {
        format!("{}/viper", dir.display())
    };
    let config = format!(
        "[storage]\nengines = [\"viper\", \"lsm\", \"mmap\"]\n[storage.roots]\nviper = \"{viper_root}\"\n\
         [maintenance]\ninterval_seconds = {interval_seconds}\n"
    );
    let file = dir.join("proximadb.toml");
    std::fs::write(&file, config).unwrap();
    ServerProcess::start(BIN, dir, &["--config", file.to_str().unwrap()], &[])
}

fn print(workload: &Workload, report: &Report, compacted: u64) {
    eprintln!(
        "soak {}: {} ids, {:.0} s: {:.0} upserted records/s, {:.0} searches/s, {} deletes; live data compacted {:.1} MiB",
        workload.engine,
        workload.ids,
        workload.duration.as_secs_f64(),
        report.upserts_per_sec(workload),
        report.searches_per_sec(workload),
        report.deleted,
        compacted as f64 / MIB as f64
    );
    eprintln!("  at_s  files_MiB  wal_MiB  rss_MiB  live  dead  segments");
    for s in &report.samples {
        eprintln!(
            "  {:>4.0}  {:>9.1}  {:>7.1}  {:>7.1}  {:>4}  {:>4}  {:>8}",
            s.at_secs,
            s.file_bytes as f64 / MIB as f64,
            s.wal_bytes as f64 / MIB as f64,
            s.rss_bytes as f64 / MIB as f64,
            s.live_records,
            s.dead_rows,
            s.segments
        );
    }
}

/// VIPER's manifest: its version and the rows its segments hold.
fn viper_manifest_rows(dir: &Path) -> (u64, u64) {
    let bytes = std::fs::read(dir.join("viper").join(COLLECTION).join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let rows = manifest["segments"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    (manifest["version"].as_u64().unwrap(), rows)
}

/// The rows VIPER's statistics count against its manifest's. While a
/// compaction is being written (the maintenance task may start one), the
/// statistics count its merged segment and the manifest still names the files
/// it replaces: the two must agree once it is installed, within 30 s.
fn viper_rows_and_manifest(addr: &str, dir: &Path) -> (u64, u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let before = viper_manifest_rows(dir);
        let stats = soak::stats(addr);
        let stored: u64 =
            ["live_records", "soft_deleted_records", "dead_rows"].iter().map(|f| stats[f].as_u64().unwrap()).sum();
        let after = viper_manifest_rows(dir);
        if (after == before && stored == before.1) || std::time::Instant::now() > deadline {
            return (stored, after.1);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn soak(engine: &str) {
    let (workload, interval_seconds) = workload(engine);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &workload, interval_seconds);
    let addr = server.addr.clone();
    soak::create(&addr, &workload);
    let report = soak::run(&addr, server.pid(), dir.path(), &workload);
    assert!(
        report.errors.is_empty(),
        "{} error answers, the first: {:?}",
        report.errors.len(),
        &report.errors[..3.min(report.errors.len())]
    );
    assert!(report.upserted > 0 && report.searches > 0, "the workload ran: {report:?}");

    // Statistics against the files once the write buffer is flushed.
    assert_eq!(http::json(&addr, "POST", &format!("/v1/collections/{COLLECTION}/flush"), None).status, 204);
    let stats = soak::stats(&addr);
    assert_eq!(stats["live_records"].as_u64(), Some(report.live()), "live records against the writers' model: {stats}");
    if engine == "viper" {
        let (stored, in_files) = viper_rows_and_manifest(&addr, dir.path());
        assert_eq!(stored, in_files, "rows in the statistics against the manifest's");
    }
    let problems = soak::verify(&addr, &report);
    assert!(
        problems.is_empty(),
        "{} records wrong, the first: {:?}",
        problems.len(),
        &problems[..3.min(problems.len())]
    );

    // The live data at its compacted size: what the files are bounded by.
    let all = json!({"min_dead_ratio": 0.0, "small_segment_rows": u32::MAX});
    let r = http::json(&addr, "POST", &format!("/v1/collections/{COLLECTION}/compact"), Some(&all));
    assert_eq!(r.status, 200, "{}", r.body);
    let (compacted, _) = soak::collection_bytes(dir.path(), engine);
    print(&workload, &report, compacted);

    let warm = (2 * interval_seconds) as f64;
    for s in report.samples.iter().filter(|s| s.at_secs >= warm) {
        assert!(
            s.file_bytes <= 3 * compacted + MIB,
            "{engine} at {:.0} s: {} bytes of files for {compacted} bytes of live data",
            s.at_secs,
            s.file_bytes
        );
    }
    for s in &report.samples {
        assert!(s.wal_bytes <= WAL_BOUND, "{engine} at {:.0} s: the log holds {} bytes", s.at_secs, s.wal_bytes);
    }
    let (first, second) = report.samples.split_at(report.samples.len() / 2);
    let peak = |samples: &[soak::Sample]| samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0);
    assert!(
        peak(second) <= peak(first) * 3 / 2 + 64 * MIB,
        "{engine}: resident memory still growing: {} then {} bytes",
        peak(first),
        peak(second)
    );
    assert!(server.terminate(), "SIGTERM ends the server cleanly");
}

#[test]
fn soak_viper() {
    soak("viper");
}

#[test]
fn soak_lsm() {
    soak("lsm");
}

#[test]
fn soak_mmap() {
    soak("mmap");
}
