//! One collection's edges in memory, indexed both ways, each node's edges kept
//! in step order so a hop reads only the first `fan_out` that qualify.

use std::collections::HashMap;
use std::sync::Arc;

use crate::edge::{Direction, Edge, EdgeKey};
use crate::traverse::{Step, step_cmp, step_order};

/// An edge as one of its endpoints holds it.
#[derive(Debug, Clone)]
struct Half {
    other: Arc<str>,
    ty: Arc<str>,
    weight: f32,
}

impl Half {
    fn step(&self) -> Step {
        Step { id: self.other.to_string(), ty: self.ty.to_string(), weight: self.weight }
    }
}

/// A collection's edges.
#[derive(Debug, Default, Clone)]
pub(crate) struct Graph {
    out: HashMap<Arc<str>, Vec<Half>>,
    into: HashMap<Arc<str>, Vec<Half>>,
    edges: usize,
}

impl Graph {
    pub(crate) fn len(&self) -> usize {
        self.edges
    }

    /// Inserts `edge`, or replaces the weight of the edge with its key.
    pub(crate) fn upsert(&mut self, edge: &Edge) {
        let (from, to, ty): (Arc<str>, Arc<str>, Arc<str>) =
            (edge.from.as_str().into(), edge.to.as_str().into(), edge.ty.as_str().into());
        let replaced = place(
            self.out.entry(from.clone()).or_default(),
            Half { other: to.clone(), ty: ty.clone(), weight: edge.weight },
        );
        place(self.into.entry(to).or_default(), Half { other: from, ty, weight: edge.weight });
        if !replaced {
            self.edges += 1;
        }
    }

    /// Removes the edge with `key`; whether there was one.
    pub(crate) fn remove(&mut self, key: &EdgeKey) -> bool {
        let removed = take(&mut self.out, &key.from, &key.to, &key.ty);
        take(&mut self.into, &key.to, &key.from, &key.ty);
        self.edges -= usize::from(removed);
        removed
    }

    /// Whether any edge touches `id`.
    pub(crate) fn touches(&self, id: &str) -> bool {
        self.out.contains_key(id) || self.into.contains_key(id)
    }

    /// Removes every edge touching `id`; how many.
    pub(crate) fn remove_node(&mut self, id: &str) -> usize {
        let mut removed = 0;
        for half in self.out.remove(id).unwrap_or_default() {
            take(&mut self.into, &half.other, id, &half.ty);
            removed += 1;
        }
        for half in self.into.remove(id).unwrap_or_default() {
            take(&mut self.out, &half.other, id, &half.ty);
            removed += 1;
        }
        self.edges -= removed;
        removed
    }

    /// The first `fan_out` steps out of `id` in step order, among `types` (all when empty).
    pub(crate) fn steps(&self, id: &str, direction: Direction, types: &[String], fan_out: usize) -> Vec<Step> {
        let wanted = |h: &&Half| types.is_empty() || types.iter().any(|t| **t == *h.ty);
        let mut steps: Vec<Step> = Vec::with_capacity(fan_out * 2);
        for (follow, map) in [(direction.follows_out(), &self.out), (direction.follows_in(), &self.into)] {
            if follow && let Some(halves) = map.get(id) {
                steps.extend(halves.iter().filter(wanted).take(fan_out).map(Half::step));
            }
        }
        if direction == Direction::Both {
            steps.sort_by(step_order);
            steps.truncate(fan_out);
        }
        steps
    }

    /// Every edge, in no particular order.
    pub(crate) fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.out.iter().flat_map(|(from, halves)| {
            halves.iter().map(move |h| Edge::new(from.to_string(), h.other.to_string(), h.ty.to_string(), h.weight))
        })
    }
}

/// Puts `half` where step order says, replacing one with the same other end and type.
fn place(halves: &mut Vec<Half>, half: Half) -> bool {
    let replaced = match halves.iter().position(|h| h.other == half.other && h.ty == half.ty) {
        Some(at) => {
            halves.remove(at);
            true
        }
        None => false,
    };
    let key = (half.weight, &*half.other, &*half.ty);
    let at = halves.partition_point(|h| step_cmp((h.weight, &h.other, &h.ty), key).is_lt());
    halves.insert(at, half);
    replaced
}

fn take(map: &mut HashMap<Arc<str>, Vec<Half>>, at: &str, other: &str, ty: &str) -> bool {
    let Some(halves) = map.get_mut(at) else { return false };
    let Some(index) = halves.iter().position(|h| &*h.other == other && &*h.ty == ty) else { return false };
    halves.remove(index);
    if halves.is_empty() {
        map.remove(at);
    }
    true
}
