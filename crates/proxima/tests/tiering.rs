//! Moving a collection between engines while writers and searchers run, and
//! rebalancing existing collections under a routing policy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use proxima::core::{CollectionConfig, SearchRequest, VectorRecord};
use proxima::{Proxima, ProximaConfig, RoutingStrategy, SearchStrategy};
use serde_json::json;

async fn open(dir: &std::path::Path) -> Arc<Proxima> {
    let mut config = ProximaConfig::at(dir);
    config.metadata_url = Some("memory://".to_string());
    config.engines = vec!["viper".to_string(), "memory".to_string()];
    Arc::new(Proxima::open(config).await.unwrap())
}

fn vector(i: u64) -> Vec<f32> {
    vec![1.0 + (i % 7) as f32, 1.0 + (i % 5) as f32, 1.0 + (i % 3) as f32, 1.0]
}

/// What was acknowledged: id → metadata version; and ids deleted.
#[derive(Default)]
struct Model {
    versions: BTreeMap<String, u64>,
    deleted: BTreeSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_moves_engines_under_concurrent_writes_and_searches() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    db.create_collection(CollectionConfig::new("c", 4)).await.unwrap();
    let model = Arc::new(Mutex::new(Model::default()));
    let seed: Vec<VectorRecord> =
        (0..300).map(|i| VectorRecord::new(format!("s{i}"), vector(i)).with_metadata(json!({"v": 0}))).collect();
    db.upsert("c", seed).await.unwrap();
    db.flush("c").await.unwrap();
    model.lock().unwrap().versions.extend((0..300).map(|i| (format!("s{i}"), 0)));

    let writer = {
        let (db, model) = (db.clone(), model.clone());
        tokio::spawn(async move {
            for round in 1..=120u64 {
                // Update one of the first 20 records to a newer version, delete one, insert one.
                let id = format!("s{}", round % 20);
                let record = VectorRecord::new(&id, vector(round)).with_metadata(json!({"v": round}));
                db.upsert("c", vec![record]).await.unwrap();
                model.lock().unwrap().versions.insert(id, round);
                let gone = format!("s{}", 100 + round);
                db.delete("c", vec![gone.clone()]).await.unwrap();
                {
                    let mut m = model.lock().unwrap();
                    m.versions.remove(&gone);
                    m.deleted.insert(gone);
                }
                let new = format!("n{round}");
                db.upsert("c", vec![VectorRecord::new(&new, vector(round)).with_metadata(json!({"v": round}))])
                    .await
                    .unwrap();
                model.lock().unwrap().versions.insert(new, round);
            }
        })
    };
    let searcher = {
        let (db, model) = (db.clone(), model.clone());
        tokio::spawn(async move {
            let mut searches = 0;
            for i in 0..150u64 {
                // Everything acknowledged before the search starts must be respected by it.
                let (deleted, floor): (BTreeSet<String>, BTreeMap<String, u64>) = {
                    let m = model.lock().unwrap();
                    (m.deleted.clone(), m.versions.clone())
                };
                let mut request = SearchRequest::new(vector(i), 50);
                request.include_metadata = true;
                // Half through `search`, half through `unified_search`: both follow the move.
                let hits = if i % 2 == 0 {
                    db.search("c", request).await.unwrap().hits
                } else {
                    let found = db.unified_search("c", request, &SearchStrategy::default()).await.unwrap();
                    assert!(!found.partial, "search {i}: {:?}", found.engines);
                    found.hits
                };
                for hit in &hits {
                    assert!(!deleted.contains(&hit.id), "search {i} returned {} after its delete", hit.id);
                    let v = hit.metadata.as_ref().unwrap()["v"].as_u64().unwrap();
                    if let Some(&acked) = floor.get(&hit.id) {
                        assert!(v >= acked, "search {i} returned {} v{v}, older than acknowledged v{acked}", hit.id);
                    }
                }
                searches += 1;
            }
            searches
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let moved = db.migrate_collection("c", "memory").await.unwrap();
    assert_eq!((moved.from.as_str(), moved.to.as_str()), ("viper", "memory"));
    writer.await.unwrap();
    assert_eq!(searcher.await.unwrap(), 150);

    // Afterwards the collection equals the model, and lives only on the target.
    let m = std::mem::take(&mut *model.lock().unwrap());
    let ids: Vec<String> = m.versions.keys().chain(m.deleted.iter()).cloned().collect();
    let got = db.get("c", &ids).await.unwrap();
    for (id, record) in ids.iter().zip(got) {
        match m.versions.get(id) {
            Some(v) => assert_eq!(record.expect(id).record.metadata["v"], json!(v), "{id}"),
            None => assert!(record.is_none(), "{id} was deleted"),
        }
    }
    assert_eq!(db.stats("c").await.unwrap().live_records, m.versions.len() as u64);
    assert_eq!(db.collection("c").await.unwrap().engine.as_deref(), Some("memory"));
    let engines = db.engines();
    assert!(engines["viper"].list_collections().await.unwrap().is_empty(), "the source copy is gone");
}

#[tokio::test]
async fn rebalance_moves_collections_the_policy_places_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    for (name, n) in [("big", 150u64), ("small", 5)] {
        let mut config = CollectionConfig::new(name, 4);
        config.engine = Some(if name == "big" { "memory" } else { "viper" }.into());
        db.create_collection(config).await.unwrap();
        db.upsert(name, (0..n).map(|i| VectorRecord::new(format!("r{i}"), vector(i))).collect()).await.unwrap();
    }
    db.set_routing(RoutingStrategy::DataCharacteristics {
        large_records: 100,
        high_dimension: 4_096,
        large_engine: "viper".into(),
        small_engine: "memory".into(),
    });
    let moves = db.rebalance_collections().await.unwrap();
    let summary: Vec<(&str, &str, &str)> =
        moves.iter().map(|m| (m.collection.as_str(), m.from.as_str(), m.to.as_str())).collect();
    assert_eq!(summary, [("big", "memory", "viper"), ("small", "viper", "memory")]);
    assert_eq!(db.stats("big").await.unwrap().live_records, 150);
    assert_eq!(db.stats("small").await.unwrap().live_records, 5);
    assert!(db.rebalance_collections().await.unwrap().is_empty(), "a second pass has nothing to move");
}
