//! With `sslmode=require`, the backend talks TLS (rustls) to PostgreSQL and
//! verifies the server against the given CA; a server it cannot verify is refused.

use proxima_meta::MetadataBackend;
use proxima_meta_postgres::{PostgresBackend, PostgresConfig};
use proxima_tests::{service_url, service_var};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_are_encrypted_and_verified() {
    let (Some(url), Some(ca)) = (service_url("POSTGRES"), service_var("PROXIMA_TEST_POSTGRES_CA")) else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("tls{}_{nanos}_", std::process::id());

    let config =
        PostgresConfig::from_uri(&format!("{url}?sslmode=require&sslrootcert={ca}&table_prefix={prefix}")).unwrap();
    let backend = PostgresBackend::open(config).await.unwrap();
    let health = backend.health().await.unwrap();
    assert!(health.detail.ends_with("tls=true"), "{health:?}");
    backend.create(proxima_meta::CollectionMetadata::new("tls-id", "tls", 4)).await.unwrap();
    assert!(backend.get("tls").await.unwrap().is_some());

    let plain = PostgresBackend::open(PostgresConfig::from_uri(&format!("{url}?table_prefix={prefix}")).unwrap())
        .await
        .unwrap();
    assert!(plain.health().await.unwrap().detail.ends_with("tls=false"));

    // The public web PKI does not know the test CA: the server is refused.
    let unverified =
        PostgresConfig::from_uri(&format!("{url}?sslmode=require&table_prefix={prefix}&connect_timeout_ms=2000"))
            .unwrap();
    assert!(PostgresBackend::open(unverified).await.is_err(), "a server with an unknown certificate was accepted");

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP TABLE {prefix}collections; DROP TABLE {prefix}leases; DROP TABLE {prefix}schema_migrations;"
        ))
        .await
        .unwrap();
}
