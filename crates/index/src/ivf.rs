//! Inverted file: rows grouped under k-means centroids; a query scores the
//! `nprobe` nearest lists exactly (vectors are read from the segment, never compressed).

use proxima_core::{DistanceMetric, Error, Result};

use crate::bytes::{Reader, Writer};
use crate::hnsw::SearchStats;
use crate::{Distance, Neighbor, TopK};

const MAGIC: &[u8; 8] = b"PXIVF001";

/// Training parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfParams {
    /// Number of lists (clamped to the row count).
    pub nlist: usize,
    /// Lloyd iterations after k-means++ seeding.
    pub iterations: usize,
    /// Rows sampled per list for training.
    pub samples_per_list: usize,
    /// Seed of the sampling and seeding draws.
    pub seed: u64,
}

impl IvfParams {
    /// Parameters with `nlist` lists and defaults for the rest.
    pub fn new(nlist: usize) -> Self {
        Self { nlist, iterations: 10, samples_per_list: 64, seed: 0x1f }
    }
}

/// A trained inverted file.
#[derive(Debug, Clone)]
pub struct Ivf {
    metric: DistanceMetric,
    distance: Distance,
    dimension: usize,
    centroids: Vec<f32>,
    /// `nlist + 1` offsets into `rows`.
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

impl Ivf {
    /// Trains centroids on a sample of `vectors` and assigns every row to its nearest one.
    pub fn train(params: IvfParams, metric: DistanceMetric, dimension: usize, vectors: &[f32]) -> Result<Self> {
        if dimension == 0 || params.nlist == 0 {
            return Err(Error::invalid("ivf needs a positive dimension and nlist"));
        }
        let n = vectors.len() / dimension;
        let distance = Distance::new(metric);
        let nlist = params.nlist.min(n.max(1));
        let mut rng = params.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let sample = sample_rows(n, nlist * params.samples_per_list, &mut rng);
        let row = |r: u32| &vectors[r as usize * dimension..(r as usize + 1) * dimension];
        let mut centroids = seed_plus_plus(&sample, nlist, dimension, &row, &mut rng);
        for _ in 0..params.iterations {
            let assigned: Vec<usize> =
                sample.iter().map(|&r| nearest(&centroids, dimension, &distance, row(r))).collect();
            let mut sums = vec![0.0f32; centroids.len()];
            let mut counts = vec![0usize; nlist];
            for (&r, &c) in sample.iter().zip(&assigned) {
                counts[c] += 1;
                sums[c * dimension..(c + 1) * dimension].iter_mut().zip(row(r)).for_each(|(s, x)| *s += x);
            }
            for c in 0..nlist {
                // An emptied centroid keeps its place rather than collapsing to zero.
                if counts[c] > 0 {
                    let mean = &mut sums[c * dimension..(c + 1) * dimension];
                    mean.iter_mut().for_each(|x| *x /= counts[c] as f32);
                    if metric == DistanceMetric::Cosine {
                        let _ = metric.prepare(mean);
                    }
                    centroids[c * dimension..(c + 1) * dimension].copy_from_slice(mean);
                }
            }
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); nlist];
        for r in 0..n as u32 {
            lists[nearest(&centroids, dimension, &distance, row(r))].push(r);
        }
        let mut offsets = vec![0u32];
        let mut rows = Vec::with_capacity(n);
        for list in lists {
            rows.extend(list);
            offsets.push(rows.len() as u32);
        }
        Ok(Self { metric, distance, dimension, centroids, offsets, rows })
    }

    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of rows indexed.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no rows are indexed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The metric it was trained for.
    pub fn metric(&self) -> DistanceMetric {
        self.metric
    }

    /// Bytes in memory.
    pub fn memory_bytes(&self) -> usize {
        4 * (self.centroids.len() + self.offsets.len() + self.rows.len())
    }

    /// The `k` accepted rows closest to `query` among the `nprobe` nearest lists, closest first.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        nprobe: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> (Vec<Neighbor>, SearchStats) {
        let d = self.dimension;
        let mut lists = TopK::new(nprobe.clamp(1, self.nlist()));
        for (c, centroid) in self.centroids.chunks_exact(d).enumerate() {
            lists.push(Neighbor { row: c as u32, distance: self.distance.distance(query, centroid) });
        }
        let mut computations = self.nlist() as u64;
        let mut top = TopK::new(k);
        let probed = lists.into_sorted();
        let nodes_visited = probed.len() as u64;
        for list in probed {
            let (from, to) = (self.offsets[list.row as usize] as usize, self.offsets[list.row as usize + 1] as usize);
            for &row in &self.rows[from..to] {
                let at = row as usize * d;
                let dist = self.distance.distance(query, &vectors[at..at + d]);
                computations += 1;
                if dist < top.threshold() && accept(row) {
                    top.push(Neighbor { row, distance: dist });
                }
            }
        }
        (top.into_sorted(), SearchStats { distance_computations: computations, nodes_visited })
    }

    /// The index as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MAGIC, self.memory_bytes() + 32);
        w.metric(self.metric);
        w.u32(self.dimension as u32);
        w.u32(self.nlist() as u32);
        w.u32(self.rows.len() as u32);
        w.f32s(&self.centroids);
        w.u32s(&self.offsets);
        w.u32s(&self.rows);
        w.finish()
    }

    /// Loads an index written by [`Ivf::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, MAGIC, "ivf index")?;
        let metric = r.metric()?;
        let dimension = r.u32()? as usize;
        let nlist = r.u32()? as usize;
        let len = r.u32()? as usize;
        if dimension == 0 || nlist == 0 {
            return Err(r.corrupt("bad parameters"));
        }
        let centroids = r.f32s(nlist * dimension)?;
        let offsets = r.u32s(nlist + 1)?;
        let rows = r.u32s(len)?;
        let monotone = offsets.windows(2).all(|w| w[0] <= w[1]) && offsets[0] == 0 && offsets[nlist] as usize == len;
        if !monotone || rows.iter().any(|&row| row as usize >= len) {
            return Err(r.corrupt("lists out of range"));
        }
        r.finish()?;
        Ok(Self { metric, distance: Distance::new(metric), dimension, centroids, offsets, rows })
    }
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Up to `count` distinct rows out of `n`, drawn uniformly (all rows when `n` is small).
fn sample_rows(n: usize, count: usize, rng: &mut u64) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..n as u32).collect();
    if count >= n {
        return rows;
    }
    for i in 0..count {
        let j = i + (next_random(rng) as usize % (n - i));
        rows.swap(i, j);
    }
    rows.truncate(count);
    rows
}

/// k-means++: each next centroid is drawn with probability proportional to its
/// squared distance from the nearest centroid so far, which spreads the seeds.
fn seed_plus_plus<'a>(
    sample: &[u32],
    nlist: usize,
    dimension: usize,
    row: &impl Fn(u32) -> &'a [f32],
    rng: &mut u64,
) -> Vec<f32> {
    let l2 = Distance::new(DistanceMetric::Euclidean);
    let mut centroids = Vec::with_capacity(nlist * dimension);
    let first = sample[next_random(rng) as usize % sample.len()];
    centroids.extend_from_slice(row(first));
    let mut nearest_sq: Vec<f32> = sample.iter().map(|&r| l2.distance(row(r), row(first))).collect();
    while centroids.len() < nlist * dimension {
        let total: f64 = nearest_sq.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let mut target = (next_random(rng) >> 11) as f64 / (1u64 << 53) as f64 * total;
            nearest_sq.iter().position(|&d| {
                target -= d as f64;
                target <= 0.0
            })
        } else {
            None
        };
        let chosen = sample[pick.unwrap_or(next_random(rng) as usize % sample.len())];
        let c = row(chosen);
        centroids.extend_from_slice(c);
        for (d, &r) in nearest_sq.iter_mut().zip(sample) {
            *d = d.min(l2.distance(row(r), c));
        }
    }
    centroids
}

fn nearest(centroids: &[f32], dimension: usize, distance: &Distance, v: &[f32]) -> usize {
    let mut best = (0, f32::INFINITY);
    for (c, centroid) in centroids.chunks_exact(dimension).enumerate() {
        let d = distance.distance(v, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
}
