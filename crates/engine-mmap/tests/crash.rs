//! SIGKILL an mmap writer at random points during ingest, checkpoints and
//! compactions (slot reuse), 50 times over one directory; the shared driver
//! (`proxima_tests::engine_crash`) checks every acknowledged batch survives and
//! nothing else does.

use std::path::Path;
use std::sync::Arc;

use proxima_engine::VectorStorage;
use proxima_engine_mmap::{MmapConfig, MmapEngine};
use proxima_tests::engine_crash;

async fn open(dir: &Path) -> Arc<dyn VectorStorage> {
    let config = MmapConfig { checkpoint_ops: 40, ..MmapConfig::new(dir) };
    Arc::new(MmapEngine::open(config, None).await.expect("a crashed directory must open cleanly"))
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    engine_crash::acknowledged_batches_survive_sigkill(
        "acknowledged_batches_survive_sigkill",
        "PROXIMA_MMAP_CRASH_DIR",
        |dir| Box::pin(open(dir)),
    );
}
