//! Scalar quantisation to one byte per dimension, for walking a graph on
//! compact codes: a 50-d row is one cache line of codes instead of four of
//! floats, and a graph walk is bound by those loads, not by arithmetic.
//!
//! Each dimension has its own range, trained on the rows it encodes:
//! `x ≈ min + step · code`. Distances are asymmetric (the query stays in
//! floats), so `q · x̂ = Σ q·min + Σ (q·step) · code`: one weighted sum of the
//! codes per row. Euclidean adds the decoded rows' squared norms, kept beside
//! the codes. Callers re-rank their final candidates with the exact rows.

use proxima_core::{DistanceMetric, Result};

use crate::Kernels;
use crate::bytes::{Reader, Writer};

/// Rows encoded to 8 bits per dimension.
#[derive(Debug, Clone)]
pub struct Sq8 {
    metric: DistanceMetric,
    dimension: usize,
    min: Vec<f32>,
    step: Vec<f32>,
    /// `len × dimension` codes, row after row.
    codes: Vec<u8>,
    /// Squared norms of the decoded rows (Euclidean only; empty otherwise).
    norms: Vec<f32>,
    kernels: Kernels,
}

/// A query prepared for one [`Sq8`]: its weights per code and the constant part.
#[derive(Debug, Clone)]
pub struct Sq8Query {
    weights: Vec<f32>,
    bias: f32,
    /// `‖q‖²` for Euclidean distances.
    norm: f32,
}

impl Sq8 {
    /// Trains the ranges on `vectors` (rows of `dimension`) and encodes them.
    pub fn train(metric: DistanceMetric, dimension: usize, vectors: &[f32]) -> Self {
        let (mut min, mut max) = (vec![f32::INFINITY; dimension], vec![f32::NEG_INFINITY; dimension]);
        for row in vectors.chunks_exact(dimension) {
            for (i, &x) in row.iter().enumerate() {
                min[i] = min[i].min(x);
                max[i] = max[i].max(x);
            }
        }
        let step = min
            .iter_mut()
            .zip(&max)
            .map(|(lo, &hi)| {
                if !lo.is_finite() || !hi.is_finite() {
                    *lo = 0.0;
                }
                // A constant dimension still needs a non-zero step to divide by.
                if hi > *lo { (hi - *lo) / 255.0 } else { 1.0 }
            })
            .collect();
        let mut sq8 =
            Sq8 { metric, dimension, min, step, codes: Vec::new(), norms: Vec::new(), kernels: Kernels::best() };
        sq8.extend(vectors);
        sq8
    }

    /// Encodes the rows of `vectors` past the ones already encoded (values
    /// outside the trained ranges are clamped).
    pub fn extend(&mut self, vectors: &[f32]) {
        let from = self.len();
        for row in vectors.chunks_exact(self.dimension).skip(from) {
            let mut norm = 0.0;
            for (i, &x) in row.iter().enumerate() {
                let code = ((x - self.min[i]) / self.step[i]).round().clamp(0.0, 255.0) as u8;
                let decoded = self.min[i] + self.step[i] * f32::from(code);
                norm += decoded * decoded;
                self.codes.push(code);
            }
            if self.metric == DistanceMetric::Euclidean {
                self.norms.push(norm);
            }
        }
    }

    /// Rows encoded.
    pub fn len(&self) -> usize {
        self.codes.len() / self.dimension.max(1)
    }

    /// Whether no row is encoded.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Bytes in memory.
    pub fn memory_bytes(&self) -> usize {
        self.codes.len() + 4 * (self.min.len() + self.step.len() + self.norms.len())
    }

    /// Prepares `query` for [`Sq8::distance`].
    pub fn query(&self, query: &[f32]) -> Sq8Query {
        let weights = query.iter().zip(&self.step).map(|(q, s)| q * s).collect();
        let bias = query.iter().zip(&self.min).map(|(q, m)| q * m).sum();
        let norm = query.iter().map(|q| q * q).sum();
        Sq8Query { weights, bias, norm }
    }

    /// The approximate distance (as [`crate::Distance`] measures it) of the query to `row`.
    #[inline]
    pub fn distance(&self, query: &Sq8Query, row: u32) -> f32 {
        let at = row as usize * self.dimension;
        let dot = query.bias + self.kernels.dot_u8(&query.weights, &self.codes[at..at + self.dimension]);
        match self.metric {
            DistanceMetric::Cosine | DistanceMetric::Dot => -dot,
            DistanceMetric::Euclidean => (query.norm - 2.0 * dot + self.norms[row as usize]).max(0.0),
        }
    }

    /// Hints that `row`'s codes are read soon.
    #[inline]
    pub(crate) fn prefetch(&self, row: u32) {
        crate::prefetch::row(&self.codes, row as usize, self.dimension);
    }

    /// Puts old row `old_of[i]` at row `i`.
    pub(crate) fn permute(&mut self, old_of: &[u32]) {
        let d = self.dimension;
        self.codes = old_of.iter().flat_map(|&o| &self.codes[o as usize * d..(o as usize + 1) * d]).copied().collect();
        if !self.norms.is_empty() {
            self.norms = old_of.iter().map(|&o| self.norms[o as usize]).collect();
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.f32s(&self.min);
        w.f32s(&self.step);
        w.padded_bytes(&self.codes);
        w.f32s(&self.norms);
    }

    /// Reads codes for `len` rows written by [`Sq8::write`].
    pub(crate) fn read(r: &mut Reader<'_>, metric: DistanceMetric, dimension: usize, len: usize) -> Result<Self> {
        let min = r.f32s(dimension)?;
        let step = r.f32s(dimension)?;
        let codes = r.padded_bytes(len.checked_mul(dimension).ok_or_else(|| r.corrupt("length overflow"))?)?;
        let norms = r.f32s(if metric == DistanceMetric::Euclidean { len } else { 0 })?;
        if step.iter().any(|s| !s.is_finite() || *s <= 0.0) || min.iter().any(|m| !m.is_finite()) {
            return Err(r.corrupt("bad quantisation ranges"));
        }
        Ok(Sq8 { metric, dimension, min, step, codes, norms, kernels: Kernels::best() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Distance;

    #[test]
    fn quantised_distances_are_close_to_exact_ones_for_every_metric() {
        let dim = 37;
        let rows: Vec<f32> = (0..dim * 200).map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5).collect();
        let query: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin() * 0.4).collect();
        for metric in [DistanceMetric::Cosine, DistanceMetric::Dot, DistanceMetric::Euclidean] {
            let sq8 = Sq8::train(metric, dim, &rows);
            let exact = Distance::new(metric);
            let prepared = sq8.query(&query);
            for (row, v) in rows.chunks_exact(dim).enumerate() {
                let (approx, truth) = (sq8.distance(&prepared, row as u32), exact.distance(&query, v));
                // Each dimension is off by at most half a step (1/510 of its range, here 1).
                assert!((approx - truth).abs() < 0.02, "{metric:?} row {row}: {approx} against {truth}");
            }
        }
    }

    #[test]
    fn rows_outside_the_trained_ranges_are_clamped_and_constant_dimensions_work() {
        let mut sq8 = Sq8::train(DistanceMetric::Euclidean, 2, &[0.0, 5.0, 1.0, 5.0]);
        sq8.extend(&[0.0, 5.0, 1.0, 5.0, 9.0, 5.0]);
        assert_eq!(sq8.len(), 3);
        let q = sq8.query(&[1.0, 5.0]);
        assert!(sq8.distance(&q, 2) < 1e-4, "9 clamps to the range's top, 1");
        assert!((sq8.distance(&q, 0) - 1.0).abs() < 1e-3);
    }
}
