//! The SQLite backend passes the metadata conformance suite, including reopen.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_meta::MetadataBackend;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta_sqlite::{SqliteBackend, SqliteConfig};

struct Harness(tempfile::TempDir);

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        let config = SqliteConfig { path: self.0.path().join("catalogue.db"), ..SqliteConfig::default() };
        Ok(Arc::new(SqliteBackend::open(config).await?))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_conforms() {
    run_all(&Harness(tempfile::tempdir().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_opens_sqlite_uris_and_the_file_is_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let factory = proxima_meta::MetadataBackendFactory::new();
    proxima_meta_sqlite::register(&factory);
    let path = dir.path().join("c.db");
    let backend = factory.open(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(backend.scheme(), "sqlite");
    backend.create(proxima_meta::CollectionMetadata::new("id", "c", 4)).await.unwrap();
    let conn = rusqlite_free_check(&path);
    assert_eq!(conn, "wal");
}

/// Reads the journal mode from the file header: bytes 18 and 19 are 2 in WAL mode.
fn rusqlite_free_check(path: &std::path::Path) -> &'static str {
    let header = std::fs::read(path).unwrap();
    if header[18] == 2 && header[19] == 2 { "wal" } else { "rollback" }
}
