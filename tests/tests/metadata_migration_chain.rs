//! The catalogue moves memory → PostgreSQL → MongoDB → DynamoDB → SQLite →
//! memory through real servers with every field intact. Each run uses fresh
//! tables, a fresh database and a fresh DynamoDB table, and removes them.

use proxima::meta::testkit::sample;
use proxima::meta::{
    CollectionMetadata, ListFilter, MemoryBackend, MetadataBackend, MetadataBackendExt, MetadataBackendFactory,
    MigrateOptions, migrate,
};
use proxima::meta_dynamodb::{DynamoBackend, DynamoConfig};
use proxima_tests::{service_url, service_var};

async fn all(backend: &dyn MetadataBackend) -> Vec<CollectionMetadata> {
    backend.list_all(&ListFilter::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_postgres_mongodb_dynamodb_sqlite_memory_preserves_every_field() {
    let (Some(pg), Some(mongo), Some(dynamo)) =
        (service_url("POSTGRES"), service_url("MONGODB"), service_url("DYNAMODB"))
    else {
        return;
    };
    let (key, secret) = (service_var("AWS_ACCESS_KEY_ID").unwrap(), service_var("AWS_SECRET_ACCESS_KEY").unwrap());
    proxima::install_defaults();
    let factory = MetadataBackendFactory::global();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let run = format!("chain{}x{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();

    let source = MemoryBackend::new();
    for i in 0..30 {
        let mut m = sample(&format!("chain-{i:02}"), i);
        if i % 3 == 0 {
            (m.description, m.owner, m.expires_at) = (None, None, None);
            m.tags.clear();
        }
        let created = source.create(m).await.unwrap();
        if i % 4 == 0 {
            source.update(CollectionMetadata { vector_count: 99, ..created }).await.unwrap();
        }
    }
    let original = all(&source).await;

    let dynamo_uri =
        format!("dynamodb://us-east-1/{run}?endpoint={dynamo}&access_key_id={key}&secret_access_key={secret}");
    let postgres = factory.open(&format!("{pg}?table_prefix={run}_")).await.unwrap();
    let mongodb = factory.open(&format!("{mongo}/{run}?directConnection=true")).await.unwrap();
    let dynamodb = factory.open(&dynamo_uri).await.unwrap();
    let sqlite = factory.open(&format!("sqlite://{}", dir.path().join("chain.db").display())).await.unwrap();
    let back = MemoryBackend::new();

    let hops: [(&str, &dyn MetadataBackend, &dyn MetadataBackend); 5] = [
        ("memory -> postgres", &source, &*postgres),
        ("postgres -> mongodb", &*postgres, &*mongodb),
        ("mongodb -> dynamodb", &*mongodb, &*dynamodb),
        ("dynamodb -> sqlite", &*dynamodb, &*sqlite),
        ("sqlite -> memory", &*sqlite, &back),
    ];
    for (hop, from, to) in hops {
        let report = migrate(from, to, MigrateOptions { dry_run: false, verify: true }).await.unwrap();
        assert_eq!(report.verified, Some(true), "{hop}: {:?}", report.mismatches);
        assert_eq!(report.written, 30, "{hop}");
    }
    assert_eq!(all(&back).await, original, "a field changed somewhere on the chain");

    // Clean up what the servers hold.
    let (client, connection) = tokio_postgres::connect(&pg, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP TABLE {run}_collections; DROP TABLE {run}_schema_migrations;")).await.unwrap();
    let mongo_client = mongodb::Client::with_uri_str(format!("{mongo}/?directConnection=true")).await.unwrap();
    mongo_client.database(&run).drop().await.unwrap();
    DynamoBackend::open(DynamoConfig::from_uri(&dynamo_uri).unwrap()).await.unwrap().drop_table().await.unwrap();
}
