//! mmap against the testkit's in-memory model: random batches, flushes,
//! compactions and reopens, compared after every step.

use std::sync::Arc;

use proptest::prelude::*;
use proxima_engine::VectorStorage;
use proxima_engine::testkit::{actions, agrees_with_the_model};
use proxima_engine_mmap::{MmapConfig, MmapEngine};

async fn open(dir: std::path::PathBuf) -> Arc<dyn VectorStorage> {
    let config = MmapConfig { checkpoint_ops: 20, ..MmapConfig::new(&dir) };
    Arc::new(MmapEngine::open(config, None).await.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn mmap_agrees_with_the_model(actions in actions()) {
        agrees_with_the_model(open, &actions);
    }
}
