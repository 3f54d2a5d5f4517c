//! Kernels in plain Rust. Eight independent accumulators break the add
//! dependency chain, which lets LLVM vectorise them on any target (NEON included).

const LANES: usize = 8;

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

pub(super) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| (x - y) * (x - y)).sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

pub(super) fn dot_u8(weights: &[f32], codes: &[u8]) -> f32 {
    let n = weights.len().min(codes.len());
    let (w, c) = (&weights[..n], &codes[..n]);
    let mut acc = [0.0f32; LANES];
    let (wc, cc) = (w.chunks_exact(LANES), c.chunks_exact(LANES));
    let tail: f32 = wc.remainder().iter().zip(cc.remainder()).map(|(x, &y)| x * f32::from(y)).sum();
    for (x, y) in wc.zip(cc) {
        for i in 0..LANES {
            acc[i] += x[i] * f32::from(y[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

pub(super) fn dot_batch(query: &[f32], rows: &[f32], dimension: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dimension)) {
        *o = dot(query, row);
    }
}

pub(super) fn l2sq_batch(query: &[f32], rows: &[f32], dimension: usize, out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dimension)) {
        *o = l2sq(query, row);
    }
}
