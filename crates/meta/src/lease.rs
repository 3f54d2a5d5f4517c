//! Writer leases: which node may write a collection, until when, and the
//! epoch that fences the writers deposed before it. A node claims a lease
//! (taking it when it is free or expired, renewing it when it holds it) with
//! the catalogue's own conditional write, so two nodes never both hold one.

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// A collection's writer lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The collection written under it.
    pub collection: String,
    /// The node holding it.
    pub holder: String,
    /// Where the holder takes writes (other nodes forward to it).
    pub address: String,
    /// Raised each time the lease is taken (never when renewed or released):
    /// a writer that finds a higher epoch than its own has been deposed.
    pub epoch: u64,
    /// Unix milliseconds after which another node may take it.
    pub expires_at_ms: u64,
}

/// A node's request for a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim {
    /// The collection.
    pub collection: String,
    /// The node claiming.
    pub holder: String,
    /// Where it takes writes.
    pub address: String,
    /// How long the lease lasts from `now_ms`.
    pub duration_ms: u64,
    /// The claimant's clock, unix milliseconds.
    pub now_ms: u64,
    /// `None` takes the lease (a new epoch, even for its holder: a restarted
    /// node fences its earlier life); `Some(epoch)` renews the lease held
    /// with that epoch, and fails if it is no longer so held.
    pub renewing: Option<u64>,
}

impl LeaseClaim {
    /// The lease this claim makes of the stored one, or why it cannot: the
    /// rule every backend keeps, here for the backends that apply it under
    /// a lock of their own (`Conflict` naming the holder).
    pub fn apply(&self, stored: Option<&Lease>) -> Result<Lease> {
        let lease = |epoch| Lease {
            collection: self.collection.clone(),
            holder: self.holder.clone(),
            address: self.address.clone(),
            epoch,
            expires_at_ms: self.now_ms.saturating_add(self.duration_ms),
        };
        match (self.renewing, stored) {
            (Some(epoch), Some(s)) if s.holder == self.holder && s.epoch == epoch => Ok(lease(epoch)),
            (Some(epoch), _) => Err(lost(&self.collection, epoch, stored)),
            (None, None) => Ok(lease(1)),
            (None, Some(s)) if s.holder == self.holder || s.expires_at_ms <= self.now_ms => Ok(lease(s.epoch + 1)),
            (None, Some(s)) => Err(held(s)),
        }
    }
}

impl LeaseClaim {
    /// Why this claim failed against the lease now stored, for a backend
    /// whose conditional write did not land: the rule's own refusal, or, if
    /// the lease has come free meanwhile, that it is contended.
    pub fn refused(&self, now: Option<&Lease>) -> Error {
        match self.apply(now) {
            Err(e) => e,
            Ok(_) => Error::conflict(format!("the writer lease of `{}` is contended; retry", self.collection)),
        }
    }
}

/// `Conflict`: another node holds the lease.
fn held(lease: &Lease) -> Error {
    Error::conflict(format!(
        "the writer lease of `{}` is held by `{}` ({}) until {} ms",
        lease.collection, lease.holder, lease.address, lease.expires_at_ms
    ))
    .with_context("holder", &lease.holder)
}

/// `Conflict`: the lease renewed with `epoch` is no longer held so.
pub fn lost(collection: &str, epoch: u64, now: Option<&Lease>) -> Error {
    let by = now.map_or("nobody".to_string(), |l| format!("`{}` at epoch {}", l.holder, l.epoch));
    Error::conflict(format!("the writer lease of `{collection}` at epoch {epoch} was lost: it is held by {by}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(holder: &str, now_ms: u64, renewing: Option<u64>) -> LeaseClaim {
        LeaseClaim {
            collection: "c".into(),
            holder: holder.into(),
            address: format!("http://{holder}"),
            duration_ms: 100,
            now_ms,
            renewing,
        }
    }

    #[test]
    fn taken_renewed_taken_over_after_expiry_and_never_shared() {
        let a = claim("a", 0, None).apply(None).unwrap();
        assert_eq!((a.epoch, a.expires_at_ms), (1, 100));
        assert_eq!(claim("b", 50, None).apply(Some(&a)).unwrap_err().kind(), proxima_core::ErrorKind::Conflict);
        let renewed = claim("a", 90, Some(1)).apply(Some(&a)).unwrap();
        assert_eq!((renewed.epoch, renewed.expires_at_ms), (1, 190));
        let b = claim("b", 190, None).apply(Some(&renewed)).unwrap();
        assert_eq!((b.holder.as_str(), b.epoch), ("b", 2), "taken at expiry, with a new epoch");
        assert!(claim("a", 200, Some(1)).apply(Some(&b)).is_err(), "the deposed holder cannot renew");
        assert_eq!(claim("b", 210, None).apply(Some(&b)).unwrap().epoch, 3, "taking it again fences the last life");
        assert!(claim("a", 0, Some(1)).apply(None).is_err(), "nothing to renew");
    }
}
