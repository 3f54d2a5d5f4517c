//! The index hook runs outside the collection's lock: while a flush builds its
//! segment's index (an HNSW build takes seconds), writes and reads go on; and
//! when flushing falls behind by four flushes, a writer waits and flushes.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxima_core::{CollectionConfig, Result, VectorRecord};
use proxima_engine::testkit::RowCountIndex;
use proxima_engine::{IndexBuilder, Segment, VectorStorage, WriteBatch};
use proxima_engine_viper::{ViperConfig, ViperEngine};

const PATIENCE: Duration = Duration::from_secs(30);

/// Builds `RowCountIndex`'s bytes, but the first build waits for the test's word.
#[derive(Debug)]
struct Gate {
    started: Mutex<Option<Sender<()>>>,
    release: Mutex<Receiver<()>>,
}

impl IndexBuilder for Gate {
    fn build(&self, config: &CollectionConfig, segment: &dyn Segment) -> Result<Option<Vec<u8>>> {
        if let Some(started) = self.started.lock().unwrap().take() {
            started.send(()).unwrap();
            let _ = self.release.lock().unwrap().recv_timeout(PATIENCE * 2);
        }
        RowCountIndex.build(config, segment)
    }
}

fn batch(ids: std::ops::Range<u32>) -> WriteBatch {
    WriteBatch::from(
        ids.map(|i| VectorRecord::new(format!("id{i}"), vec![i as f32, 1.0, 2.0, 3.0])).collect::<Vec<_>>(),
    )
}

/// A gate, the signal that its first build started, and the sender that releases it.
fn gate() -> (Arc<Gate>, Receiver<()>, Sender<()>) {
    let (started_tx, started) = channel();
    let (release, release_rx) = channel();
    (Arc::new(Gate { started: Mutex::new(Some(started_tx)), release: Mutex::new(release_rx) }), started, release)
}

async fn wait_for(started: Receiver<()>) {
    let hook_ran = tokio::task::spawn_blocking(move || started.recv_timeout(PATIENCE)).await.unwrap();
    hook_ran.expect("the flush never ran the index hook");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_go_on_while_a_flush_builds_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, started, release) = gate();
    let engine = Arc::new(ViperEngine::open(ViperConfig::local(dir.path()), Some(gate)).await.unwrap());
    engine.create_collection(&CollectionConfig::new("c", 4)).await.unwrap();
    engine.write("c", batch(0..100)).await.unwrap();

    let flushing = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.flush("c").await }
    });
    wait_for(started).await;

    // The hook is still running: a write and a read of what it wrote finish anyway.
    let wrote = tokio::time::timeout(PATIENCE, engine.write("c", batch(100..110))).await;
    wrote.expect("a write waited for the index build").unwrap();
    let got = tokio::time::timeout(PATIENCE, engine.get("c", &["id105".to_string()])).await;
    assert!(got.expect("a read waited for the index build").unwrap()[0].is_some());
    assert!(!flushing.is_finished(), "the flush finished before its index was built");

    release.send(()).unwrap();
    flushing.await.unwrap().unwrap();
    let has_index = |segments: &[Arc<dyn Segment>]| {
        segments.iter().any(|s| s.len() == 100 && s.index_bytes() == Some(&100u64.to_le_bytes()[..]))
    };
    let view = engine.read_view("c").await.unwrap();
    assert!(has_index(view.segments()), "the flushed segment has no index bytes");
    drop((view, engine));

    // The index went to disk with the segment.
    let reopened = ViperEngine::open(ViperConfig::local(dir.path()), Some(Arc::new(RowCountIndex))).await.unwrap();
    let view = reopened.read_view("c").await.unwrap();
    assert!(has_index(view.segments()), "the index bytes did not survive a reopen");
    assert_eq!(reopened.stats("c").await.unwrap().live_records, 110);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_four_flushes_behind_waits_and_flushes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, started, release) = gate();
    let config = ViperConfig { flush_rows: 5, ..ViperConfig::local(dir.path()) };
    let engine = Arc::new(ViperEngine::open(config, Some(gate)).await.unwrap());
    engine.create_collection(&CollectionConfig::new("c", 4)).await.unwrap();
    // Five rows make a flush due: it starts in the background and its index
    // build holds on at the gate.
    engine.write("c", batch(0..5)).await.unwrap();
    wait_for(started).await;

    // Twenty more rows are four flushes' worth: this write is logged and
    // applied, then waits for the running flush and flushes itself.
    let writing = tokio::spawn({
        let engine = Arc::clone(&engine);
        async move { engine.write("c", batch(5..25)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!writing.is_finished(), "a writer four flushes behind did not wait for the flush");
    release.send(()).unwrap();
    let receipt = tokio::time::timeout(PATIENCE, writing).await.expect("the writer never finished").unwrap().unwrap();
    assert_eq!(receipt.last_seq, 25);

    // Its own flush covered everything it wrote, before it returned.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("c/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["flushed_seq"], 25);
    assert_eq!(engine.stats("c").await.unwrap().live_records, 25);
}
