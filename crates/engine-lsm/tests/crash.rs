//! SIGKILL an LSM writer at random points during ingest, flushes and
//! background and explicit compactions, 50 times over one directory: after each restart the directory
//! opens cleanly, every acknowledged batch is there, and nothing but the one
//! batch in flight.
//!
//! Batch `k` is a pure function of `k` and the state before it, so the parent
//! rebuilds the expected state with the testkit's model. The test re-runs its
//! own binary as the writer; an environment variable picks the role.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use proxima_core::{CollectionConfig, VectorRecord};
use proxima_engine::testkit::{Model, Rng, config, current_rows, random_batch};
use proxima_engine::{CompactionPolicy, VectorStorage, WriteBatch};
use proxima_engine_lsm::{LsmConfig, LsmEngine};
use proxima_tests::crash;

const CHILD_DIR_VAR: &str = "PROXIMA_LSM_CRASH_DIR";
const TEST_NAME: &str = "acknowledged_batches_survive_sigkill";
const COLLECTION: &str = "crash";

fn collection() -> CollectionConfig {
    config(COLLECTION, 8)
}

async fn open(dir: &Path) -> Arc<dyn VectorStorage> {
    let config = LsmConfig {
        memtable_bytes: 4_000,
        l0_compaction_trigger: 3,
        level1_rows: 60,
        level_size_ratio: 2,
        ..LsmConfig::new(dir)
    };
    Arc::new(LsmEngine::open(config, None).await.expect("a crashed directory must open cleanly"))
}

/// Batch `k`: random operations the model accepts, plus the counter record.
fn batch(k: u64, model: &Model) -> WriteBatch {
    let mut batch = random_batch(&mut Rng::new(k + 1), model, 8);
    let counter = VectorRecord::new("counter", vec![1.0; 8]).with_metadata(serde_json::json!({"k": k}));
    batch.ops.push(proxima_engine::WriteOp::Upsert(counter));
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
    let got = engine.get(COLLECTION, &["counter".to_string()]).await.unwrap().remove(0);
    got.map_or(0, |r| r.record.metadata["k"].as_u64().unwrap() + 1)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn child(dir: &Path) -> ! {
    runtime().block_on(async {
        let engine = open(dir).await;
        if engine.list_collections().await.unwrap().is_empty() {
            engine.create_collection(&collection()).await.unwrap();
        }
        let mut k = applied(&*engine).await;
        let mut model = model_after(k);
        let mut seq = engine.stats(COLLECTION).await.unwrap().last_seq + 1;
        let mut out = std::io::stdout().lock();
        loop {
            let b = batch(k, &model);
            let len = b.len() as u64;
            engine.write(COLLECTION, b.clone()).await.unwrap();
            model.apply(b, seq).unwrap();
            seq += len;
            writeln!(out, "ACK {k}").and_then(|_| out.flush()).unwrap();
            if k % 7 == 3 {
                engine.flush(COLLECTION).await.unwrap();
            }
            if k % 11 == 5 {
                engine
                    .compact(COLLECTION, &CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 1_000 })
                    .await
                    .unwrap();
            }
            k += 1;
        }
    })
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR_VAR) {
        child(Path::new(&dir));
    }
    let seed = crash::seed();
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut applied_before = 0;
    let mut acked_total = 0;
    for iteration in 0..crash::iterations() {
        let run_for = Duration::from_millis(30 + rng.below(120));
        let last_acked = crash::kill_child_after(TEST_NAME, CHILD_DIR_VAR, dir.path(), run_for)
            .iter()
            .rev()
            .find_map(|a| a.parse::<u64>().ok());
        acked_total += last_acked.map_or(0, |k| k + 1 - applied_before.min(k + 1));

        let ctx =
            format!("seed {seed}, iteration {iteration}, last acked {last_acked:?}, applied before {applied_before}");
        rt.block_on(async {
            let engine = open(dir.path()).await;
            if engine.list_collections().await.unwrap().is_empty() {
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
            let rows = current_rows(&*engine, COLLECTION).await.unwrap();
            assert!(rows == expected, "{ctx}: state after {applied} batches differs from the model");
            applied_before = applied;
        });
    }
    assert!(acked_total > 0, "the child never acknowledged a batch; the test proved nothing");
}
