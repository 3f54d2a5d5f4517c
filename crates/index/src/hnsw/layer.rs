//! The greedy beam search over one layer, shared by build and query.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::MAX_M;
use crate::visited::VisitedSet;
use crate::{Distance, Neighbor, Sq8, Sq8Query};

/// Read access to neighbour lists, frozen or under construction.
pub(super) trait Links {
    /// Calls `f` with the neighbours of `node` at `level`.
    fn with_neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R;

    /// Hints that `node`'s layer-0 list is read soon.
    fn prefetch_links(&self, _node: u32) {}
}

/// How a walk measures a node: exactly on the rows, or on their codes.
pub(super) enum Scorer<'a> {
    /// The segment's rows, `dimension` floats each; node `i` is row `rows[i]` when renumbered.
    Exact { distance: &'a Distance, vectors: &'a [f32], dimension: usize, query: &'a [f32], rows: Option<&'a [u32]> },
    /// The graph's 8-bit codes, with the query prepared for them.
    Codes { codes: &'a Sq8, query: Sq8Query },
}

/// The query side of a layer search: how nodes are scored, and counters.
pub(super) struct Probe<'a> {
    pub(super) scorer: Scorer<'a>,
    /// Distance computations made so far.
    pub(super) computations: u64,
    /// Nodes whose neighbour lists were walked.
    pub(super) expanded: u64,
}

impl<'a> Probe<'a> {
    /// A probe scoring exactly on `vectors`, where node `i` is row `rows[i]` (or `i`).
    pub(super) fn exact(
        distance: &'a Distance,
        vectors: &'a [f32],
        dimension: usize,
        query: &'a [f32],
        rows: Option<&'a [u32]>,
    ) -> Self {
        Probe { scorer: Scorer::Exact { distance, vectors, dimension, query, rows }, computations: 0, expanded: 0 }
    }

    /// A probe scoring `query` on `codes`.
    pub(super) fn codes(codes: &'a Sq8, query: &[f32]) -> Self {
        Probe { scorer: Scorer::Codes { codes, query: codes.query(query) }, computations: 0, expanded: 0 }
    }

    #[inline]
    pub(super) fn distance_to(&mut self, node: u32) -> f32 {
        self.computations += 1;
        match &self.scorer {
            Scorer::Exact { distance, vectors, dimension, query, rows } => {
                let row = rows.map_or(node, |rows| rows[node as usize]);
                let at = row as usize * dimension;
                distance.distance(query, &vectors[at..at + dimension])
            }
            Scorer::Codes { codes, query } => codes.distance(query, node),
        }
    }

    #[inline]
    fn prefetch(&self, node: u32) {
        match &self.scorer {
            Scorer::Exact { vectors, dimension, rows, .. } => {
                let row = rows.map_or(node, |rows| rows[node as usize]);
                if let Some(row) = vectors.get(row as usize * dimension..) {
                    crate::prefetch::bytes(row, 4);
                }
            }
            Scorer::Codes { codes, .. } => codes.prefetch(node),
        }
    }
}

/// The neighbours of `node` not visited yet (now marked), with their vectors
/// already requested from memory: asking for all of them before scoring any
/// lets the loads overlap instead of waiting for one cache miss at a time.
#[inline]
fn unvisited<L: Links>(
    links: &L,
    probe: &Probe<'_>,
    visited: &mut VisitedSet,
    node: u32,
    level: usize,
) -> ([u32; 2 * MAX_M], usize) {
    let mut fresh = [0u32; 2 * MAX_M];
    let mut count = 0;
    links.with_neighbors(node, level, |neighbors| {
        for &n in neighbors {
            if !visited.check_and_mark(n) {
                probe.prefetch(n);
                fresh[count] = n;
                count += 1;
            }
        }
    });
    (fresh, count)
}

/// Greedy descent with a beam of one, used on the upper layers.
pub(super) fn greedy<L: Links>(links: &L, probe: &mut Probe<'_>, mut best: Neighbor, level: usize) -> Neighbor {
    loop {
        let mut improved = false;
        let candidates: Vec<u32> = links.with_neighbors(best.row, level, |n| n.to_vec());
        for node in candidates {
            let d = probe.distance_to(node);
            if d < best.distance {
                best = Neighbor { row: node, distance: d };
                improved = true;
            }
        }
        if !improved {
            return best;
        }
    }
}

/// Beam search of width `ef` on `level` from `entry`.
///
/// Every reachable node is walked, but only nodes `accept` lets through enter
/// the result beam, so a filter or a liveness bitmap never returns a rejected
/// node and still lets the search pass through it. Returns up to `ef` accepted
/// neighbours, closest first.
pub(super) fn beam<L: Links>(
    links: &L,
    probe: &mut Probe<'_>,
    entry: Neighbor,
    ef: usize,
    level: usize,
    visited: &mut VisitedSet,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<Neighbor> {
    let mut frontier: BinaryHeap<Reverse<Neighbor>> = BinaryHeap::with_capacity(ef * 2);
    let mut results: BinaryHeap<Neighbor> = BinaryHeap::with_capacity(ef + 1);
    visited.check_and_mark(entry.row);
    frontier.push(Reverse(entry));
    if accept(entry.row) {
        results.push(entry);
    }
    let bound = |results: &BinaryHeap<Neighbor>| {
        if results.len() < ef { f32::INFINITY } else { results.peek().map_or(f32::INFINITY, |n| n.distance) }
    };
    while let Some(Reverse(current)) = frontier.pop() {
        if current.distance > bound(&results) {
            break;
        }
        probe.expanded += 1;
        if let Some(Reverse(next)) = frontier.peek() {
            links.prefetch_links(next.row);
        }
        let (fresh, count) = unvisited(links, probe, visited, current.row, level);
        for &node in &fresh[..count] {
            {
                let d = probe.distance_to(node);
                if d < bound(&results) {
                    let candidate = Neighbor { row: node, distance: d };
                    frontier.push(Reverse(candidate));
                    if accept(node) {
                        results.push(candidate);
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
        }
    }
    results.into_sorted_vec()
}

/// Beam search for selective filters: the beam of width `ef` holds every node
/// reached, so the walk costs about what an unfiltered one does, while the
/// `keep` closest accepted nodes met on the way are kept apart. Until `k` are
/// found the walk does not stop, so it returns `k` whenever `k` are reachable.
#[allow(clippy::too_many_arguments)]
pub(super) fn beam_selective<L: Links>(
    links: &L,
    probe: &mut Probe<'_>,
    entry: Neighbor,
    ef: usize,
    k: usize,
    keep: usize,
    visited: &mut VisitedSet,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<Neighbor> {
    let mut frontier: BinaryHeap<Reverse<Neighbor>> = BinaryHeap::with_capacity(ef * 2);
    let mut beam: BinaryHeap<Neighbor> = BinaryHeap::with_capacity(ef + 1);
    let mut found = crate::TopK::new(keep.max(k));
    visited.check_and_mark(entry.row);
    frontier.push(Reverse(entry));
    beam.push(entry);
    if accept(entry.row) {
        found.push(entry);
    }
    let bound = |beam: &BinaryHeap<Neighbor>, found: &crate::TopK| {
        if beam.len() < ef || found.len() < k {
            f32::INFINITY
        } else {
            beam.peek().map_or(f32::INFINITY, |n| n.distance)
        }
    };
    while let Some(Reverse(current)) = frontier.pop() {
        if current.distance > bound(&beam, &found) {
            break;
        }
        probe.expanded += 1;
        if let Some(Reverse(next)) = frontier.peek() {
            links.prefetch_links(next.row);
        }
        let (fresh, count) = unvisited(links, probe, visited, current.row, 0);
        for &node in &fresh[..count] {
            {
                let d = probe.distance_to(node);
                if d < bound(&beam, &found) || beam.len() < ef {
                    let candidate = Neighbor { row: node, distance: d };
                    frontier.push(Reverse(candidate));
                    beam.push(candidate);
                    if beam.len() > ef {
                        beam.pop();
                    }
                }
                if d < found.threshold() && accept(node) {
                    found.push(Neighbor { row: node, distance: d });
                }
            }
        }
    }
    found.into_sorted()
}
