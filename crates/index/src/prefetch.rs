//! Memory prefetch hints for the graph walks.

/// Asks the CPU to start loading `bytes` bytes from `at` (a hint: never faults).
#[inline]
pub(crate) fn bytes<T>(at: &[T], bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = at.as_ptr().cast::<i8>();
        for offset in (0..bytes.min(std::mem::size_of_val(at))).step_by(64) {
            // SAFETY: prefetching is a hint and never faults; the address is inside `at`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, bytes);
}

/// Asks for row `row` of `items`, rows of `width` items each (nothing when out of range).
#[inline]
pub(crate) fn row<T>(items: &[T], row: usize, width: usize) {
    if let Some(slice) = items.get(row * width..(row + 1) * width) {
        bytes(slice, std::mem::size_of_val(slice));
    }
}
