//! Hybrid queries through `Proxima`: each strategy against a reference
//! written plainly here (exact dot products, the brute-force walk oracle,
//! fusion and blending by their documented formulas); learning from likes;
//! edges following their records through deletes, expiry and snapshots; the
//! cache-only strategy; and bad input refused with nothing changed.

use std::collections::HashMap;

use proxima::core::{CollectionConfig, DistanceMetric, ErrorKind, FieldType, Filter, IndexConfig, VectorRecord};
use proxima::relations::testkit::oracle;
use proxima::relations::{Edge, Event, EventKind, Preference, Traversal, UserPolicy};
use proxima::{Proxima, ProximaConfig, QueryRequest, QueryResponse, RelationsChange, Strategy};
use serde_json::json;

const N: usize = 60;
const GENRES: [&str; 3] = ["drama", "comedy", "horror"];

struct World {
    db: Proxima,
    vectors: HashMap<String, Vec<f32>>,
    edges: Vec<Edge>,
    _dir: tempfile::TempDir,
}

/// Deterministic values in -1..1.
fn value(seed: usize) -> f32 {
    let x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5555_5555;
    (x % 20_000) as f32 / 10_000.0 - 1.0
}

fn genre(i: usize) -> &'static str {
    GENRES[i % 3]
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProximaConfig::at(dir.path());
    config.metadata_url = Some("memory://".into());
    config.engines = vec!["memory".into()];
    let db = Proxima::open(config).await.unwrap();
    let mut collection = CollectionConfig::new("items", 4).with_field("genre", FieldType::String);
    collection.metric = DistanceMetric::Dot;
    collection.index = IndexConfig::Flat;
    db.create_collection(collection).await.unwrap();
    let mut vectors = HashMap::new();
    let records: Vec<VectorRecord> = (0..N)
        .map(|i| {
            let v: Vec<f32> = (0..4).map(|d| value(i * 4 + d)).collect();
            vectors.insert(format!("i{i}"), v.clone());
            VectorRecord::new(format!("i{i}"), v).with_metadata(json!({ "genre": genre(i) }))
        })
        .collect();
    db.upsert("items", records).await.unwrap();
    let weights = [0.3, 0.5, 0.8, 1.0];
    let mut edges = Vec::new();
    for i in 0..N {
        for (step, ty) in [(7, "SIMILAR_TO"), (13, "SIMILAR_TO"), (29, "SEQUEL_OF")] {
            let to = (i * step + 1) % N;
            if to != i {
                edges.push(Edge::new(format!("i{i}"), format!("i{to}"), ty, weights[(i + step) % 4]));
            }
        }
    }
    let change = RelationsChange { upsert: edges.clone(), delete: vec![] };
    let changed = db.change_relations("items", change).await.unwrap();
    assert_eq!((changed.upserted, changed.errors.len()), (edges.len(), 0));
    World { db, vectors, edges, _dir: dir }
}

fn query(json: serde_json::Value) -> QueryRequest {
    serde_json::from_value(json).unwrap()
}

/// Every record's exact score, best first.
fn exact(world: &World, q: &[f32]) -> Vec<(String, f64)> {
    let mut scored: Vec<(String, f64)> = world
        .vectors
        .iter()
        .map(|(id, v)| (id.clone(), v.iter().zip(q).map(|(a, b)| f64::from(a * b)).sum()))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored
}

fn scale(values: &[(String, f64)]) -> impl Fn(f64) -> f64 {
    let low = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let high = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    move |v| if high > low { (v - low) / (high - low) } else { 1.0 }
}

/// Ids best first, then by id; ties within 1e-4 are compared as sets of equals.
fn ranked(mut scored: Vec<(String, f64)>, k: usize) -> Vec<(String, f64)> {
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
}

fn assert_same(answer: &QueryResponse, want: &[(String, f64)]) {
    let got: Vec<(&str, f64)> = answer.hits.iter().map(|h| (h.id.as_str(), h.score)).collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for ((gid, gs), (wid, ws)) in got.iter().zip(want) {
        assert!((gs - ws).abs() < 1e-4, "score of {gid}: {gs} vs {wid}: {ws}\n{got:?}\n{want:?}");
        // Equal scores may come in either order only if they are equal to rounding.
        if gid != wid {
            assert!(want.iter().any(|(id, s)| id == gid && (s - gs).abs() < 1e-4), "{got:?} vs {want:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_strategy_matches_its_reference() {
    let w = world().await;
    let q = vec![0.3, -0.2, 0.9, 0.1];
    let (k, n) = (5, 15);
    let all = exact(&w, &q);

    let vector_only =
        w.db.query("items", query(json!({"strategy": "vector_only", "vector": q, "k": k}))).await.unwrap();
    assert_same(&vector_only, &ranked(all.clone(), k));
    assert_eq!(vector_only.strategy, Strategy::VectorOnly);
    assert!(vector_only.hits.iter().all(|h| h.components.vector.is_some() && h.components.graph.is_none()));

    let walk = Traversal { depth: 2, ..Traversal::from(["i3"]) };
    let reached = oracle(&w.edges, &walk);
    let graph_only =
        w.db.query("items", query(json!({"strategy": "graph_only", "start_ids": ["i3"], "depth": 2, "k": k})))
            .await
            .unwrap();
    let by_path: Vec<(String, f64)> = reached.iter().map(|r| (r.id.clone(), r.score)).collect();
    assert_same(&graph_only, &ranked(by_path.clone(), k));

    // hybrid_parallel, RRF: 1/(60 + rank) summed over the two lists of n.
    let parallel =
        w.db.query(
            "items",
            query(json!({"strategy": "hybrid_parallel", "vector": q, "start_ids": ["i3"], "depth": 2, "k": k})),
        )
        .await
        .unwrap();
    let mut fused: HashMap<String, f64> = HashMap::new();
    for (rank, (id, _)) in all.iter().take(n).enumerate() {
        *fused.entry(id.clone()).or_default() += 1.0 / (61.0 + rank as f64);
    }
    for (rank, r) in reached.iter().take(n).enumerate() {
        *fused.entry(r.id.clone()).or_default() += 1.0 / (61.0 + rank as f64);
    }
    assert_same(&parallel, &ranked(fused.into_iter().collect(), k));
    let names: Vec<&str> = parallel.legs.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["plan", "vector", "graph", "rank"]);

    // hybrid_sequential: 0.7 × scaled vector + 0.3 × heaviest edge to an anchor.
    let sequential = w
        .db
        .query(
            "items",
            query(json!({"strategy": "hybrid_sequential", "vector": q, "start_ids": ["i3"], "k": k, "include_related": true})),
        )
        .await
        .unwrap();
    let top: Vec<(String, f64)> = all.iter().take(n).cloned().collect();
    let scaled = scale(&top);
    let link = |id: &str| {
        let mut out: Vec<&Edge> = w.edges.iter().filter(|e| e.from == id).collect();
        out.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.to.cmp(&b.to)).then_with(|| a.ty.cmp(&b.ty)));
        out.iter().take(16).filter(|e| e.to == "i3").map(|e| f64::from(e.weight)).fold(0.0, f64::max)
    };
    let want: Vec<(String, f64)> = top.iter().map(|(id, v)| (id.clone(), 0.7 * scaled(*v) + 0.3 * link(id))).collect();
    assert_same(&sequential, &ranked(want, k));
    for hit in &sequential.hits {
        let mut related: Vec<String> = w.edges.iter().filter(|e| e.from == hit.id).map(|e| e.to.clone()).collect();
        related.sort();
        let mut got = hit.related.clone().expect("related ids were asked for");
        got.sort();
        assert_eq!(got, related, "{}", hit.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_blends_preferences_and_constraints_exclude() {
    let w = world().await;
    let policy = UserPolicy {
        preferences: vec![Preference { field: "genre".into(), value: json!("drama"), boost: 0.8 }],
        constraints: Some(Filter::Not(Box::new(Filter::eq("genre", "horror")))),
        blend: 0.5,
    };
    w.db.put_user_policy("bea", policy).await.unwrap();
    let q = vec![-0.5, 0.4, 0.2, 0.7];
    let answer =
        w.db.query("items", query(json!({"strategy": "vector_only", "vector": q, "user": "bea", "k": 6})))
            .await
            .unwrap();
    let allowed: Vec<(String, f64)> =
        exact(&w, &q).into_iter().filter(|(id, _)| genre(id[1..].parse().unwrap()) != "horror").take(18).collect();
    let scaled = scale(&allowed);
    let want: Vec<(String, f64)> = allowed
        .iter()
        .map(|(id, v)| {
            let pref = if genre(id[1..].parse().unwrap()) == "drama" { 0.8 } else { 0.0 };
            (id.clone(), 0.5 * scaled(*v) + 0.5 * pref)
        })
        .collect();
    assert_same(&answer, &ranked(want, 6));
    assert!(answer.hits.iter().all(|h| h.components.policy.is_some()));
    // A user never seen ranks neutrally: the plain vector order.
    let stranger =
        w.db.query("items", query(json!({"strategy": "vector_only", "vector": q, "user": "nobody", "k": 6})))
            .await
            .unwrap();
    let plain = exact(&w, &q);
    let mut got: Vec<&str> = stranger.hits.iter().map(|h| h.id.as_str()).collect();
    let mut want: Vec<&str> = plain.iter().take(6).map(|(id, _)| id.as_str()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liking_dramas_ranks_dramas_higher() {
    let w = world().await;
    let q = vec![0.1, 0.1, 0.1, 0.1];
    let request = json!({"strategy": "vector_only", "vector": q, "user": "cal", "k": 10});
    let dramas = |a: &QueryResponse| a.hits.iter().filter(|h| genre(h.id[1..].parse().unwrap()) == "drama").count();
    let before = w.db.query("items", query(request.clone())).await.unwrap();
    let likes: Vec<Event> = ["i0", "i3", "i6", "i9"]
        .iter()
        .map(|id| Event { id: id.to_string(), event: EventKind::Like, value: None })
        .collect();
    let profile = w.db.record_user_events("cal", "items", likes).await.unwrap();
    assert_eq!(profile.liked_in("items"), ["i9", "i6", "i3", "i0"]);
    let after = w.db.query("items", query(request)).await.unwrap();
    assert!(dramas(&after) > dramas(&before), "before {} after {}", dramas(&before), dramas(&after));
    assert!(
        after
            .hits
            .iter()
            .filter(|h| genre(h.id[1..].parse().unwrap()) == "drama")
            .all(|h| h.components.policy > Some(0.3))
    );
    // The liked items anchor a walk when no start ids are given.
    let walked = w.db.query("items", query(json!({"user": "cal", "k": 5}))).await.unwrap();
    assert_eq!(walked.strategy, Strategy::GraphOnly, "{}", walked.reason);
    assert!(!walked.hits.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_only_answers_what_was_computed_and_misses_after_a_change() {
    let w = world().await;
    let body = json!({"vector": [0.2, 0.2, 0.4, 0.1], "start_ids": ["i4"], "k": 4});
    let mut only = body.clone();
    only["strategy"] = json!("cached_only");
    let miss = w.db.query("items", query(only.clone())).await.unwrap();
    assert!(miss.cache_miss && miss.hits.is_empty());
    let computed = w.db.query("items", query(body.clone())).await.unwrap();
    assert_eq!(computed.strategy, Strategy::HybridParallel);
    let hit = w.db.query("items", query(only.clone())).await.unwrap();
    assert_eq!((hit.strategy, hit.cache_miss), (Strategy::CachedOnly, false));
    assert_eq!(hit.hits, computed.hits);
    assert!(hit.reason.contains("hybrid_parallel"), "{}", hit.reason);
    let again = w.db.query("items", query(body)).await.unwrap();
    assert_eq!(again.strategy, Strategy::CachedOnly, "auto answers from the cache: {}", again.reason);
    w.db.change_relations("items", RelationsChange { upsert: vec![Edge::new("i4", "i5", "NEW", 1.0)], delete: vec![] })
        .await
        .unwrap();
    assert!(w.db.query("items", query(only)).await.unwrap().cache_miss, "a relation change invalidates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_follow_their_records() {
    let w = world().await;
    let before = w.db.relations_of("items", "i1", Traversal::from(["ignored"])).await.unwrap();
    let first = before[0].id.clone();
    w.db.delete("items", vec![first.clone()]).await.unwrap();
    let exported = w.db.export_relations("items").await.unwrap();
    assert!(exported.iter().all(|e| e.from != first && e.to != first), "a deleted record's edges go with it");
    let after = w.db.relations_of("items", "i1", Traversal::from(["i1"])).await.unwrap();
    assert!(after.iter().all(|n| n.id != first));
    // An expired record is never returned through an edge.
    let expires_at = proxima::core::now_unix_secs() + 1;
    let mut short = VectorRecord::new("brief", vec![0.1; 4]);
    short.expires_at = Some(expires_at);
    w.db.upsert("items", vec![short]).await.unwrap();
    w.db.change_relations(
        "items",
        RelationsChange { upsert: vec![Edge::new("i1", "brief", "T", 1.0)], delete: vec![] },
    )
    .await
    .unwrap();
    assert!(w.db.relations_of("items", "i1", Traversal::from(["i1"])).await.unwrap().iter().any(|n| n.id == "brief"));
    while proxima::core::now_unix_secs() <= expires_at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(w.db.relations_of("items", "i1", Traversal::from(["i1"])).await.unwrap().iter().all(|n| n.id != "brief"));
    let graph = w.db.query("items", query(json!({"start_ids": ["i1"], "k": 50}))).await.unwrap();
    assert!(graph.hits.iter().all(|h| h.id != "brief" && h.id != first));
    // Snapshots hold the edges; a restore brings them back.
    let edges = w.db.export_relations("items").await.unwrap();
    w.db.backup_namespace("items", "b1").await.unwrap();
    w.db.change_relations("items", RelationsChange { upsert: vec![], delete: vec![edges[0].key()] }).await.unwrap();
    assert_eq!(w.db.export_relations("items").await.unwrap().len(), edges.len() - 1);
    w.db.restore_namespace("items", "b1", None).await.unwrap();
    assert_eq!(w.db.export_relations("items").await.unwrap(), edges);
    w.db.restore_namespace("items", "b1", Some("copy")).await.unwrap();
    assert_eq!(w.db.export_relations("copy").await.unwrap(), edges);
    w.db.drop_collection("copy").await.unwrap();
    w.db.create_collection(CollectionConfig::new("copy", 4)).await.unwrap();
    assert!(w.db.export_relations("copy").await.unwrap().is_empty(), "a dropped collection's edges go with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() {
    let w = world().await;
    let count = w.db.export_relations("items").await.unwrap().len();
    let invalid = |body: serde_json::Value| {
        let db = &w.db;
        async move { db.query("items", query(body)).await.unwrap_err() }
    };
    for (body, needle) in [
        (json!({"start_ids": ["i1"], "depth": 4}), "depth"),
        (json!({"start_ids": ["i1"], "fan_out": 65}), "fan_out"),
        (json!({"k": 3}), "empty query"),
        (json!({"strategy": "graph_only", "vector": [1, 0, 0, 0]}), "graph_only needs"),
        (json!({"vector": [1, 0]}), "dimension"),
        (json!({"start_ids": ["i1"], "overfetch": 0}), "overfetch"),
        (json!({"user": "no spaces please"}), "user"),
    ] {
        let err = invalid(body.clone()).await;
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{body}: {err}");
        assert!(err.message().contains(needle), "{body}: {err}");
    }
    let missing = invalid(json!({"start_ids": ["nope"]})).await;
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    assert!(serde_json::from_value::<QueryRequest>(json!({"strategy": "fastest"})).is_err());
    assert!(serde_json::from_value::<QueryRequest>(json!({"direction": "sideways"})).is_err());

    let bad_edges = RelationsChange {
        upsert: vec![Edge::new("i1", "i2", "T", 1.0), Edge::new("i1", "i3", "T", 7.0)],
        delete: vec![],
    };
    let err = w.db.change_relations("items", bad_edges).await.unwrap_err();
    assert!(err.message().contains("upsert[1]"), "{err}");
    assert_eq!(w.db.export_relations("items").await.unwrap().len(), count, "nothing changed");
    let partly = RelationsChange {
        upsert: vec![Edge::new("i1", "ghost", "T", 1.0), Edge::new("i1", "i2", "NEW", 1.0)],
        delete: vec![],
    };
    let changed = w.db.change_relations("items", partly).await.unwrap();
    assert_eq!((changed.upserted, changed.errors.len(), changed.errors[0].index), (1, 1, 0));
    assert!(changed.errors[0].message.contains("ghost"));

    let undeclared = UserPolicy {
        preferences: vec![Preference { field: "mood".into(), value: json!("sad"), boost: 0.2 }],
        ..UserPolicy::default()
    };
    assert!(w.db.put_user_policy("dee", undeclared).await.unwrap_err().message().contains("declared by no collection"));
    let mistyped = UserPolicy {
        preferences: vec![Preference { field: "genre".into(), value: json!(3), boost: 0.2 }],
        ..UserPolicy::default()
    };
    assert!(w.db.put_user_policy("dee", mistyped).await.unwrap_err().message().contains("declared String"));
    assert_eq!(w.db.user_profile("dee").await.unwrap().version, 0, "nothing stored");
    let ghost = vec![
        Event { id: "i1".into(), event: EventKind::Like, value: None },
        Event { id: "ghost".into(), event: EventKind::Like, value: None },
    ];
    assert_eq!(w.db.record_user_events("dee", "items", ghost).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(w.db.user_profile("dee").await.unwrap().events, 0, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_names_its_candidates_and_their_latency() {
    let w = world().await;
    let body = json!({"vector": [0.2, 0.1, 0.4, 0.1], "start_ids": ["i4"], "k": 4, "budget_ms": 10000});
    let plan = w.db.plan_query("items", &query(body.clone())).await.unwrap();
    assert_eq!(plan.strategy, Strategy::HybridParallel);
    assert!(plan.candidates.iter().all(|c| c.p95_ms.is_none()));
    for strategy in ["hybrid_parallel", "hybrid_sequential", "vector_only"] {
        let mut named = body.clone();
        named["strategy"] = json!(strategy);
        named["k"] = json!(5); // another key each time: computed, not cached
        w.db.query("items", query(named)).await.unwrap();
    }
    let plan = w.db.plan_query("items", &query(body)).await.unwrap();
    assert!(plan.candidates.iter().all(|c| c.samples == 1 && c.p95_ms.is_some()), "{plan:?}");
    let analytics = w.db.get_performance_analytics(Some("items")).await.unwrap();
    let text = serde_json::to_string(&analytics).unwrap();
    assert!(text.contains("query_hybrid_sequential"), "each strategy is counted: {text}");
}
