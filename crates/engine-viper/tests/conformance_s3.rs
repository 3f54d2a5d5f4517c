//! VIPER on S3 (the moto server `cargo xtask services up` starts) passes the
//! engine conformance suite, with its log on local disk and in S3; each run
//! uses a fresh key prefix.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_engine::testkit::{EngineHarness, run_all};
use proxima_engine::{IndexBuilder, VectorStorage};
use proxima_engine_viper::{Root, ViperConfig, ViperEngine};
use proxima_tests::{service_url, service_var};

struct S3 {
    root: String,
    wal: tempfile::TempDir,
    credentials: (String, String),
}

#[async_trait]
impl EngineHarness for S3 {
    async fn open(&self, index_builder: Option<Arc<dyn IndexBuilder>>) -> Result<Arc<dyn VectorStorage>> {
        let mut config = ViperConfig::from_uri(&self.root)?;
        if let Root::S3 { access_key_id, secret_access_key, .. } = &mut config.root {
            *access_key_id = Some(self.credentials.0.clone());
            *secret_access_key = Some(self.credentials.1.clone());
        }
        config.wal_dir = self.wal.path().to_path_buf();
        config.row_group_rows = 4;
        Ok(Arc::new(ViperEngine::open(config, index_builder).await?))
    }
}

fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("conformance-{}-{nanos}", std::process::id())
}

/// Runs the suite on a fresh prefix, with `parameters` added to the root.
async fn conforms_on_s3(parameters: &str) {
    let Some(endpoint) = service_url("S3") else { return };
    let bucket = service_var("PROXIMA_TEST_S3_BUCKET").expect("bucket in the services env");
    let credential = |k: &str| service_var(k).expect("credentials in the services env");
    let credentials = (credential("AWS_ACCESS_KEY_ID"), credential("AWS_SECRET_ACCESS_KEY"));
    let root = format!("s3://{bucket}/{}?endpoint={endpoint}&flush_rows=5{parameters}", unique_prefix());
    let harness = S3 { root, wal: tempfile::tempdir().unwrap(), credentials };
    run_all(&harness).await;
    // Leave the bucket as we found it.
    let engine = harness.open(None).await.unwrap();
    for c in engine.list_collections().await.unwrap() {
        engine.drop_collection(&c.name).await.unwrap();
    }
    assert!(harness.open(None).await.unwrap().list_collections().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_on_s3_conforms() {
    conforms_on_s3("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viper_on_s3_with_its_log_in_s3_conforms() {
    conforms_on_s3("&log=object").await;
}
