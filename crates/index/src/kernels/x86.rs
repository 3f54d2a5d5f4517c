//! x86-64 kernels written with `std::arch`. They are only handed out by
//! [`available`] after the CPU has been checked for their features.

use std::arch::x86_64::*;

use super::{Isa, Kernels};

/// The x86 kernel sets this CPU supports, slowest first.
pub(super) fn available() -> Vec<Kernels> {
    let mut sets = Vec::new();
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        sets.push(Kernels {
            isa: Isa::Avx2Fma,
            dot: dot_avx2,
            l2sq: l2sq_avx2,
            dot_batch: dot_batch_avx2,
            l2sq_batch: l2sq_batch_avx2,
            dot_u8: dot_u8_avx2,
        });
    }
    if is_x86_feature_detected!("avx512f") {
        sets.push(Kernels {
            isa: Isa::Avx512,
            dot: dot_avx512,
            l2sq: l2sq_avx512,
            dot_batch: dot_batch_avx512,
            l2sq_batch: l2sq_batch_avx512,
            dot_u8: dot_u8_avx512,
        });
    }
    sets
}

#[target_feature(enable = "avx2,fma")]
fn hsum256(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: every load reads 8 floats at i < n - 15 or n - 7, inside both slices.
    unsafe {
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), acc1);
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
    }
    let mut sum = hsum256(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += a[j] * b[j];
    }
    sum
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: as in `dot_avx2`.
    unsafe {
        while i + 16 <= n {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let d1 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)));
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            acc1 = _mm256_fmadd_ps(d1, d1, acc1);
            i += 16;
        }
        if i + 8 <= n {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            i += 8;
        }
    }
    let mut sum = hsum256(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        let d = a[j] - b[j];
        sum += d * d;
    }
    sum
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY: full loads stay below n; the tail uses a mask that reads only the remaining lanes.
    unsafe {
        while i + 16 <= n {
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc);
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
            let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
            acc = _mm512_fmadd_ps(x, y, acc);
        }
    }
    _mm512_reduce_add_ps(acc)
}

#[target_feature(enable = "avx512f")]
unsafe fn l2sq_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY: as in `dot_avx512`.
    unsafe {
        while i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc = _mm512_fmadd_ps(d, d, acc);
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, pa.add(i)), _mm512_maskz_loadu_ps(mask, pb.add(i)));
            acc = _mm512_fmadd_ps(d, d, acc);
        }
    }
    _mm512_reduce_add_ps(acc)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_u8_avx2(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (pw, pc) = (w.as_ptr(), c.as_ptr());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    // SAFETY: each step reads 8 codes (one 64-bit load) and 8 weights at i + 8 <= n.
    unsafe {
        let widen = |at: usize| _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(pc.add(at).cast())));
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i)), widen(i), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i + 8)), widen(i + 8), acc1);
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i)), widen(i), acc0);
            i += 8;
        }
    }
    let mut sum = hsum256(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += w[j] * f32::from(c[j]);
    }
    sum
}

#[target_feature(enable = "avx512f")]
unsafe fn dot_u8_avx512(w: &[f32], c: &[u8]) -> f32 {
    let n = w.len().min(c.len());
    let (pw, pc) = (w.as_ptr(), c.as_ptr());
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY: full steps read 16 codes and 16 weights below n; the tail reads a local copy and masked weights.
    unsafe {
        while i + 16 <= n {
            let codes = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(i).cast())));
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(pw.add(i)), codes, acc);
            i += 16;
        }
        if i < n {
            // Masked byte loads need AVX-512BW: copy the tail's codes out instead.
            let mut tail = [0u8; 16];
            tail[..n - i].copy_from_slice(&c[i..n]);
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            let codes = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(tail.as_ptr().cast())));
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, pw.add(i)), codes, acc);
        }
    }
    _mm512_reduce_add_ps(acc)
}

/// Batch kernels: the same target features as the row kernel they loop over, so it is inlined.
macro_rules! batch {
    ($name:ident, $row:ident, $features:literal) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(query: &[f32], rows: &[f32], dimension: usize, out: &mut [f32]) {
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(dimension)) {
                // SAFETY: this function has the features `$row` needs.
                *o = unsafe { $row(query, row) };
            }
        }
    };
}

batch!(dot_batch_avx2, dot_avx2, "avx2,fma");
batch!(l2sq_batch_avx2, l2sq_avx2, "avx2,fma");
batch!(dot_batch_avx512, dot_avx512, "avx512f");
batch!(l2sq_batch_avx512, l2sq_avx512, "avx512f");
