//! SIGKILL a VIPER writer at random points during ingest, flushes (in the
//! background too) and compactions, 50 times over one directory; the shared
//! driver (`proxima_tests::engine_crash`) checks every acknowledged batch
//! survives and nothing else does.

use std::path::Path;
use std::sync::Arc;

use proxima_engine::VectorStorage;
use proxima_engine_viper::{ViperConfig, ViperEngine};
use proxima_tests::engine_crash;

async fn open(dir: &Path) -> Arc<dyn VectorStorage> {
    let config = ViperConfig { flush_rows: 40, row_group_rows: 16, ..ViperConfig::local(dir) };
    Arc::new(ViperEngine::open(config, None).await.expect("a crashed directory must open cleanly"))
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    let dir = engine_crash::acknowledged_batches_survive_sigkill(
        "acknowledged_batches_survive_sigkill",
        "PROXIMA_VIPER_CRASH_DIR",
        |dir| Box::pin(open(dir)),
    );
    let files: Vec<_> = std::fs::read_dir(dir.path().join("crash")).unwrap().flatten().collect();
    assert!(
        files.iter().any(|f| f.file_name().to_string_lossy().ends_with(".parquet")),
        "no segment file was ever flushed; kills never met a flush"
    );
}
