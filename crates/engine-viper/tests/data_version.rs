//! The name VIPER gives its data (`data_version`), by which caches share
//! answers across processes: kept by a reopen, moved on by writes and
//! flushes, and a new lineage for a restore or for a collection created
//! again under the same name.

use proxima_core::{CollectionConfig, VectorRecord};
use proxima_engine::{DataVersion, VectorStorage, WriteBatch};
use proxima_engine_viper::{ViperConfig, ViperEngine};

fn rows(from: u64, n: u64) -> WriteBatch {
    WriteBatch::from(
        (from..from + n).map(|i| VectorRecord::new(format!("r{i}"), vec![i as f32, 1.0])).collect::<Vec<_>>(),
    )
}

async fn version(engine: &ViperEngine) -> DataVersion {
    engine.data_version("c").await.unwrap().expect("VIPER names its data")
}

async fn open(dir: &std::path::Path) -> ViperEngine {
    ViperEngine::open(ViperConfig::local(dir), None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_version_follows_the_data_and_survives_a_reopen() {
    let (dir, snapshot) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let engine = open(dir.path()).await;
    engine.create_collection(&CollectionConfig::new("c", 2)).await.unwrap();
    let created = version(&engine).await;
    engine.write("c", rows(0, 10)).await.unwrap();
    let written = version(&engine).await;
    assert_eq!((written.lineage, written.layout), (created.lineage, created.layout));
    assert!(written.seq > created.seq, "{created:?} then {written:?}");
    engine.flush("c").await.unwrap();
    let flushed = version(&engine).await;
    assert_eq!((flushed.lineage, flushed.seq), (written.lineage, written.seq));
    assert!(flushed.layout > written.layout, "a flush stores a new manifest");
    engine.checkpoint_to("c", snapshot.path()).await.unwrap();
    drop(engine);

    let engine = open(dir.path()).await;
    assert_eq!(version(&engine).await, flushed, "a reopen names the same data alike");
    engine.write("c", rows(10, 5)).await.unwrap();
    let unflushed = version(&engine).await;
    drop(engine);
    let engine = open(dir.path()).await;
    assert_eq!(version(&engine).await, unflushed, "the log tail replays to the same operation");

    engine.restore_from("c", snapshot.path()).await.unwrap();
    let restored = version(&engine).await;
    assert_ne!(restored.lineage, created.lineage, "a restore is new data, whatever its sequence");

    engine.drop_collection("c").await.unwrap();
    engine.create_collection(&CollectionConfig::new("c", 2)).await.unwrap();
    engine.write("c", rows(0, 10)).await.unwrap();
    let again = version(&engine).await;
    assert_eq!((again.layout, again.seq), (written.layout, written.seq), "the same history");
    assert_ne!(again.lineage, written.lineage, "but other data");
}
