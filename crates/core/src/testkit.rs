//! What the conformance suites of the trait crates share: a case's result type
//! and the checks cases are written with. Cases return errors instead of
//! panicking, so a suite can be run against deliberately broken implementations.

use crate::{ErrorKind, Result};

/// Why a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError(pub String);

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::Error> for CaseError {
    fn from(e: crate::Error) -> Self {
        CaseError(format!("unexpected error: {e}"))
    }
}

/// The outcome of one case.
pub type CaseResult = std::result::Result<(), CaseError>;

/// Fails the case with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure_case {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::testkit::CaseError(format!($($fmt)+)));
        }
    };
}

/// Fails unless `result` is an error of `kind`.
pub fn expect_kind<T: std::fmt::Debug>(result: Result<T>, kind: ErrorKind, what: &str) -> CaseResult {
    match result {
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(CaseError(format!("{what}: expected {kind}, got {e}"))),
        Ok(v) => Err(CaseError(format!("{what}: expected {kind}, got Ok({v:?})"))),
    }
}

/// A pseudo-random vector of `dimension` values in [-0.5, 0.5), the same for
/// the same seed on every machine (xorshift), so tests can rebuild their data.
pub fn seeded_vector(seed: u64, dimension: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..dimension)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}
