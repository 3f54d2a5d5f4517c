//! LSM against the testkit's in-memory model: random batches, flushes,
//! compactions and reopens, compared after every step.

use std::sync::Arc;

use proptest::prelude::*;
use proxima_engine::VectorStorage;
use proxima_engine::testkit::{actions, agrees_with_the_model};
use proxima_engine_lsm::{LsmConfig, LsmEngine};

async fn open(dir: std::path::PathBuf) -> Arc<dyn VectorStorage> {
    let config = LsmConfig {
        memtable_bytes: 900,
        l0_compaction_trigger: 2,
        level1_rows: 30,
        level_size_ratio: 2,
        ..LsmConfig::new(&dir)
    };
    Arc::new(LsmEngine::open(config, None).await.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn lsm_agrees_with_the_model(actions in actions()) {
        agrees_with_the_model(open, &actions);
    }
}
