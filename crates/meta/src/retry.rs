//! Bounded retries with exponential backoff and jitter, for retryable errors
//! only — shared by the networked backends.

use std::future::Future;
use std::time::Duration;

use proxima_core::Result;

/// Most attempts of one operation.
pub const ATTEMPTS: u32 = 3;
const BASE_DELAY: Duration = Duration::from_millis(50);

/// A jitter factor in [0.5, 1.5) from the clock's low bits (no RNG dependency needed).
fn jitter() -> f64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    0.5 + f64::from(nanos % 1000) / 1000.0
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or has run `ATTEMPTS` times.
pub async fn with_retries<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                let delay = BASE_DELAY.mul_f64(f64::from(1u32 << (attempt - 1)) * jitter());
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use proxima_core::{Error, ErrorKind};

    use super::*;

    #[tokio::test]
    async fn retries_only_retryable_errors_and_gives_up() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = with_retries(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::unavailable("down"))
        })
        .await;
        assert_eq!((r.unwrap_err().kind(), calls.load(Ordering::SeqCst)), (ErrorKind::Unavailable, ATTEMPTS));

        calls.store(0, Ordering::SeqCst);
        let r: Result<()> = with_retries(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::conflict("stale"))
        })
        .await;
        assert_eq!((r.unwrap_err().kind(), calls.load(Ordering::SeqCst)), (ErrorKind::Conflict, 1));

        calls.store(0, Ordering::SeqCst);
        let r = with_retries(|| async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n == 0 { Err(Error::unavailable("blip")) } else { Ok(n) }
        })
        .await;
        assert_eq!(r.unwrap(), 1);
    }
}
