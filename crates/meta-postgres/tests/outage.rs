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
        .batch_execute(&format!(
            "DROP TABLE {prefix}collections; DROP TABLE {prefix}leases; DROP TABLE {prefix}schema_migrations;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_read_replica() {
    let Some(url) = service_url("POSTGRES") else { return };
    // The "replica" is the same server behind a proxy we can stop.
    let mut replica = Proxy::start(&host_port(&url));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("replica{}_{nanos}_", std::process::id());
    let uri = format!("{url}?table_prefix={prefix}&read_replicas={}&connect_timeout_ms=1000", replica.addr());
    let backend = PostgresBackend::open(PostgresConfig::from_uri(&uri).unwrap()).await.unwrap();
    use proxima_meta::MetadataBackend;
    backend.create(proxima_meta::CollectionMetadata::new("r-id", "r", 4)).await.unwrap();
    assert!(backend.get("r").await.unwrap().is_some(), "read through the replica");
    replica.stop();
    assert_eq!(
        backend.get("r").await.unwrap_err().kind(),
        proxima_core::ErrorKind::Unavailable,
        "reads do not use the replica"
    );
    backend.create(proxima_meta::CollectionMetadata::new("w-id", "w", 4)).await.unwrap();
    replica.resume();
    assert!(backend.get("w").await.unwrap().is_some());

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP TABLE {prefix}collections; DROP TABLE {prefix}leases; DROP TABLE {prefix}schema_migrations;"
        ))
        .await
        .unwrap();
}
