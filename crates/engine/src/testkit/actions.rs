//! The engine-vs-model property test every engine runs: random write batches,
//! flushes, compactions and reopens, with the engine's visible rows compared to
//! the in-memory model after every step.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;

use super::{Model, Rng, config, current_rows, random_batch};
use crate::{CompactionPolicy, VectorStorage};

/// One step of the property test.
#[derive(Debug, Clone)]
pub enum Action {
    /// A random batch from this seed.
    Write(u64),
    /// `flush`.
    Flush,
    /// `compact`, merging small segments and every dead row.
    Compact,
    /// Drop the engine and open it again over the same directory.
    Reopen,
}

/// Sequences of 1 to 60 actions, mostly writes.
pub fn actions() -> impl Strategy<Value = Vec<Action>> {
    let action = prop_oneof![
        6 => any::<u64>().prop_map(Action::Write),
        1 => Just(Action::Flush),
        1 => Just(Action::Compact),
        1 => Just(Action::Reopen),
    ];
    prop::collection::vec(action, 1..60)
}

/// Runs `actions` against the engine `open` gives over a fresh directory and
/// panics at the first step where it and the model disagree.
pub fn agrees_with_the_model<F, Fut>(open: F, actions: &[Action])
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn VectorStorage>>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let c = config("model", 4);
        let mut engine = open(dir.path().to_path_buf()).await;
        engine.create_collection(&c).await.expect("create");
        let mut model = Model::new(c);
        for (step, action) in actions.iter().enumerate() {
            match action {
                Action::Write(seed) => {
                    let batch = random_batch(&mut Rng::new(*seed), &model, 4);
                    let receipt = engine.write("model", batch.clone()).await.expect("write");
                    model.apply(batch, receipt.first_seq).expect("the model accepts the batch");
                }
                Action::Flush => engine.flush("model").await.expect("flush"),
                Action::Compact => {
                    let policy = CompactionPolicy { min_dead_ratio: 0.0, small_segment_rows: 100 };
                    engine.compact("model", &policy).await.expect("compact");
                }
                Action::Reopen => {
                    drop(engine);
                    engine = open(dir.path().to_path_buf()).await;
                }
            }
            let rows = current_rows(&*engine, "model").await.expect("rows");
            assert!(rows == model.visible(), "step {step} ({action:?}): engine and model differ");
        }
    });
}
