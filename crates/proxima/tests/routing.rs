//! Placement: every routing strategy puts collections where it says, and the
//! catalogue then sends every operation on a collection to that engine.

use std::sync::Arc;

use proxima::core::{CollectionConfig, ErrorKind, VectorRecord};
use proxima::engine::{MemoryEngine, VectorStorage};
use proxima::{Condition, Proxima, ProximaConfig, RoutingRule, RoutingStrategy};

async fn open(dir: &std::path::Path) -> Proxima {
    let mut config = ProximaConfig::at(dir);
    config.metadata_url = Some("memory://".to_string());
    config.engines = vec!["viper".to_string(), "memory".to_string()];
    Proxima::open(config).await.unwrap()
}

async fn placed(db: &Proxima, name: &str, dimension: u32, expected: u64) -> String {
    let config = db.create_collection_sized(CollectionConfig::new(name, dimension), expected).await.unwrap();
    let engine = config.engine.unwrap();
    // The data really goes there, and only there.
    db.upsert(name, vec![VectorRecord::new("x", vec![1.0; dimension as usize])]).await.unwrap();
    for (engine_name, e) in db.engines() {
        let holds = e.list_collections().await.unwrap().iter().any(|c| c.name == name);
        assert_eq!(holds, engine_name == engine, "{name} on {engine_name}");
    }
    assert_eq!(db.engines()[&engine].get(name, &["x".to_string()]).await.unwrap()[0].as_ref().unwrap().record.id, "x");
    engine
}

#[tokio::test]
async fn every_strategy_places_collections_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;

    assert_eq!(placed(&db, "default", 3, 0).await, "viper", "CollectionBased: the default engine");
    let mut named = CollectionConfig::new("named", 3);
    named.engine = Some("memory".into());
    assert_eq!(db.create_collection(named).await.unwrap().engine.as_deref(), Some("memory"));

    db.set_routing(RoutingStrategy::DataCharacteristics {
        large_records: 1_000,
        high_dimension: 512,
        large_engine: "viper".into(),
        small_engine: "memory".into(),
    });
    assert_eq!(placed(&db, "small", 3, 10).await, "memory");
    assert_eq!(placed(&db, "many", 3, 5_000).await, "viper");
    assert_eq!(placed(&db, "wide", 768, 0).await, "viper");

    db.set_routing(RoutingStrategy::RoundRobin);
    let turns = [placed(&db, "rr1", 2, 0).await, placed(&db, "rr2", 2, 0).await, placed(&db, "rr3", 2, 0).await];
    assert_eq!(turns, ["memory", "viper", "memory"]);

    // Now viper holds default, many, wide, rr2 (4); memory holds named, small, rr1, rr3 (4).
    db.set_routing(RoutingStrategy::LoadBalanced);
    assert_eq!(placed(&db, "lb1", 2, 0).await, "memory", "a tie goes by name");
    assert_eq!(placed(&db, "lb2", 2, 0).await, "viper", "then the engine holding fewer");

    db.set_routing(RoutingStrategy::Rules(vec![
        RoutingRule { priority: 5, condition: Condition::SizeBelow(100), engine: "memory".into() },
        RoutingRule {
            priority: 10,
            condition: Condition::DimensionRange { min: 100, max: 1_000 },
            engine: "viper".into(),
        },
        RoutingRule {
            priority: 1,
            condition: Condition::And(vec![
                Condition::DimensionRange { min: 1, max: 10 },
                Condition::Or(vec![Condition::SizeAtLeast(1_000_000), Condition::SizeBelow(0)]),
            ]),
            engine: "memory".into(),
        },
    ]));
    assert_eq!(placed(&db, "both-match", 128, 10).await, "viper", "the higher priority wins");
    assert_eq!(placed(&db, "small-rule", 3, 10).await, "memory");
    assert_eq!(placed(&db, "no-rule", 20, 500).await, "viper", "no rule matches: the default engine");
    assert_eq!(placed(&db, "and-or", 3, 2_000_000).await, "memory");

    db.set_routing(RoutingStrategy::Rules(vec![RoutingRule {
        priority: 1,
        condition: Condition::SizeBelow(10),
        engine: "nowhere".into(),
    }]));
    let err = db.create_collection(CollectionConfig::new("lost", 2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(db.collection("lost").await.unwrap_err().kind(), ErrorKind::NotFound, "nothing was created");
}

#[tokio::test]
async fn engines_register_and_deregister_at_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let scratch: Arc<dyn VectorStorage> = Arc::new(MemoryEngine::new());
    db.register_engine("scratch", scratch).unwrap();
    assert_eq!(
        db.register_engine("scratch", Arc::new(MemoryEngine::new())).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    let mut config = CollectionConfig::new("tmp", 2);
    config.engine = Some("scratch".into());
    db.create_collection(config).await.unwrap();
    db.upsert("tmp", vec![VectorRecord::new("a", vec![1.0, 0.0])]).await.unwrap();
    assert_eq!(db.deregister_engine("scratch").await.unwrap_err().kind(), ErrorKind::Conflict, "it still holds `tmp`");
    assert_eq!(db.deregister_engine("viper").await.unwrap_err().kind(), ErrorKind::Conflict, "the default engine");
    db.drop_collection("tmp").await.unwrap();
    db.deregister_engine("scratch").await.unwrap();
    assert!(!db.engines().contains_key("scratch"));
    assert_eq!(db.deregister_engine("scratch").await.unwrap_err().kind(), ErrorKind::NotFound);
}
