//! A proptest state machine: random batches, flushes, compactions and reopens
//! against the testkit's in-memory model, compared after every step.

use std::sync::Arc;

use proptest::prelude::*;
use proxima_engine::testkit::{Model, Rng, config, current_rows, random_batch};
use proxima_engine::{CompactionPolicy, VectorStorage};
use proxima_engine_lsm::{LsmConfig, LsmEngine};

#[derive(Debug, Clone)]
enum Action {
    Write(u64),
    Flush,
    Compact,
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => any::<u64>().prop_map(Action::Write),
        1 => Just(Action::Flush),
        1 => Just(Action::Compact),
        1 => Just(Action::Reopen),
    ]
}

async fn open(dir: &std::path::Path) -> Arc<dyn VectorStorage> {
    let config = LsmConfig {
        memtable_bytes: 900,
        l0_compaction_trigger: 2,
        level1_rows: 30,
        level_size_ratio: 2,
        ..LsmConfig::new(dir)
    };
    Arc::new(LsmEngine::open(config, None).await.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn lsm_agrees_with_the_model(actions in prop::collection::vec(action(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let c = config("model", 4);
            let mut engine = open(dir.path()).await;
            engine.create_collection(&c).await.unwrap();
            let mut model = Model::new(c);
            for (step, action) in actions.iter().enumerate() {
                match action {
                    Action::Write(seed) => {
                        let batch = random_batch(&mut Rng::new(*seed), &model, 4);
                        let receipt = engine.write("model", batch.clone()).await.unwrap();
                        model.apply(batch, receipt.first_seq).unwrap();
                    }
                    Action::Flush => engine.flush("model").await.unwrap(),
                    Action::Compact => {
                        let policy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 100 };
                        engine.compact("model", &policy).await.unwrap();
                    }
                    Action::Reopen => {
                        drop(engine);
                        engine = open(dir.path()).await;
                    }
                }
                let rows = current_rows(&*engine, "model").await.unwrap();
                assert!(rows == model.visible(), "step {step} ({action:?}): engine and model differ");
            }
        });
    }
}
