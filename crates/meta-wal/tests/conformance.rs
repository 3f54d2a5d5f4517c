//! The WAL backend passes the metadata conformance suite, including reopen.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::{FsyncPolicy, Result};
use proxima_meta::MetadataBackend;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta_wal::{WalBackend, WalBackendConfig};

struct Harness {
    dir: tempfile::TempDir,
    checkpoint_every: u64,
}

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        let config = WalBackendConfig {
            dir: self.dir.path().to_path_buf(),
            fsync: FsyncPolicy::Always,
            checkpoint_every: self.checkpoint_every,
        };
        Ok(Arc::new(WalBackend::open(config).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_backend_conforms() {
    run_all(&Harness { dir: tempfile::tempdir().unwrap(), checkpoint_every: 1000 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_backend_conforms_with_frequent_checkpoints() {
    // Checkpoints every 3 changes: reopen must combine checkpoint and log correctly.
    run_all(&Harness { dir: tempfile::tempdir().unwrap(), checkpoint_every: 3 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_opens_file_uris() {
    let dir = tempfile::tempdir().unwrap();
    let factory = proxima_meta::MetadataBackendFactory::new();
    proxima_meta_wal::register(&factory);
    let uri = format!("file://{}?fsync=none", dir.path().display());
    let backend = factory.open(&uri).await.unwrap();
    assert_eq!(backend.scheme(), "file");
    backend.create(proxima_meta::CollectionMetadata::new("id", "c", 4)).await.unwrap();
    drop(backend);
    let reopened = factory.open(&uri).await.unwrap();
    assert!(reopened.get("c").await.unwrap().is_some());
}

#[tokio::test]
async fn a_single_process_catalogue_keeps_no_leases() {
    let harness = Harness { dir: tempfile::tempdir().unwrap(), checkpoint_every: 100 };
    let backend = harness.open().await.unwrap();
    let claim = proxima_meta::LeaseClaim {
        collection: "c".into(),
        holder: "node".into(),
        address: "http://node".into(),
        duration_ms: 1_000,
        now_ms: 0,
        renewing: None,
    };
    let refused = backend.claim_lease(claim).await.unwrap_err();
    assert_eq!(refused.kind(), proxima_core::ErrorKind::Unsupported, "{refused}");
    assert!(refused.to_string().contains("shared catalogue"), "{refused}");
}
