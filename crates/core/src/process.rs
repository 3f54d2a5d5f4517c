//! Settings a program applies to its own process.

/// Turns transparent huge pages off for this process (Linux; elsewhere a no-op).
///
/// With THP, the first touch of a fresh 2 MiB region zeroes all of it. A flush
/// allocates and frees tens of MB of encoder buffers, and an allocator that
/// asks for huge pages (mimalloc does) gets them zeroed whole again and again:
/// a third of a durable-ingest run's CPU went to `clear_page` on our test VM,
/// and ingest ran ~18% faster without THP. glibc's allocator, what the search
/// benchmarks ran on, never asks for them either.
pub fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and changes
        // only a flag of this process; it touches no memory of ours.
        let status = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if status != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_flag_is_set() {
        super::disable_transparent_huge_pages().unwrap();
        // SAFETY: PR_GET_THP_DISABLE only reads the flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }
}
