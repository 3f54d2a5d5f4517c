//! With the server taken away mid-test, calls fail with `Unavailable` (no hang,
//! no panic) and the backend recovers when it returns.

use proxima_meta_postgres::{PostgresBackend, PostgresConfig};
use proxima_tests::{Proxy, host_port, outage_and_recovery, service_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_unavailable_then_recovers() {
    let Some(url) = service_url("POSTGRES") else { return };
    let mut proxy = Proxy::start(&host_port(&url));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("outage{}_{nanos}_", std::process::id());
    let proxied = url.replace(&host_port(&url), &proxy.addr());
    let config = PostgresConfig::from_uri(&format!("{proxied}?table_prefix={prefix}&connect_timeout_ms=1000")).unwrap();
    let backend = PostgresBackend::open(config).await.unwrap();
    outage_and_recovery(&backend, &mut proxy).await.unwrap();

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP TABLE {prefix}collections; DROP TABLE {prefix}schema_migrations;"))
        .await
        .unwrap();
}
