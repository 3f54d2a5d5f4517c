//! Hierarchical navigable small-world graphs.
//!
//! Layer 0 keeps every node's neighbour list in one flat array with a fixed
//! stride (`count, ids…`), so a search touches one cache line run per node.
//! The few nodes on upper layers keep theirs in a second flat array addressed
//! by per-node offsets. Vectors are not stored: searches read the segment's rows.

mod build;
mod codec;
mod layer;

use proxima_core::{DistanceMetric, Error, Result};

pub use build::HnswBuilder;
use layer::{Links, Probe};

use crate::visited::VisitedPool;
use crate::{Distance, Neighbor};

/// The largest `m` accepted (layer 0 holds `2m` neighbours per node).
pub const MAX_M: usize = *proxima_core::HNSW_M.end() as usize;

/// Construction parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours kept per node on upper layers (twice as many on layer 0).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Seed of the level draws, so single-threaded builds are reproducible.
    pub seed: u64,
}

impl HnswParams {
    /// Parameters with the given `m` and `ef_construction`.
    pub fn new(m: usize, ef_construction: usize) -> Self {
        Self { m, ef_construction, seed: 0x5eed }
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        // The ranges live with the collection config, which is checked at creation.
        let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        proxima_core::IndexConfig::Hnsw { m: as_u32(self.m), ef_construction: as_u32(self.ef_construction) }.validate()
    }

    fn m0(&self) -> usize {
        self.m * 2
    }
}

/// What one search did, for performance reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Distance computations.
    pub distance_computations: u64,
    /// Graph nodes (or IVF lists) whose contents were walked.
    pub nodes_visited: u64,
}

/// A built, searchable graph.
#[derive(Debug)]
pub struct Hnsw {
    params: HnswParams,
    metric: DistanceMetric,
    distance: Distance,
    dimension: usize,
    levels: Vec<u8>,
    /// `len × (2m + 1)`: count, then neighbour ids.
    level0: Vec<u32>,
    /// Where each node's upper-layer lists start in `upper` (`len + 1` offsets).
    upper_offsets: Vec<u32>,
    /// Per node, for layers 1..=level: count, then `m` ids.
    upper: Vec<u32>,
    entry: Option<(u32, u8)>,
    visited: VisitedPool,
}

impl Links for Hnsw {
    #[inline]
    fn with_neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R {
        let node = node as usize;
        if level == 0 {
            let stride = self.params.m0() + 1;
            let list = &self.level0[node * stride..(node + 1) * stride];
            f(&list[1..1 + list[0] as usize])
        } else {
            let stride = self.params.m + 1;
            let at = self.upper_offsets[node] as usize + (level - 1) * stride;
            let list = &self.upper[at..at + stride];
            f(&list[1..1 + list[0] as usize])
        }
    }

    #[inline]
    fn prefetch_links(&self, node: u32) {
        let stride = self.params.m0() + 1;
        if let Some(list) = self.level0.get(node as usize * stride..(node as usize + 1) * stride) {
            layer::prefetch_bytes(list, stride * 4);
        }
    }
}

impl Hnsw {
    /// Builds a graph over every row of `vectors` with `threads` threads.
    pub fn build(
        params: HnswParams,
        metric: DistanceMetric,
        dimension: usize,
        vectors: &[f32],
        threads: usize,
    ) -> Result<Self> {
        let mut builder = HnswBuilder::new(params, metric, dimension)?;
        builder.insert_rows(vectors, 0..(vectors.len() / dimension.max(1)) as u32, threads)?;
        Ok(builder.freeze())
    }

    /// Inserts rows appended to `vectors` since the graph was built (rows
    /// `len()..vectors.len() / dimension`).
    pub fn insert_new_rows(&mut self, vectors: &[f32], threads: usize) -> Result<()> {
        let total = (vectors.len() / self.dimension) as u32;
        let from = self.len() as u32;
        if total < from {
            return Err(Error::invalid(format!("the graph has {from} nodes but only {total} rows were given")));
        }
        let mut builder = HnswBuilder::thaw(self);
        builder.insert_rows(vectors, from..total, threads)?;
        *self = builder.freeze();
        Ok(())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Vector length.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The metric the graph was built for.
    pub fn metric(&self) -> DistanceMetric {
        self.metric
    }

    /// Construction parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Bytes of the graph in memory (not counting vectors).
    pub fn memory_bytes(&self) -> usize {
        self.levels.len() + 4 * (self.level0.len() + self.upper_offsets.len() + self.upper.len())
    }

    /// Like [`Hnsw::search`], for filters that reject most rows: the beam holds
    /// every node reached (not only accepted ones), so the walk costs about as
    /// much as an unfiltered one instead of growing with 1/selectivity; accepted
    /// nodes met on the way are collected apart. Recall at a given ef is lower
    /// than unfiltered; callers widen ef with the filter's rarity.
    pub fn search_selective(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> (Vec<Neighbor>, SearchStats) {
        self.walk(vectors, query, |probe, entry, visited| {
            layer::beam_selective(self, probe, entry, ef.max(k), k, visited, accept)
        })
    }

    /// The `k` accepted rows closest to `query`, closest first, walking with a beam of `ef`.
    ///
    /// `accept` is asked about nodes as they are reached; rejected nodes are
    /// still walked through but never returned.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> (Vec<Neighbor>, SearchStats) {
        self.walk(vectors, query, |probe, entry, visited| {
            let mut found = layer::beam(self, probe, entry, ef.max(k), 0, visited, accept);
            found.truncate(k);
            found
        })
    }

    /// Descends the upper layers greedily, then runs `layer0` from the closest node found.
    fn walk(
        &self,
        vectors: &[f32],
        query: &[f32],
        layer0: impl FnOnce(&mut Probe<'_>, Neighbor, &mut crate::visited::VisitedSet) -> Vec<Neighbor>,
    ) -> (Vec<Neighbor>, SearchStats) {
        let Some((entry, top)) = self.entry else {
            return (Vec::new(), SearchStats::default());
        };
        let mut probe =
            Probe { distance: &self.distance, vectors, dimension: self.dimension, query, computations: 0, expanded: 0 };
        let mut best = Neighbor { row: entry, distance: probe.distance_to(entry) };
        for level in (1..=top as usize).rev() {
            best = layer::greedy(self, &mut probe, best, level);
        }
        let mut visited = self.visited.take(self.len());
        let found = layer0(&mut probe, best, &mut visited);
        self.visited.give_back(visited);
        (found, SearchStats { distance_computations: probe.computations, nodes_visited: probe.expanded })
    }
}

#[cfg(test)]
mod tests;
