//! Hierarchical navigable small-world graphs.
//!
//! Layer 0 keeps every node's neighbour list in one flat array with a fixed
//! stride (`count, ids…`), so a search touches one cache line run per node.
//! The few nodes on upper layers keep theirs in a second flat array addressed
//! by per-node offsets. Vectors are not stored: searches read the segment's
//! rows. A graph built here also keeps 8-bit codes of its rows ([`Sq8`]): the
//! walk runs on them, a quarter of the memory traffic of the floats, and the
//! final beam is re-ranked on the exact rows.

mod build;
mod codec;
mod layer;
mod order;

use proxima_core::{DistanceMetric, Error, Result};

pub use build::HnswBuilder;
use layer::{Links, Probe};

use crate::visited::VisitedPool;
use crate::{Distance, Neighbor, Sq8};

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
    /// Codes of the rows the walk scores on, in node order; `None` walks on the rows themselves.
    codes: Option<Box<Sq8>>,
    /// The row each node stands for, once renumbered ([`Hnsw::reorder`]); `None`: node `i` is row `i`.
    rows: Option<Vec<u32>>,
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
        crate::prefetch::row(&self.level0, node as usize, self.params.m0() + 1);
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
        builder.walk_on(Sq8::train(metric, dimension, vectors));
        builder.insert_rows(vectors, 0..(vectors.len() / dimension.max(1)) as u32, threads)?;
        Ok(builder.freeze())
    }

    /// Trains and keeps 8-bit codes of `vectors`, the rows the graph was built
    /// on, so later searches walk on the codes and re-rank exactly.
    pub fn quantise(&mut self, vectors: &[f32]) -> Result<()> {
        let rows = vectors.get(..self.len() * self.dimension).ok_or_else(|| {
            Error::invalid(format!(
                "the graph has {} nodes but only {} rows were given",
                self.len(),
                vectors.len() / self.dimension
            ))
        })?;
        let was_reordered = self.is_reordered();
        self.restore_row_order();
        self.codes = Some(Box::new(Sq8::train(self.metric, self.dimension, rows)));
        if was_reordered {
            self.reorder();
        }
        Ok(())
    }

    /// Drops the codes: searches walk on the rows themselves.
    pub fn drop_codes(&mut self) {
        self.codes = None;
    }

    /// The codes the walk scores on, if the graph keeps them.
    pub fn codes(&self) -> Option<&Sq8> {
        self.codes.as_deref()
    }

    /// Inserts rows appended to `vectors` since the graph was built (rows
    /// `len()..vectors.len() / dimension`).
    pub fn insert_new_rows(&mut self, vectors: &[f32], threads: usize) -> Result<()> {
        let total = (vectors.len() / self.dimension) as u32;
        let from = self.len() as u32;
        if total < from {
            return Err(Error::invalid(format!("the graph has {from} nodes but only {total} rows were given")));
        }
        // The builder works in row order; a renumbered graph is renumbered again after.
        let was_reordered = self.is_reordered();
        self.restore_row_order();
        let mut codes = self.codes.take();
        if let Some(codes) = &mut codes {
            codes.extend(vectors);
        }
        let mut builder = HnswBuilder::thaw(self, codes);
        builder.insert_rows(vectors, from..total, threads)?;
        *self = builder.freeze();
        if was_reordered {
            self.reorder();
        }
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

    /// Bytes of the graph in memory, its codes included (not counting the rows).
    pub fn memory_bytes(&self) -> usize {
        let codes = self.codes.as_deref().map_or(0, Sq8::memory_bytes);
        let rows = self.rows.as_ref().map_or(0, Vec::len);
        self.levels.len() + 4 * (self.level0.len() + self.upper_offsets.len() + self.upper.len() + rows) + codes
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
        let pool = self.rerank_pool(k, ef);
        let mapped = |node: u32| accept(self.row_of(node));
        let accept: &dyn Fn(u32) -> bool = if self.is_reordered() { &mapped } else { accept };
        self.walk(vectors, query, k, |probe, entry, visited| {
            layer::beam_selective(self, probe, entry, ef.max(k), k, pool, visited, accept)
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
        let pool = self.rerank_pool(k, ef);
        let mapped = |node: u32| accept(self.row_of(node));
        let accept: &dyn Fn(u32) -> bool = if self.is_reordered() { &mapped } else { accept };
        self.walk(vectors, query, k, |probe, entry, visited| {
            let mut found = layer::beam(self, probe, entry, ef.max(k), 0, visited, accept);
            found.truncate(pool);
            found
        })
    }

    /// How many of the walk's closest nodes are re-ranked exactly when it
    /// scored codes, whose order is approximate.
    fn rerank_pool(&self, k: usize, ef: usize) -> usize {
        // Four times k kept the recall of re-ranking the whole beam on GloVe-50
        // at every ef up to 400 (docs/perf-journal.md).
        if self.codes.is_some() { ef.min(4 * k).max(k) } else { k }
    }

    /// Descends the upper layers greedily, runs `layer0` from the closest node
    /// found, and returns its `k` closest (re-ranked on the rows when the walk scored codes).
    fn walk(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        layer0: impl FnOnce(&mut Probe<'_>, Neighbor, &mut crate::visited::VisitedSet) -> Vec<Neighbor>,
    ) -> (Vec<Neighbor>, SearchStats) {
        let Some((entry, top)) = self.entry else {
            return (Vec::new(), SearchStats::default());
        };
        let mut probe = match &self.codes {
            Some(codes) => Probe::codes(codes, query),
            None => Probe::exact(&self.distance, vectors, self.dimension, query, self.rows.as_deref()),
        };
        let mut best = Neighbor { row: entry, distance: probe.distance_to(entry) };
        for level in (1..=top as usize).rev() {
            best = layer::greedy(self, &mut probe, best, level);
        }
        let mut visited = self.visited.take(self.len());
        let mut found = layer0(&mut probe, best, &mut visited);
        self.visited.give_back(visited);
        let mut computations = probe.computations;
        for n in &mut found {
            n.row = self.row_of(n.row);
        }
        if self.codes.is_some() {
            let dimension = self.dimension;
            for n in &found {
                crate::prefetch::row(vectors, n.row as usize, dimension);
            }
            for n in &mut found {
                let at = n.row as usize * dimension;
                n.distance = self.distance.distance(query, &vectors[at..at + dimension]);
            }
            computations += found.len() as u64;
            found.sort();
        }
        found.truncate(k);
        (found, SearchStats { distance_computations: computations, nodes_visited: probe.expanded })
    }
}

#[cfg(test)]
mod tests;
