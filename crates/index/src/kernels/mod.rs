//! Distance kernels with runtime SIMD dispatch.
//!
//! [`Kernels::best`] picks the widest instruction set the CPU has once; the
//! result is a pair of plain function pointers, so hot loops pay one indirect
//! call per distance and no feature check.

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use proxima_core::DistanceMetric;

/// A kernel: two equally long slices in, one number out. `unsafe` because a
/// kernel may use instructions the CPU lacks; [`Kernels`] only holds kernels
/// the CPU was checked for, and calls them directly (no trampoline) in hot loops.
type RawKernel = unsafe fn(&[f32], &[f32]) -> f32;
/// A kernel over many rows: the query, rows back to back, the dimension, one output per row.
type RawBatchKernel = unsafe fn(&[f32], &[f32], usize, &mut [f32]);
/// A kernel between float weights and 8-bit codes of the same length.
type RawCodeKernel = unsafe fn(&[f32], &[u8]) -> f32;

/// The instruction set a kernel pair uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust with independent accumulators (auto-vectorised where the target allows).
    Portable,
    /// x86-64 AVX2 with fused multiply-add.
    Avx2Fma,
    /// x86-64 AVX-512F.
    Avx512,
}

/// Dot product and squared Euclidean distance for one instruction set.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// The instruction set.
    pub isa: Isa,
    dot: RawKernel,
    l2sq: RawKernel,
    dot_batch: RawBatchKernel,
    l2sq_batch: RawBatchKernel,
    dot_u8: RawCodeKernel,
}

impl Kernels {
    /// The fastest kernels this CPU runs.
    pub fn best() -> Self {
        *Self::available().last().expect("the portable kernels are always available")
    }

    /// Inner product.
    #[inline]
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `Kernels` values are only made for instruction sets the CPU has.
        unsafe { (self.dot)(a, b) }
    }

    /// Squared Euclidean distance.
    #[inline]
    pub fn l2sq(&self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { (self.l2sq)(a, b) }
    }

    /// `Σ weights[i] · codes[i]`: the code side of a quantised distance
    /// (`crate::Sq8`), the codes widened to floats in registers.
    #[inline]
    pub fn dot_u8(&self, weights: &[f32], codes: &[u8]) -> f32 {
        // SAFETY: as in `dot`.
        unsafe { (self.dot_u8)(weights, codes) }
    }

    /// The portable kernels.
    pub fn portable() -> Self {
        Self {
            isa: Isa::Portable,
            dot: portable::dot,
            l2sq: portable::l2sq,
            dot_batch: portable::dot_batch,
            l2sq_batch: portable::l2sq_batch,
            dot_u8: portable::dot_u8,
        }
    }

    /// Every kernel set this CPU runs, slowest first (tests compare them all).
    pub fn available() -> Vec<Self> {
        let mut sets = vec![Self::portable()];
        #[cfg(target_arch = "x86_64")]
        sets.extend(x86::available());
        sets
    }
}

/// How an index compares vectors: a distance where lower is closer.
///
/// Scores (higher is closer, as in [`DistanceMetric::score`]) are negated
/// distances for every metric: `-(-dot)` for cosine and dot, `-l2²` for Euclidean.
#[derive(Debug, Clone, Copy)]
pub struct Distance {
    metric: DistanceMetric,
    kernel: RawKernel,
    batch: RawBatchKernel,
    negate: bool,
}

impl Distance {
    /// The distance for `metric` with the fastest kernels.
    pub fn new(metric: DistanceMetric) -> Self {
        Self::with_kernels(metric, Kernels::best())
    }

    /// The distance for `metric` with the given kernels.
    pub fn with_kernels(metric: DistanceMetric, kernels: Kernels) -> Self {
        match metric {
            DistanceMetric::Cosine | DistanceMetric::Dot => {
                Self { metric, kernel: kernels.dot, batch: kernels.dot_batch, negate: true }
            }
            DistanceMetric::Euclidean => {
                Self { metric, kernel: kernels.l2sq, batch: kernels.l2sq_batch, negate: false }
            }
        }
    }

    /// The metric.
    pub fn metric(&self) -> DistanceMetric {
        self.metric
    }

    /// The distance of two vectors; lower is closer.
    #[inline]
    pub fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: the kernel came from a `Kernels` value, made only for instruction sets the CPU has.
        let raw = unsafe { (self.kernel)(a, b) };
        if self.negate { -raw } else { raw }
    }
}

impl Distance {
    /// The distance of `query` to each row of `rows` (`dimension` values each),
    /// written to `out`. One call scores a whole block, so the kernel is inlined
    /// in its loop instead of being called per row.
    pub fn distances(&self, query: &[f32], rows: &[f32], dimension: usize, out: &mut [f32]) {
        assert!(query.len() == dimension && out.len() * dimension <= rows.len(), "distances: shapes disagree");
        // SAFETY: the kernel came from a `Kernels` value (see `distance`); the shapes were checked above.
        unsafe { (self.batch)(query, rows, dimension, out) };
        if self.negate {
            out.iter_mut().for_each(|d| *d = -*d);
        }
    }
}

/// The score (higher is closer) of a distance.
#[inline]
pub fn score_of(distance: f32) -> f32 {
    -distance
}
