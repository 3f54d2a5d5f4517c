//! The PostgreSQL store passes the conformance suite against the real server
//! `cargo xtask services up` starts; each run uses fresh tables.

#![cfg(feature = "postgres")]

use proxima_hybrid::testkit::conformance;
use proxima_hybrid::{PostgresStore, RelationStore};
use proxima_tests::service_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms_and_keeps_its_tables() {
    let Some(url) = service_url("POSTGRES") else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("rel{}_{nanos}_", std::process::id());
    let uri = format!("{url}?table_prefix={prefix}&pool_size=4");
    let store = PostgresStore::open_uri(&uri).await.unwrap();
    conformance(&store, "c").await;
    // A second open finds the schema in place and the data there.
    store.put_policy("kept", Default::default()).await.unwrap();
    let reopened = PostgresStore::open_uri(&uri).await.unwrap();
    assert!(reopened.profile("kept").await.unwrap().is_some());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let tables = ["edges", "user_profiles", "user_events", "relations_migrations"];
    let events: i64 = client.query_one(&format!("SELECT count(*) FROM {prefix}user_events"), &[]).await.unwrap().get(0);
    assert_eq!(events, 3, "each event is appended beside its profile");
    let drop: Vec<String> = tables.iter().map(|t| format!("DROP TABLE {prefix}{t};")).collect();
    client.batch_execute(&drop.concat()).await.unwrap();
}
