//! The SIGKILL crash test every storage engine runs: a child process writes
//! batches (and flushes and compacts now and then) until it is killed (most
//! times while writing, some while it opens), 50 times over one directory; after each kill the directory must open cleanly and hold
//! every acknowledged batch and nothing but the one in flight.
//!
//! Batch `k` is a pure function of `k` and the state before it, so the parent
//! rebuilds the expected state with the testkit's model. The test re-runs its
//! own binary as the writer; an environment variable picks the role.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use proxima_core::{CollectionConfig, VectorRecord};
use proxima_engine::testkit::{Model, Rng, config, current_rows, random_batch};
use proxima_engine::{CompactionPolicy, VectorStorage, WriteBatch, WriteOp};

use crate::crash::{self, KillAt};

const COLLECTION: &str = "crash";

/// Opens the engine under test over a directory (which must open cleanly after any kill).
pub type Opener = fn(&Path) -> Pin<Box<dyn Future<Output = Arc<dyn VectorStorage>> + Send + '_>>;

fn collection() -> CollectionConfig {
    config(COLLECTION, 8)
}

/// Batch `k`: random operations the model accepts, plus the counter record.
fn batch(k: u64, model: &Model) -> WriteBatch {
    let mut batch = random_batch(&mut Rng::new(k + 1), model, 8);
    let counter = VectorRecord::new("counter", vec![1.0; 8]).with_metadata(serde_json::json!({"k": k}));
    batch.ops.push(WriteOp::Upsert(counter));
    batch
}

/// The model after batches `0..n`.
fn model_after(n: u64) -> Model {
    let mut model = Model::new(collection());
    let mut seq = 1;
    for k in 0..n {
        let b = batch(k, &model);
        let len = b.len() as u64;
        model.apply(b, seq).expect("the model accepts its own batches");
        seq += len;
    }
    model
}

/// How many batches the engine holds, from the counter record.
async fn applied(engine: &dyn VectorStorage) -> u64 {
    let got = engine.get(COLLECTION, &["counter".to_string()]).await.expect("get the counter").remove(0);
    got.map_or(0, |r| r.record.metadata["k"].as_u64().expect("a counter") + 1)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

fn child(dir: &Path, open: Opener) -> ! {
    runtime().block_on(async {
        let engine = open(dir).await;
        if engine.list_collections().await.expect("list").is_empty() {
            engine.create_collection(&collection()).await.expect("create");
        }
        let mut k = applied(&*engine).await;
        let mut model = model_after(k);
        let mut seq = engine.stats(COLLECTION).await.expect("stats").last_seq + 1;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crash::READY).and_then(|_| out.flush()).expect("stdout");
        loop {
            let b = batch(k, &model);
            let len = b.len() as u64;
            engine.write(COLLECTION, b.clone()).await.expect("write");
            model.apply(b, seq).expect("the model accepts the batch");
            seq += len;
            writeln!(out, "ACK {k}").and_then(|_| out.flush()).expect("stdout");
            if k % 7 == 3 {
                engine.flush(COLLECTION).await.expect("flush");
            }
            if k % 11 == 5 {
                let policy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 1_000 };
                engine.compact(COLLECTION, &policy).await.expect("compact");
            }
            k += 1;
        }
    })
}

/// Runs the crash test as test `test_name` of the calling test binary; `dir_var`
/// is the environment variable that tells the child where to write. Returns the
/// directory, for checks particular to the engine.
pub fn acknowledged_batches_survive_sigkill(test_name: &str, dir_var: &str, open: Opener) -> tempfile::TempDir {
    if let Ok(dir) = std::env::var(dir_var) {
        child(Path::new(&dir), open);
    }
    let seed = crash::seed();
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = runtime();
    let mut applied_before = 0;
    let mut acked_total = 0;
    for iteration in 0..crash::iterations() {
        let run_for = Duration::from_millis(30 + rng.below(120));
        // Mostly while writing, however slowly the engine opens; now and
        // then from the start, so some kills land in recovery.
        let at = if rng.below(4) == 0 { KillAt::AfterStart(run_for) } else { KillAt::AfterReady(run_for) };
        let last_acked =
            crash::kill_child(test_name, dir_var, dir.path(), at).iter().rev().find_map(|a| a.parse::<u64>().ok());
        acked_total += last_acked.map_or(0, |k| k + 1 - applied_before.min(k + 1));
        let ctx =
            format!("seed {seed}, iteration {iteration}, last acked {last_acked:?}, applied before {applied_before}");
        rt.block_on(async {
            let engine = open(dir.path()).await;
            if engine.list_collections().await.expect("list").is_empty() {
                assert!(last_acked.is_none(), "{ctx}: the collection vanished after acknowledged writes");
                return;
            }
            let applied = applied(&*engine).await;
            let floor = last_acked.map_or(applied_before, |k| k + 1);
            assert!(applied >= floor, "{ctx}: {applied} batches survived, {floor} were acknowledged");
            assert!(
                applied <= floor + 1,
                "{ctx}: {applied} batches survived, only {floor} acknowledged (+1 in flight)"
            );
            let expected = model_after(applied).visible();
            let rows = current_rows(&*engine, COLLECTION).await.expect("rows");
            assert!(rows == expected, "{ctx}: state after {applied} batches differs from the model");
            applied_before = applied;
        });
    }
    assert!(acked_total > 0, "the child never acknowledged a batch; the test proved nothing");
    dir
}
