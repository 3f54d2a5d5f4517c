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

/// CPU time this process has used so far, user and system, on all its
/// threads (Linux; `None` elsewhere). Benchmarks report it per item beside
/// wall time: on a shared machine it varies far less.
pub fn cpu_time() -> Option<std::time::Duration> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `usage` is a plain C struct for getrusage to fill; all zeros
        // is a valid value of it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live, writable rusage.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return None;
        }
        let time = |t: libc::timeval| {
            std::time::Duration::from_secs(t.tv_sec as u64) + std::time::Duration::from_micros(t.tv_usec as u64)
        };
        Some(time(usage.ru_utime) + time(usage.ru_stime))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn cpu_time_grows_with_work() {
        let before = super::cpu_time().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(super::cpu_time().unwrap() > before, "a 50 ms spin shows as CPU time");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_flag_is_set() {
        super::disable_transparent_huge_pages().unwrap();
        // SAFETY: PR_GET_THP_DISABLE only reads the flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }
}
