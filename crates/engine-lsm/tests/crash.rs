//! SIGKILL an LSM writer at random points during ingest, flushes and
//! background and explicit compactions, 50 times over one directory; the shared
//! driver (`proxima_tests::engine_crash`) checks every acknowledged batch
//! survives and nothing else does.

use std::path::Path;
use std::sync::Arc;

use proxima_engine::VectorStorage;
use proxima_engine_lsm::{LsmConfig, LsmEngine};
use proxima_tests::engine_crash;

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

#[test]
fn acknowledged_batches_survive_sigkill() {
    let dir = engine_crash::acknowledged_batches_survive_sigkill(
        "acknowledged_batches_survive_sigkill",
        "PROXIMA_LSM_CRASH_DIR",
        |dir| Box::pin(open(dir)),
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("crash/manifest.json")).unwrap()).unwrap();
    assert!(!manifest["levels"].as_array().unwrap().is_empty(), "no compaction ever finished: {manifest}");
}
