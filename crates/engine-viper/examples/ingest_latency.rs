//! Durable ingest, batch by batch: the latency of every batch of
//! 1,000 50-d vectors (fsync `always`, flushes every `FLUSH_ROWS` rows in the
//! background), as percentiles, with the batches over 5 ms counted apart, and
//! the CPU time the whole process spent per vector. The
//! criterion bench gives the sustained rate; this shows where it goes.
//!
//! `cargo run --release -p proxima-engine-viper --example ingest_latency -- [BATCHES] [FLUSH_ROWS] [DIR] [WRITERS] [zstd|none]`
//!
//! `DIR` may be a root URI instead (`s3://bucket/prefix?endpoint=...&log=object`,
//! with `--features s3`): the same measurement with segments, and the log
//! too, in an object store.
//!
//! One writer by default; with more, each sends its share of the batches
//! concurrently and their fsyncs are shared (group commit). The last argument
//! is the files' `vector_compression` (default `zstd`).

#![allow(clippy::print_stdout, reason = "a report for a person to read")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use proxima_core::{CollectionConfig, DistanceMetric};
use proxima_engine::{VectorStorage, WriteBatch};
use proxima_engine_viper::{VectorCompression, ViperConfig, ViperEngine};

// The same vectors as the criterion bench.
#[path = "../benches/common/mod.rs"]
mod common;
use common::batch;

// The allocator the `proximadb` binary runs on.
#[global_allocator]
static ALLOCATOR: proxima_alloc::Allocator = proxima_alloc::Allocator;

const BATCH: u64 = 1_000;
const DIMENSION: usize = 50;
const SLOW: Duration = Duration::from_millis(5);

fn main() -> proxima_core::Result<()> {
    // As the `proximadb` binary runs.
    proxima_alloc::tune().expect("allocator tuning");
    let mut args = std::env::args().skip(1);
    let batches: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let flush_rows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let place = args.next().unwrap_or_else(|| ".".into());
    let dir = tempfile::tempdir_in(if place.contains("://") { "." } else { &place }).expect("temporary directory");

    let writers: usize = args.next().and_then(|a| a.parse().ok()).filter(|n| *n > 0).unwrap_or(1);
    let vector_compression = match args.next().as_deref() {
        None | Some("zstd") => VectorCompression::Zstd,
        Some("none") => VectorCompression::None,
        Some(other) => return Err(proxima_core::Error::invalid(format!("vector compression `{other}`: zstd or none"))),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let base = match place.contains("://") {
        true => ViperConfig { wal_dir: dir.path().join("wal"), ..ViperConfig::from_uri(&place)? },
        false => ViperConfig::local(dir.path()),
    };
    let config = ViperConfig { flush_rows, vector_compression, ..base };
    let engine = Arc::new(runtime.block_on(ViperEngine::open(config, None))?);
    let collection = CollectionConfig::new("ingest", DIMENSION as u32).with_metric(DistanceMetric::Euclidean);
    runtime.block_on(engine.create_collection(&collection))?;
    // Built up front, so only the writes are timed; writer `w` takes batches
    // `w`, `w + writers`, ...
    let mut plans: Vec<Vec<WriteBatch>> = (0..writers).map(|_| Vec::new()).collect();
    for i in 0..batches {
        plans[i as usize % writers].push(batch(i * BATCH, BATCH, DIMENSION));
    }

    let cpu_before = proxima_core::process::cpu_time();
    let start = Instant::now();
    let mut latencies = runtime.block_on(async {
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let engine = Arc::clone(&engine);
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(plan.len());
                    for b in plan {
                        let t = Instant::now();
                        engine.write("ingest", b).await?;
                        latencies.push(t.elapsed());
                    }
                    Ok::<_, proxima_core::Error>(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("a writer panicked")?);
        }
        Ok::<_, proxima_core::Error>(all)
    })?;
    let wall = start.elapsed();
    let cpu = proxima_core::process::cpu_time().zip(cpu_before).map(|(after, before)| after - before);

    let slow: Vec<Duration> = latencies.iter().copied().filter(|l| *l > SLOW).collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{:.0} vectors/s over {batches} batches from {writers} writer(s)",
        (batches * BATCH) as f64 / wall.as_secs_f64()
    );
    println!(
        "per batch: p50 {:?}, p90 {:?}, p99 {:?}, max {:?} (p50 rate {:.0} vectors/s)",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        BATCH as f64 / at(0.5).as_secs_f64()
    );
    println!("{} batches over {SLOW:?} took {:?} of {wall:?}", slow.len(), slow.iter().sum::<Duration>());
    // Steadier than the rate on a shared machine; it includes the background
    // flushes that ran meanwhile.
    if let Some(cpu) = cpu {
        println!(
            "CPU {:.2} µs per vector ({cpu:?} on all threads)",
            cpu.as_secs_f64() * 1e6 / (batches * BATCH) as f64
        );
    }
    Ok(())
}
