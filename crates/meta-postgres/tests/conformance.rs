//! The PostgreSQL backend passes the metadata conformance suite against the
//! real server `cargo xtask services up` starts; each run uses fresh tables.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_meta::MetadataBackend;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta_postgres::{PostgresBackend, PostgresConfig};
use proxima_tests::service_url;

struct Harness(PostgresConfig);

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        Ok(Arc::new(PostgresBackend::open(self.0.clone()).await?))
    }
}

fn fresh_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t{}_{nanos}_", std::process::id())
}

async fn drop_tables(url: &str, prefix: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP TABLE {prefix}collections; DROP TABLE {prefix}leases; DROP TABLE {prefix}schema_migrations;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_conforms() {
    let Some(url) = service_url("POSTGRES") else { return };
    let prefix = fresh_prefix();
    let config = PostgresConfig::from_uri(&format!("{url}?table_prefix={prefix}&pool_size=4")).unwrap();
    run_all(&Harness(config)).await;
    drop_tables(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leases_have_one_holder_and_fence() {
    let Some(url) = service_url("POSTGRES") else { return };
    let prefix = fresh_prefix();
    let config = PostgresConfig::from_uri(&format!("{url}?table_prefix={prefix}&pool_size=8")).unwrap();
    proxima_meta::testkit::leases_conform(&Harness(config)).await.unwrap();
    drop_tables(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_opens_postgresql_uris() {
    let Some(url) = service_url("POSTGRES") else { return };
    let prefix = fresh_prefix();
    let factory = proxima_meta::MetadataBackendFactory::new();
    proxima_meta_postgres::register(&factory);
    let backend = factory.open(&format!("{url}?table_prefix={prefix}")).await.unwrap();
    assert_eq!(backend.scheme(), "postgresql");
    let health = backend.health().await.unwrap();
    assert!(health.detail.starts_with("PostgreSQL 15"), "{health:?}");
    drop(backend);
    drop_tables(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_opens_its_minimum_up_front() {
    let Some(url) = service_url("POSTGRES") else { return };
    let prefix = fresh_prefix();
    let config = PostgresConfig::from_uri(&format!("{url}?table_prefix={prefix}&pool_size=4&pool_min_size=3")).unwrap();
    let backend = PostgresBackend::open(config).await.unwrap();
    assert_eq!(backend.idle_connections(), 3);
    drop(backend);
    drop_tables(&url, &prefix).await;
}
