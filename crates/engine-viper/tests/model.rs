//! VIPER against the testkit's in-memory model: random batches, flushes,
//! compactions and reopens, compared after every step.

use std::sync::Arc;

use proptest::prelude::*;
use proxima_engine::VectorStorage;
use proxima_engine::testkit::{actions, agrees_with_the_model};
use proxima_engine_viper::{ViperConfig, ViperEngine};

async fn open(dir: std::path::PathBuf) -> Arc<dyn VectorStorage> {
    let config = ViperConfig { flush_rows: 25, row_group_rows: 8, ..ViperConfig::local(&dir) };
    Arc::new(ViperEngine::open(config, None).await.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn viper_agrees_with_the_model(actions in actions()) {
        agrees_with_the_model(open, &actions);
    }
}
