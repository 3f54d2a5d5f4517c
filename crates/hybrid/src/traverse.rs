//! Traversal: which records a walk over the edges reaches, and how well.
//!
//! From each node a hop follows at most `fan_out` edges: the heaviest of the
//! node's edges in the requested direction and types, ties broken by the
//! neighbour's id, then the type (byte order). A node's score is the best
//! product of weights over the walks of at most `depth` hops from any start
//! id; its depth is the length of the shortest walk with that score. Start ids
//! are never results.
//!
//! Because weights are at most 1, a walk that repeats a node never beats the
//! same walk with the loop cut out, so the best walk is a simple path: the
//! layered search here (one frontier per hop, best score per node) and a
//! recursive query that enumerates simple paths give the same answer.

use std::collections::{HashMap, HashSet};

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::edge::{Direction, MAX_DEPTH, MAX_FAN_OUT, MAX_START_IDS, validate_type};

/// Edges followed per node per hop when a traversal does not say.
pub const DEFAULT_FAN_OUT: usize = 16;

/// A walk over a collection's edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Traversal {
    /// Where the walk starts.
    pub start_ids: Vec<String>,
    /// Edge types followed; empty follows every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// `out` (default), `in` or `both`.
    #[serde(default)]
    pub direction: Direction,
    /// Hops, 1..=3 (default 1).
    #[serde(default = "one_hop")]
    pub depth: u8,
    /// Edges followed out of each node per hop, 1..=64 (default 16).
    #[serde(default = "default_fan_out")]
    pub fan_out: usize,
}

fn one_hop() -> u8 {
    1
}

fn default_fan_out() -> usize {
    DEFAULT_FAN_OUT
}

impl Traversal {
    /// A one-hop walk out of `start_ids` along every type.
    pub fn from(start_ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            start_ids: start_ids.into_iter().map(Into::into).collect(),
            types: Vec::new(),
            direction: Direction::Out,
            depth: 1,
            fan_out: DEFAULT_FAN_OUT,
        }
    }

    /// The same walk, `depth` hops deep.
    pub fn depth(mut self, depth: u8) -> Self {
        self.depth = depth;
        self
    }

    /// Checks depth, fan-out, start ids and types.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(Error::invalid(format!("depth {} is outside 1..={MAX_DEPTH}", self.depth)));
        }
        if !(1..=MAX_FAN_OUT).contains(&self.fan_out) {
            return Err(Error::invalid(format!("fan_out {} is outside 1..={MAX_FAN_OUT}", self.fan_out)));
        }
        if self.start_ids.len() > MAX_START_IDS {
            return Err(Error::invalid(format!("a traversal starts from at most {MAX_START_IDS} ids")));
        }
        if self.start_ids.iter().any(String::is_empty) {
            return Err(Error::invalid("a start id is empty"));
        }
        self.types.iter().try_for_each(|t| validate_type(t))
    }
}

/// A record a traversal reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Neighbour {
    /// The record.
    pub id: String,
    /// The best product of weights along a walk to it.
    pub score: f64,
    /// Hops of the shortest walk with that score.
    pub depth: u8,
}

/// One edge as seen from the node a hop leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The node the edge leads to.
    pub id: String,
    /// The edge's type.
    pub ty: String,
    /// The edge's weight.
    pub weight: f32,
}

/// The order a node's candidate steps are taken in: heaviest first, then by id, then type.
pub fn step_order(a: &Step, b: &Step) -> std::cmp::Ordering {
    step_cmp((a.weight, &a.id, &a.ty), (b.weight, &b.id, &b.ty))
}

/// [`step_order`] on borrowed parts: `(weight, id, type)`.
pub fn step_cmp(a: (f32, &str, &str), b: (f32, &str, &str)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)).then_with(|| a.2.cmp(b.2))
}

/// Walks `traversal` where `steps(node)` yields the node's candidate steps,
/// already restricted to the direction, the types and the fan-out.
pub fn walk(traversal: &Traversal, mut steps: impl FnMut(&str) -> Vec<Step>) -> Vec<Neighbour> {
    let starts: HashSet<&str> = traversal.start_ids.iter().map(String::as_str).collect();
    let mut best: HashMap<String, (f64, u8)> = HashMap::new();
    let mut frontier: HashMap<String, f64> = starts.iter().map(|s| (s.to_string(), 1.0)).collect();
    for hop in 1..=traversal.depth {
        let mut next: HashMap<String, f64> = HashMap::new();
        for (node, score) in &frontier {
            for step in steps(node) {
                let reached = score * f64::from(step.weight);
                let slot = next.entry(step.id).or_insert(reached);
                *slot = slot.max(reached);
            }
        }
        for (node, score) in &next {
            if starts.contains(node.as_str()) {
                continue;
            }
            match best.get_mut(node) {
                Some(found) if score > &found.0 => *found = (*score, hop),
                Some(_) => {}
                None => {
                    best.insert(node.clone(), (*score, hop));
                }
            }
        }
        frontier = next;
    }
    let mut found: Vec<Neighbour> =
        best.into_iter().map(|(id, (score, depth))| Neighbour { id, score, depth }).collect();
    sort_neighbours(&mut found);
    found
}

/// Best score first, then the shorter walk, then by id.
pub fn sort_neighbours(found: &mut [Neighbour]) {
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.depth.cmp(&b.depth)).then_with(|| a.id.cmp(&b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str, f32)]) -> impl FnMut(&str) -> Vec<Step> {
        let edges: Vec<(String, String, f32)> =
            edges.iter().map(|(a, b, w)| (a.to_string(), b.to_string(), *w)).collect();
        move |node| {
            let mut out: Vec<Step> = edges
                .iter()
                .filter(|(a, _, _)| a == node)
                .map(|(_, b, w)| Step { id: b.clone(), ty: "T".into(), weight: *w })
                .collect();
            out.sort_by(step_order);
            out
        }
    }

    #[test]
    fn products_along_paths_and_cycles_end() {
        let edges = [("a", "b", 0.5), ("b", "c", 0.5), ("a", "c", 0.2), ("c", "a", 1.0), ("c", "d", 1.0)];
        let found = walk(&Traversal::from(["a"]).depth(3), graph(&edges));
        let as_tuples: Vec<(&str, f64, u8)> = found.iter().map(|n| (n.id.as_str(), n.score, n.depth)).collect();
        assert_eq!(as_tuples, vec![("b", 0.5, 1), ("c", 0.25, 2), ("d", 0.25, 3)]);
    }

    #[test]
    fn limits_are_checked() {
        assert!(Traversal::from(["a"]).depth(0).validate().is_err());
        assert!(Traversal::from(["a"]).depth(4).validate().is_err());
        let mut wide = Traversal::from(["a"]);
        wide.fan_out = MAX_FAN_OUT + 1;
        assert!(wide.validate().unwrap_err().message().contains("fan_out"));
    }
}
