//! The embedded store: the conformance suite, and what survives a reopen.

use proxima_core::FsyncPolicy;
use proxima_hybrid::testkit::conformance;
use proxima_hybrid::{Edge, EmbeddedStore, Event, EventKind, RelationStore, ResolvedEvent, Traversal, UserPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), FsyncPolicy::None).await.unwrap();
    conformance(&store, "c").await;
}

fn like(id: &str, at_ms: u64) -> ResolvedEvent {
    ResolvedEvent {
        collection: "movies".into(),
        event: Event { id: id.into(), event: EventKind::Like, value: None },
        at_ms,
        fields: vec![("genre".into(), serde_json::json!("drama"))],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_and_profiles_survive_reopen_across_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (edges, profile) = {
        let store = EmbeddedStore::open(dir.path(), FsyncPolicy::Always).await.unwrap();
        // Past the checkpoint threshold, so the reopen reads a checkpoint and a log tail.
        for batch in 0..25 {
            let edges: Vec<Edge> =
                (0..500).map(|i| Edge::new(format!("a{batch}"), format!("b{i}"), "T", 0.5)).collect();
            store.upsert_edges("movies", edges).await.unwrap();
        }
        store.remove_records("movies", vec!["b7".into()]).await.unwrap();
        store.put_policy("ann", UserPolicy { blend: 0.9, ..UserPolicy::default() }).await.unwrap();
        let profile = store.record_events("ann", vec![like("m1", 5), like("m2", 6)]).await.unwrap();
        (store.export_collection("movies").await.unwrap(), profile)
    };
    assert_eq!(edges.len(), 25 * 499);
    assert!(dir.path().join("checkpoint.bin").exists());
    let store = EmbeddedStore::open(dir.path(), FsyncPolicy::Always).await.unwrap();
    assert_eq!(store.export_collection("movies").await.unwrap(), edges);
    assert_eq!(store.profile("ann").await.unwrap(), Some(profile));
    let walk = store.traverse("movies", &Traversal::from(["a3"])).await.unwrap();
    assert_eq!(walk.len(), 16, "default fan-out");
}

#[tokio::test]
async fn a_corrupt_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("checkpoint.bin"), b"not a checkpoint").unwrap();
    let err = EmbeddedStore::open(dir.path(), FsyncPolicy::None).await.unwrap_err();
    assert_eq!(err.kind(), proxima_core::ErrorKind::Corrupted, "{err}");
    assert!(EmbeddedStore::open_uri("file:///x?fsync=sometimes").await.is_err());
    assert!(proxima_hybrid::open("mysql://x").await.is_err());
}
