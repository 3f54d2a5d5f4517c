//! An engine opened at a root from the configuration, instead of under the
//! data directory, with the parameters its root takes.

use proxima::core::{CollectionConfig, ErrorKind, VectorRecord};
use proxima::{Proxima, ProximaConfig};

fn config(data_dir: &std::path::Path, viper_root: String) -> ProximaConfig {
    let mut config = ProximaConfig::at(data_dir);
    config.metadata_url = Some("memory://".to_string());
    config.engine_roots.insert("viper".to_string(), viper_root);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_keeps_its_files_at_the_configured_root() {
    let dir = tempfile::tempdir().unwrap();
    let (data, elsewhere) = (dir.path().join("data"), dir.path().join("elsewhere"));
    let root = format!("{}?vector_compression=none&flush_rows=10", elsewhere.display());
    let db = Proxima::open(config(&data, root)).await.unwrap();
    db.create_collection(CollectionConfig::new("c", 4)).await.unwrap();
    let records: Vec<VectorRecord> =
        (0..25).map(|i| VectorRecord::new(format!("r{i}"), vec![i as f32, 1.0, 2.0, 3.0])).collect();
    db.upsert("c", records).await.unwrap();
    db.flush("c").await.unwrap();
    let files: Vec<_> = std::fs::read_dir(elsewhere.join("c"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .collect();
    assert!(!files.is_empty(), "segment files are under the configured root");
    assert!(!data.join("viper").exists(), "nothing under DATA_DIR/viper");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_parameter_the_engine_does_not_know_stops_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}?vector_compresion=none", dir.path().join("v").display());
    let Err(err) = Proxima::open(config(&dir.path().join("data"), root)).await else { panic!("a misspelt parameter") };
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("vector_compresion"), "{err}");
}
