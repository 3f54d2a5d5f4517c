//! The catalogue moves memory → WAL → SQLite → memory with every field intact,
//! and a dry run writes nothing.

use proxima::meta::testkit::sample;
use proxima::meta::{
    CollectionMetadata, ListFilter, MemoryBackend, MetadataBackend, MetadataBackendExt, MetadataBackendFactory,
    MigrateAction, MigrateOptions, migrate,
};

async fn all(backend: &dyn MetadataBackend) -> Vec<CollectionMetadata> {
    backend.list_all(&ListFilter::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_wal_sqlite_memory_round_trip_preserves_every_field() {
    proxima::install_defaults();
    let factory = MetadataBackendFactory::global();
    let dir = tempfile::tempdir().unwrap();

    let source = MemoryBackend::new();
    for i in 0..25 {
        let mut m = sample(&format!("mig-{i:02}"), i);
        if i % 3 == 0 {
            m.description = None;
            m.owner = None;
            m.expires_at = None;
            m.tags.clear();
        }
        let created = source.create(m).await.unwrap();
        if i % 4 == 0 {
            let mut changed = created.clone();
            changed.vector_count = 99;
            source.update(changed).await.unwrap();
        }
    }
    let original = all(&source).await;
    assert_eq!(original.len(), 25);

    let wal = factory.open(&format!("file://{}", dir.path().join("meta").display())).await.unwrap();
    let sqlite = factory.open(&format!("sqlite://{}", dir.path().join("meta.db").display())).await.unwrap();
    let back = MemoryBackend::new();

    let dry = migrate(&source, &*wal, MigrateOptions { dry_run: true, verify: true }).await.unwrap();
    assert!(dry.plan.iter().all(|(_, a)| *a == MigrateAction::Create) && dry.plan.len() == 25);
    assert!(all(&*wal).await.is_empty(), "a dry run wrote to the target");

    let hops: [(&dyn MetadataBackend, &dyn MetadataBackend); 3] =
        [(&source, &*wal), (&*wal, &*sqlite), (&*sqlite, &back)];
    for (from, to) in hops {
        let report = migrate(from, to, MigrateOptions { dry_run: false, verify: true }).await.unwrap();
        assert_eq!(report.verified, Some(true), "{from:?} -> {to:?}: {:?}", report.mismatches);
        assert_eq!(report.written, 25);
    }
    assert_eq!(all(&back).await, original, "a field changed on the way memory → WAL → SQLite → memory");

    // A second run finds nothing to do.
    let again = migrate(&source, &back, MigrateOptions { dry_run: false, verify: true }).await.unwrap();
    assert!(again.plan.iter().all(|(_, a)| *a == MigrateAction::Unchanged));
    assert_eq!(again.written, 0);
}
