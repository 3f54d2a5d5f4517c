//! The conformance suite every [`RelationStore`] passes, and a brute-force
//! traversal oracle written plainly from the documented rule.

use std::collections::HashMap;

use serde_json::json;

use crate::edge::{Direction, Edge, EdgeKey};
use crate::policy::{Event, EventKind, Preference, ResolvedEvent, UserPolicy};
use crate::store::RelationStore;
use crate::traverse::{Neighbour, Step, Traversal, sort_neighbours, step_order};

/// Runs every check on `store`, in collections named after `prefix` (so a
/// shared server can hold several runs).
pub async fn conformance(store: &dyn RelationStore, prefix: &str) {
    edges_upsert_reweight_and_delete(store, &format!("{prefix}_edges")).await;
    records_take_their_edges(store, &format!("{prefix}_records")).await;
    traversal_matches_the_oracle(store, &format!("{prefix}_walk")).await;
    profiles_keep_policy_and_learning(store, &format!("{prefix}_user")).await;
}

async fn edges_upsert_reweight_and_delete(store: &dyn RelationStore, c: &str) {
    store.replace_collection(c, Vec::new()).await.unwrap();
    let edges = vec![Edge::new("a", "b", "T", 0.5), Edge::new("a", "c", "T", 0.9), Edge::new("a", "b", "U", 1.0)];
    store.upsert_edges(c, edges).await.unwrap();
    store.upsert_edges(c, vec![Edge::new("a", "b", "T", 0.7)]).await.unwrap();
    assert_eq!(store.edge_count(c).await.unwrap(), 3);
    let exported = store.export_collection(c).await.unwrap();
    assert_eq!(
        exported,
        vec![Edge::new("a", "b", "T", 0.7), Edge::new("a", "b", "U", 1.0), Edge::new("a", "c", "T", 0.9)]
    );
    let steps = store.steps_of(c, &["a".into(), "b".into(), "zz".into()], &[], Direction::Out, 2).await.unwrap();
    let ids: Vec<Vec<(&str, f32)>> =
        steps.iter().map(|s| s.iter().map(|s| (s.id.as_str(), s.weight)).collect()).collect();
    assert_eq!(ids, vec![vec![("b", 1.0), ("c", 0.9)], vec![], vec![]]);
    let back = store.steps_of(c, &["b".into()], &["T".into()], Direction::In, 5).await.unwrap();
    assert_eq!(back[0], vec![Step { id: "a".into(), ty: "T".into(), weight: 0.7 }]);
    let key = |f: &str, t: &str, ty: &str| EdgeKey { from: f.into(), to: t.into(), ty: ty.into() };
    let removed = store.delete_edges(c, vec![key("a", "b", "U"), key("a", "b", "nope")]).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(store.edge_count(c).await.unwrap(), 2);
    assert_eq!(store.edge_count(&format!("{c}_other")).await.unwrap(), 0, "collections are separate");
    store.replace_collection(c, vec![Edge::new("x", "y", "T", 1.0)]).await.unwrap();
    assert_eq!(store.export_collection(c).await.unwrap(), vec![Edge::new("x", "y", "T", 1.0)]);
    store.replace_collection(c, Vec::new()).await.unwrap();
    assert_eq!(store.edge_count(c).await.unwrap(), 0);
}

async fn records_take_their_edges(store: &dyn RelationStore, c: &str) {
    store.replace_collection(c, Vec::new()).await.unwrap();
    let edges = vec![Edge::new("a", "b", "T", 1.0), Edge::new("b", "c", "T", 1.0), Edge::new("c", "a", "T", 1.0)];
    store.upsert_edges(c, edges).await.unwrap();
    assert_eq!(store.remove_records(c, vec!["b".into(), "nobody".into()]).await.unwrap(), 2);
    assert_eq!(store.export_collection(c).await.unwrap(), vec![Edge::new("c", "a", "T", 1.0)]);
    let walk = store.traverse(c, &Traversal::from(["a"]).depth(3)).await.unwrap();
    assert!(walk.is_empty(), "no path leaves a through the removed b: {walk:?}");
}

async fn traversal_matches_the_oracle(store: &dyn RelationStore, c: &str) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..12 {
        let nodes = 4 + rng.below(10);
        let mut edges: HashMap<EdgeKey, Edge> = HashMap::new();
        for _ in 0..rng.below(nodes * 3) + 1 {
            let (a, b) = (rng.below(nodes), rng.below(nodes));
            if a == b {
                continue;
            }
            // Few distinct weights, so ties in step order are exercised.
            let weight = [0.25, 0.5, 0.5, 0.75, 1.0][rng.below(5)];
            let edge = Edge::new(format!("n{a}"), format!("n{b}"), ["T", "U"][rng.below(2)], weight);
            edges.insert(edge.key(), edge);
        }
        let edges: Vec<Edge> = edges.into_values().collect();
        store.replace_collection(c, edges.clone()).await.unwrap();
        for _ in 0..6 {
            let traversal = Traversal {
                start_ids: (0..1 + rng.below(2)).map(|_| format!("n{}", rng.below(nodes))).collect(),
                types: [vec![], vec!["T".to_string()], vec!["U".to_string()]][rng.below(3)].clone(),
                direction: [Direction::Out, Direction::In, Direction::Both][rng.below(3)],
                depth: 1 + rng.below(3) as u8,
                fan_out: 1 + rng.below(3),
            };
            let got = store.traverse(c, &traversal).await.unwrap();
            let want = oracle(&edges, &traversal);
            assert_eq!(got, want, "round {round}: {traversal:?} over {edges:?}");
        }
    }
    store.replace_collection(c, Vec::new()).await.unwrap();
}

async fn profiles_keep_policy_and_learning(store: &dyn RelationStore, user: &str) {
    assert_eq!(store.profile(&format!("{user}_never")).await.unwrap(), None);
    let policy = UserPolicy {
        preferences: vec![Preference { field: "genre".into(), value: json!("drama"), boost: 0.3 }],
        constraints: Some(proxima_core::Filter::Not(Box::new(proxima_core::Filter::eq("rating", "X")))),
        blend: 0.5,
    };
    let stored = store.put_policy(user, policy.clone()).await.unwrap();
    assert_eq!(stored.policy, policy);
    let events: Vec<ResolvedEvent> = (0..3)
        .map(|i| ResolvedEvent {
            collection: "movies".into(),
            event: Event { id: format!("m{i}"), event: EventKind::Like, value: None },
            at_ms: 1_000 + i,
            fields: vec![("genre".into(), json!("drama"))],
        })
        .collect();
    let learned = store.record_events(user, events).await.unwrap();
    assert_eq!(learned.liked_in("movies"), ["m2", "m1", "m0"]);
    assert_eq!(learned.policy, policy, "events keep the stated policy");
    let replaced = store.put_policy(user, UserPolicy::default()).await.unwrap();
    assert_eq!(replaced.learned, learned.learned, "a new policy keeps what was learned");
    assert!(replaced.version > learned.version);
    assert_eq!(store.profile(user).await.unwrap(), Some(replaced));
}

/// Every simple path of at most `depth` hops from every start, each hop
/// among the node's first `fan_out` qualifying edges in step order.
pub fn oracle(edges: &[Edge], traversal: &Traversal) -> Vec<Neighbour> {
    let steps = |node: &str| -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for e in edges.iter().filter(|e| traversal.types.is_empty() || traversal.types.contains(&e.ty)) {
            if traversal.direction.follows_out() && e.from == node {
                steps.push(Step { id: e.to.clone(), ty: e.ty.clone(), weight: e.weight });
            }
            if traversal.direction.follows_in() && e.to == node {
                steps.push(Step { id: e.from.clone(), ty: e.ty.clone(), weight: e.weight });
            }
        }
        steps.sort_by(step_order);
        steps.truncate(traversal.fan_out);
        steps
    };
    let mut best: HashMap<String, (f64, u8)> = HashMap::new();
    let mut paths: Vec<(Vec<String>, f64)> = traversal.start_ids.iter().map(|s| (vec![s.clone()], 1.0)).collect();
    for hop in 1..=traversal.depth {
        let mut longer = Vec::new();
        for (path, score) in &paths {
            for step in steps(path.last().expect("paths are never empty")) {
                if path.contains(&step.id) {
                    continue;
                }
                let score = score * f64::from(step.weight);
                if !traversal.start_ids.contains(&step.id) {
                    let slot = best.entry(step.id.clone()).or_insert((score, hop));
                    if score > slot.0 {
                        *slot = (score, hop);
                    }
                }
                let mut path = path.clone();
                path.push(step.id);
                longer.push((path, score));
            }
        }
        paths = longer;
    }
    let mut found: Vec<Neighbour> =
        best.into_iter().map(|(id, (score, depth))| Neighbour { id, score, depth }).collect();
    sort_neighbours(&mut found);
    found
}

/// A small deterministic generator (xorshift64*), so the suite needs no crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}
