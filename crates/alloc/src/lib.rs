//! The allocator ProximaDB's binary runs on, and its tuning. Benchmarks and
//! examples that report the server's figures use the same.

pub use mimalloc::MiMalloc as Allocator;

/// How long memory freed to mimalloc stays committed before it goes back to
/// the kernel. A flush frees tens of MB that the next flush, a fraction of a
/// second later, allocates again; returned memory is faulted in and zeroed
/// anew. One writer's durable 50-d ingest used, in CPU per vector: 2.21 µs at
/// 100 ms, 1.87–1.99 µs at mimalloc's default of 1 s, 1.75 µs at 10 s and 1.81
/// µs with no purging at all.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// `mi_option_purge_delay`: its place in `mi_option_t` (mimalloc.h, v3), which
/// the `-sys` crate does not name. A test pins it by its default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes the allocator for this process: the purge delay above, and
/// transparent huge pages off (see
/// [`proxima_core::process::disable_transparent_huge_pages`]). Call it first
/// thing in `main`.
pub fn tune() -> std::io::Result<()> {
    // SAFETY: mi_option_set stores a number mimalloc reads when it next purges;
    // it takes no pointers and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    proxima_core::process::disable_transparent_huge_pages()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: mi_option_get only reads an option's value.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn tune_sets_the_purge_delay() {
        // 1,000 ms is v3's default for the purge delay and for no other option
        // near it, so this fails if the index names another option.
        assert_eq!(purge_delay(), 1_000, "option {MI_OPTION_PURGE_DELAY} is not the purge delay");
        tune().unwrap();
        assert_eq!(purge_delay(), PURGE_DELAY_MS);
    }
}
