//! Writer leases in the `<collection>_leases` collection, one document per
//! collection, written only if it is still what was read (an insert for a
//! lease never taken, a replace filtered on holder, epoch and expiry
//! otherwise): of concurrent claimants exactly one write lands.

use mongodb::Collection;
use mongodb::bson::{Document, doc};
use proxima_core::{Error, ErrorKind, Result};
use proxima_meta::{Lease, LeaseClaim, lost};

use crate::backend::db_error;

/// Applies `claim` (the rule of [`LeaseClaim::apply`]) to the stored lease.
pub(crate) async fn claim(leases: &Collection<Document>, claim: &LeaseClaim) -> Result<Lease> {
    // A claim that loses a race reads again, and then fails naming the winner.
    for _ in 0..2 {
        let stored = get(leases, &claim.collection).await?;
        let lease = claim.apply(stored.as_ref())?;
        let landed = match &stored {
            None => match leases.insert_one(to_document(&lease)).await {
                Ok(_) => true,
                Err(e) => match db_error(e) {
                    e if e.kind() == ErrorKind::AlreadyExists => false,
                    e => return Err(e),
                },
            },
            Some(seen) => {
                let unchanged = doc! {
                    "_id": &seen.collection,
                    "holder": &seen.holder,
                    "epoch": seen.epoch as i64,
                    "expires_at_ms": seen.expires_at_ms as i64,
                };
                leases.replace_one(unchanged, to_document(&lease)).await.map_err(db_error)?.matched_count == 1
            }
        };
        if landed {
            return Ok(lease);
        }
    }
    let now = get(leases, &claim.collection).await?;
    Err(claim.refused(now.as_ref()))
}

/// The stored lease of `collection`.
pub(crate) async fn get(leases: &Collection<Document>, collection: &str) -> Result<Option<Lease>> {
    let found = leases.find_one(doc! { "_id": collection }).await.map_err(db_error)?;
    found.as_ref().map(from_document).transpose()
}

/// Expires `lease` now if it is still held so; its epoch stays.
pub(crate) async fn release(leases: &Collection<Document>, lease: &Lease) -> Result<()> {
    let held_so = doc! { "_id": &lease.collection, "holder": &lease.holder, "epoch": lease.epoch as i64 };
    let updated = leases.update_one(held_so, doc! { "$set": { "expires_at_ms": 0_i64 } }).await.map_err(db_error)?;
    if updated.matched_count == 1 {
        return Ok(());
    }
    Err(lost(&lease.collection, lease.epoch, get(leases, &lease.collection).await?.as_ref()))
}

fn to_document(lease: &Lease) -> Document {
    doc! {
        "_id": &lease.collection,
        "holder": &lease.holder,
        "address": &lease.address,
        "epoch": lease.epoch as i64,
        "expires_at_ms": lease.expires_at_ms as i64,
    }
}

/// Every stored lease whose collection starts with `prefix`, by name (all
/// are read: a cluster keeps one per collection and node).
pub(crate) async fn list(leases: &Collection<Document>, prefix: &str) -> Result<Vec<Lease>> {
    let mut found = leases.find(doc! {}).await.map_err(db_error)?;
    let mut out = Vec::new();
    while found.advance().await.map_err(db_error)? {
        let lease = from_document(&found.deserialize_current().map_err(db_error)?)?;
        if lease.collection.starts_with(prefix) {
            out.push(lease);
        }
    }
    out.sort_by(|a, b| a.collection.cmp(&b.collection));
    Ok(out)
}

fn from_document(d: &Document) -> Result<Lease> {
    let bad = |field: &str| Error::corrupted(format!("a stored lease has no valid `{field}`"));
    let text = |field: &str| d.get_str(field).map(str::to_string).map_err(|_| bad(field));
    let number = |field: &str| d.get_i64(field).map(|n| n as u64).map_err(|_| bad(field));
    Ok(Lease {
        collection: text("_id")?,
        holder: text("holder")?,
        address: text("address")?,
        epoch: number("epoch")?,
        expires_at_ms: number("expires_at_ms")?,
    })
}
