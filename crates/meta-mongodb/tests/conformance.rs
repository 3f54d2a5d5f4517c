//! The MongoDB backend passes the metadata conformance suite against the real
//! MongoDB-wire server `cargo xtask services up` starts; each run uses a fresh database.

use std::sync::Arc;

use async_trait::async_trait;
use proxima_core::Result;
use proxima_meta::MetadataBackend;
use proxima_meta::testkit::{MetaHarness, run_all};
use proxima_meta_mongodb::{MongoBackend, MongoConfig};
use proxima_tests::service_url;

struct Harness(MongoConfig);

#[async_trait]
impl MetaHarness for Harness {
    async fn open(&self) -> Result<Arc<dyn MetadataBackend>> {
        Ok(Arc::new(MongoBackend::open(self.0.clone()).await?))
    }
}

fn fresh_database() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("proxima_test_{}_{nanos}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_backend_conforms() {
    let Some(url) = service_url("MONGODB") else { return };
    let database = fresh_database();
    let config = MongoConfig::from_uri(&format!("{url}/{database}?directConnection=true")).unwrap();
    run_all(&Harness(config.clone())).await;
    let client = mongodb::Client::with_uri_str(&config.uri).await.unwrap();
    // The capability says what the server did: a claimed text search must run.
    let backend = MongoBackend::open(config.clone()).await.unwrap();
    let text_query = client
        .database(&database)
        .collection::<mongodb::bson::Document>(&config.collection)
        .find(mongodb::bson::doc! { "$text": { "$search": "anything" } })
        .await;
    assert_eq!(
        backend.capabilities().native_text_search,
        text_query.is_ok(),
        "native_text_search must match whether the server runs $text: {text_query:?}"
    );
    client.database(&database).drop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_leases_have_one_holder_and_fence() {
    let Some(url) = service_url("MONGODB") else { return };
    let database = fresh_database();
    let config = MongoConfig::from_uri(&format!("{url}/{database}?directConnection=true")).unwrap();
    proxima_meta::testkit::leases_conform(&Harness(config.clone())).await.unwrap();
    let client = mongodb::Client::with_uri_str(&config.uri).await.unwrap();
    client.database(&database).drop().await.unwrap();
}
