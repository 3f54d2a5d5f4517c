//! Concurrent construction: threads insert rows in parallel, each neighbour
//! list guarded by its node's lock for writes; layer-0 lists are atomics so
//! that readers never block.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use proxima_core::{DistanceMetric, Error, Result};

use super::layer::{self, Links, Probe};
use super::{Hnsw, HnswParams, MAX_M};
use crate::visited::VisitedPool;
use crate::{Distance, Neighbor, Sq8};

/// A graph under construction.
#[derive(Debug)]
pub struct HnswBuilder {
    params: HnswParams,
    metric: DistanceMetric,
    distance: Distance,
    dimension: usize,
    levels: Vec<u8>,
    level0: Vec<AtomicU32>,
    /// Per node: its upper-layer lists (layers 1..=level, `m + 1` each); the
    /// lock also serialises writes to the node's layer-0 list.
    upper: Vec<Mutex<Vec<u32>>>,
    /// The entry node and the top layer.
    entry: RwLock<Option<(u32, u8)>>,
    visited: VisitedPool,
    /// Inserted nodes (others have no links yet).
    inserted: AtomicUsize,
    /// Codes of every row to insert: when present, an insertion's beam walks
    /// on them (as searches do) and only the candidates it returns are
    /// measured exactly, for the neighbour selection.
    codes: Option<Box<Sq8>>,
}

impl Links for HnswBuilder {
    fn with_neighbors<R>(&self, node: u32, level: usize, f: impl FnOnce(&[u32]) -> R) -> R {
        let node = node as usize;
        if level == 0 {
            let stride = self.params.m0() + 1;
            let list = &self.level0[node * stride..(node + 1) * stride];
            let mut copy = [0u32; 2 * MAX_M];
            let count = (list[0].load(Ordering::Acquire) as usize).min(stride - 1);
            for (slot, id) in copy.iter_mut().zip(&list[1..1 + count]) {
                *slot = id.load(Ordering::Relaxed);
            }
            f(&copy[..count])
        } else {
            let lists = self.upper[node].lock().unwrap_or_else(|e| e.into_inner());
            let at = (level - 1) * (self.params.m + 1);
            match lists.get(at..at + self.params.m + 1) {
                Some(list) => f(&list[1..1 + list[0] as usize]),
                None => f(&[]),
            }
        }
    }

    #[inline]
    fn prefetch_links(&self, node: u32) {
        crate::prefetch::row(&self.level0, node as usize, self.params.m0() + 1);
    }
}

impl HnswBuilder {
    /// An empty graph.
    pub fn new(params: HnswParams, metric: DistanceMetric, dimension: usize) -> Result<Self> {
        params.validate()?;
        if dimension == 0 {
            return Err(Error::invalid("hnsw dimension must be positive"));
        }
        Ok(Self {
            params,
            metric,
            distance: Distance::new(metric),
            dimension,
            levels: Vec::new(),
            level0: Vec::new(),
            upper: Vec::new(),
            entry: RwLock::new(None),
            visited: VisitedPool::default(),
            inserted: AtomicUsize::new(0),
            codes: None,
        })
    }

    /// Walks on `codes` while inserting; they must cover every row inserted later.
    pub fn walk_on(&mut self, codes: Sq8) {
        self.codes = Some(Box::new(codes));
    }

    /// A builder holding a copy of a frozen graph, to insert more rows.
    pub(super) fn thaw(graph: &Hnsw, codes: Option<Box<Sq8>>) -> Self {
        let upper = (0..graph.len())
            .map(|n| {
                let (from, to) = (graph.upper_offsets[n] as usize, graph.upper_offsets[n + 1] as usize);
                Mutex::new(graph.upper[from..to].to_vec())
            })
            .collect();
        Self {
            params: graph.params,
            metric: graph.metric,
            distance: graph.distance,
            dimension: graph.dimension,
            levels: graph.levels.clone(),
            level0: graph.level0.iter().map(|&v| AtomicU32::new(v)).collect(),
            upper,
            entry: RwLock::new(graph.entry),
            visited: VisitedPool::default(),
            inserted: AtomicUsize::new(graph.len()),
            codes,
        }
    }

    /// Inserts `rows` (which must directly follow the rows already inserted) using `threads` threads.
    pub fn insert_rows(&mut self, vectors: &[f32], rows: std::ops::Range<u32>, threads: usize) -> Result<()> {
        if rows.start as usize != self.levels.len() {
            return Err(Error::invalid("hnsw rows must be inserted in order"));
        }
        if vectors.len() < rows.end as usize * self.dimension {
            return Err(Error::invalid("hnsw insert: fewer vectors than rows"));
        }
        if self.codes.as_ref().is_some_and(|c| c.len() < rows.end as usize) {
            return Err(Error::invalid("hnsw insert: fewer codes than rows"));
        }
        self.grow(rows.end as usize);
        let this: &Self = self;
        let next = AtomicUsize::new(rows.start as usize);
        let insert_all = || {
            loop {
                let row = next.fetch_add(1, Ordering::Relaxed);
                if row >= rows.end as usize {
                    break;
                }
                this.insert(vectors, row as u32);
            }
        };
        if threads <= 1 {
            insert_all();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(insert_all);
                }
            });
        }
        Ok(())
    }

    /// Makes room for `len` nodes and draws their levels.
    fn grow(&mut self, len: usize) {
        let from = self.levels.len();
        let ml = 1.0 / (self.params.m as f64).ln();
        let mut rng = SplitMix(self.params.seed ^ from as u64);
        for _ in from..len {
            let uniform = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let level = (-(uniform.max(f64::MIN_POSITIVE)).ln() * ml).floor().min(15.0) as u8;
            self.levels.push(level);
            self.upper.push(Mutex::new(vec![0; level as usize * (self.params.m + 1)]));
        }
        self.level0.resize_with(len * (self.params.m0() + 1), || AtomicU32::new(0));
    }

    fn insert(&self, vectors: &[f32], node: u32) {
        let level = self.levels[node as usize];
        let query = &vectors[node as usize * self.dimension..(node as usize + 1) * self.dimension];
        let entry = *self.entry.read().unwrap_or_else(|e| e.into_inner());
        let Some((entry, top)) = entry else {
            let mut guard = self.entry.write().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some((node, level));
                self.inserted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            drop(guard);
            return self.insert(vectors, node);
        };
        let mut probe = match &self.codes {
            Some(codes) => Probe::codes(codes, query),
            None => Probe::exact(&self.distance, vectors, self.dimension, query, None),
        };
        let mut best = Neighbor { row: entry, distance: probe.distance_to(entry) };
        for l in ((level as usize + 1)..=top as usize).rev() {
            best = layer::greedy(self, &mut probe, best, l);
        }
        let mut visited = self.visited.take(self.levels.len());
        for l in (0..=level.min(top) as usize).rev() {
            visited.clear(self.levels.len());
            let mut found =
                layer::beam(self, &mut probe, best, self.params.ef_construction, l, &mut visited, &|_| true);
            if let Some(closest) = found.first() {
                best = *closest;
            }
            if self.codes.is_some() {
                for n in &mut found {
                    n.distance = self.distance.distance(query, self.row(vectors, n.row));
                }
                found.sort();
            }
            let chosen = self.select(vectors, &found, self.params.m);
            self.set_links(node, l, &chosen);
            for n in &chosen {
                self.link_back(vectors, n.row, node, n.distance, l);
            }
        }
        self.visited.give_back(visited);
        if level > top {
            let mut guard = self.entry.write().unwrap_or_else(|e| e.into_inner());
            if guard.is_none_or(|(_, t)| level > t) {
                *guard = Some((node, level));
            }
        }
        self.inserted.fetch_add(1, Ordering::Relaxed);
    }

    /// The neighbour-selection heuristic: keep a candidate only if it is closer
    /// to the new node than to every neighbour already kept, which spreads links
    /// across directions instead of clustering them.
    fn select(&self, vectors: &[f32], sorted: &[Neighbor], limit: usize) -> Vec<Neighbor> {
        let mut kept: Vec<Neighbor> = Vec::with_capacity(limit);
        for candidate in sorted {
            if kept.len() == limit {
                break;
            }
            let v = self.row(vectors, candidate.row);
            let diverse =
                kept.iter().all(|k| self.distance.distance(v, self.row(vectors, k.row)) >= candidate.distance);
            if diverse {
                kept.push(*candidate);
            }
        }
        kept
    }

    fn row<'a>(&self, vectors: &'a [f32], row: u32) -> &'a [f32] {
        &vectors[row as usize * self.dimension..(row as usize + 1) * self.dimension]
    }

    fn set_links(&self, node: u32, level: usize, chosen: &[Neighbor]) {
        let mut lists = self.upper[node as usize].lock().unwrap_or_else(|e| e.into_inner());
        self.write_list(&mut lists, node, level, chosen.iter().map(|n| n.row));
    }

    /// Adds `new` to `node`'s list at `level`, re-selecting when the list is full.
    fn link_back(&self, vectors: &[f32], node: u32, new: u32, distance: f32, level: usize) {
        let capacity = if level == 0 { self.params.m0() } else { self.params.m };
        let mut lists = self.upper[node as usize].lock().unwrap_or_else(|e| e.into_inner());
        let mut current: Vec<u32> = Vec::with_capacity(capacity + 1);
        self.read_list(&lists, node, level, &mut current);
        if current.contains(&new) {
            return;
        }
        if current.len() < capacity {
            current.push(new);
            self.write_list(&mut lists, node, level, current.into_iter());
            return;
        }
        let base = self.row(vectors, node);
        let mut candidates: Vec<Neighbor> = current
            .iter()
            .map(|&n| Neighbor { row: n, distance: self.distance.distance(base, self.row(vectors, n)) })
            .collect();
        candidates.push(Neighbor { row: new, distance });
        candidates.sort();
        let kept = self.select(vectors, &candidates, capacity);
        self.write_list(&mut lists, node, level, kept.iter().map(|n| n.row));
    }

    fn read_list(&self, lists: &[u32], node: u32, level: usize, out: &mut Vec<u32>) {
        if level == 0 {
            let stride = self.params.m0() + 1;
            let list = &self.level0[node as usize * stride..(node as usize + 1) * stride];
            let count = list[0].load(Ordering::Acquire) as usize;
            out.extend(list[1..1 + count].iter().map(|a| a.load(Ordering::Relaxed)));
        } else {
            let at = (level - 1) * (self.params.m + 1);
            out.extend_from_slice(&lists[at + 1..at + 1 + lists[at] as usize]);
        }
    }

    /// Writes a list; the caller holds the node's lock.
    fn write_list(&self, lists: &mut [u32], node: u32, level: usize, ids: impl Iterator<Item = u32>) {
        if level == 0 {
            let stride = self.params.m0() + 1;
            let list = &self.level0[node as usize * stride..(node as usize + 1) * stride];
            let mut count = 0;
            for (slot, id) in list[1..].iter().zip(ids) {
                slot.store(id, Ordering::Relaxed);
                count += 1;
            }
            list[0].store(count, Ordering::Release);
        } else {
            let at = (level - 1) * (self.params.m + 1);
            let mut count = 0;
            for (slot, id) in lists[at + 1..at + 1 + self.params.m].iter_mut().zip(ids) {
                *slot = id;
                count += 1;
            }
            lists[at] = count;
        }
    }

    /// The searchable graph.
    pub fn freeze(self) -> Hnsw {
        let mut upper_offsets = Vec::with_capacity(self.levels.len() + 1);
        let mut upper = Vec::new();
        for lists in self.upper {
            upper_offsets.push(upper.len() as u32);
            upper.extend(lists.into_inner().unwrap_or_else(|e| e.into_inner()));
        }
        upper_offsets.push(upper.len() as u32);
        Hnsw {
            params: self.params,
            metric: self.metric,
            distance: self.distance,
            dimension: self.dimension,
            levels: self.levels,
            level0: self.level0.into_iter().map(AtomicU32::into_inner).collect(),
            upper_offsets,
            upper,
            entry: self.entry.into_inner().unwrap_or_else(|e| e.into_inner()),
            codes: self.codes,
            rows: None,
            visited: VisitedPool::default(),
        }
    }
}

/// A small deterministic generator for level draws.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
