//! With the server taken away mid-test, calls fail with `Unavailable` (no hang,
//! no panic) and the backend recovers when it returns.

use proxima_meta_dynamodb::{DynamoBackend, DynamoConfig};
use proxima_tests::{Proxy, host_port, outage_and_recovery, service_url, service_var};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_outage_is_unavailable_then_recovers() {
    let Some(endpoint) = service_url("DYNAMODB") else { return };
    let mut proxy = Proxy::start(&host_port(&endpoint));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let table = format!("outage-{}-{nanos}", std::process::id());
    let mut config =
        DynamoConfig::from_uri(&format!("dynamodb://us-east-1/{table}?endpoint=http://{}", proxy.addr())).unwrap();
    config.access_key_id = service_var("AWS_ACCESS_KEY_ID");
    config.secret_access_key = service_var("AWS_SECRET_ACCESS_KEY");
    let backend = DynamoBackend::open(config).await.unwrap();
    outage_and_recovery(&backend, &mut proxy).await.unwrap();
    backend.drop_table().await.unwrap();
}
