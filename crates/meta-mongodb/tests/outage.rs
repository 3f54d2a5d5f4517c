//! With the server taken away mid-test, calls fail with `Unavailable` (no hang,
//! no panic) and the backend recovers when it returns.

use proxima_meta_mongodb::{MongoBackend, MongoConfig};
use proxima_tests::{Proxy, host_port, outage_and_recovery, service_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_outage_is_unavailable_then_recovers() {
    let Some(url) = service_url("MONGODB") else { return };
    let mut proxy = Proxy::start(&host_port(&url));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let database = format!("outage_{}_{nanos}", std::process::id());
    let uri = format!("mongodb://{}/{database}?directConnection=true&timeout_ms=1500", proxy.addr());
    let backend = MongoBackend::open(MongoConfig::from_uri(&uri).unwrap()).await.unwrap();
    outage_and_recovery(&backend, &mut proxy).await.unwrap();

    let client = mongodb::Client::with_uri_str(format!("{url}/?directConnection=true")).await.unwrap();
    client.database(&database).drop().await.unwrap();
}
