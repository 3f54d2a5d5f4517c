//! The DynamoDB backend passes the metadata conformance suite against moto,
//! the DynamoDB-compatible server `cargo xtask services up` starts; each run
//! uses a fresh table and deletes it.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_meta::MetadataBackend;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta_dynamodb::{DynamoBackend, DynamoConfig};
use proxima_tests::{service_url, service_var};

struct Harness(DynamoConfig);

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        Ok(Arc::new(DynamoBackend::open(self.0.clone()).await?))
    }
}

pub fn config(endpoint: &str) -> DynamoConfig {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let mut config = DynamoConfig::from_uri(&format!(
        "dynamodb://us-east-1/proxima-test-{}-{nanos}?endpoint={endpoint}",
        std::process::id()
    ))
    .unwrap();
    config.access_key_id = service_var("AWS_ACCESS_KEY_ID");
    config.secret_access_key = service_var("AWS_SECRET_ACCESS_KEY");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_backend_conforms() {
    let Some(endpoint) = service_url("DYNAMODB") else { return };
    let config = config(&endpoint);
    run_all(&Harness(config.clone())).await;
    DynamoBackend::open(config).await.unwrap().drop_table().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_leases_have_one_holder_and_fence() {
    let Some(endpoint) = service_url("DYNAMODB") else { return };
    let config = config(&endpoint);
    proxima_meta::testkit::leases_conform(&Harness(config.clone())).await.unwrap();
    // A lease is not a collection: listings and backups leave it out.
    let backend = DynamoBackend::open(config).await.unwrap();
    let listed = backend.list(&proxima_meta::ListFilter::default()).await.unwrap();
    assert!(listed.items.is_empty(), "a lease was listed: {:?}", listed.items);
    backend.drop_table().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_100_items_is_refused_whole() {
    let Some(endpoint) = service_url("DYNAMODB") else { return };
    let backend = DynamoBackend::open(config(&endpoint)).await.unwrap();
    // Each create writes an entry and a name claim: 60 creates need 120 items.
    let ops = (0..60)
        .map(|i| {
            proxima_meta::BatchOp::Create(proxima_meta::CollectionMetadata::new(
                format!("big-{i}-id"),
                format!("big-{i}"),
                4,
            ))
        })
        .collect();
    let err = backend.batch(ops).await.unwrap_err();
    assert_eq!(err.kind(), proxima_core::ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("at most 100"), "{err}");
    assert!(backend.get("big-0").await.unwrap().is_none(), "part of a refused batch was written");
    backend.drop_table().await.unwrap();
}
