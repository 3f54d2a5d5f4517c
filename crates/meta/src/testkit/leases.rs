//! Writer leases: one holder at a time however many claim at once, taken
//! over only after expiry with a new epoch, a deposed holder unable to
//! renew, and a release that keeps the epoch. Not in [`super::run_all`]:
//! backends that keep leases call it themselves.

use proxima_core::ErrorKind;

use super::{CaseResult, MetaHarness, ensure, expect_kind};
use crate::{Lease, LeaseClaim, now_millis};

fn claim(collection: &str, holder: &str, now_ms: u64, renewing: Option<u64>) -> LeaseClaim {
    LeaseClaim {
        collection: collection.into(),
        holder: holder.into(),
        address: format!("http://{holder}:5678"),
        duration_ms: 60_000,
        now_ms,
        renewing,
    }
}

/// The lease cases against `harness`'s backend.
pub async fn leases_conform(harness: &dyn MetaHarness) -> CaseResult {
    let b = harness.open().await?;
    let now = u64::try_from(now_millis()).expect("after 1970");
    ensure!(b.lease("lease-a").await?.is_none(), "a lease before any claim");
    let a = b.claim_lease(claim("lease-a", "node-1", now, None)).await?;
    ensure!(a.epoch == 1 && a.expires_at_ms == now + 60_000, "first claim: {a:?}");
    ensure!(b.lease("lease-a").await?.as_ref() == Some(&a), "the stored lease differs from the claimed one");
    expect_kind(b.claim_lease(claim("lease-a", "node-2", now + 10, None)).await, ErrorKind::Conflict, "held")?;
    let renewed = b.claim_lease(claim("lease-a", "node-1", now + 20, Some(1))).await?;
    ensure!(renewed.epoch == 1 && renewed.expires_at_ms == now + 60_020, "renewal: {renewed:?}");

    // After expiry another node takes it with a new epoch; the deposed node cannot renew.
    let later = now + 60_021;
    let taken = b.claim_lease(claim("lease-a", "node-2", later, None)).await?;
    ensure!(taken.holder == "node-2" && taken.epoch == 2, "takeover after expiry: {taken:?}");
    expect_kind(b.claim_lease(claim("lease-a", "node-1", later, Some(1))).await, ErrorKind::Conflict, "deposed")?;
    expect_kind(b.release_lease(&renewed).await, ErrorKind::Conflict, "release by the deposed holder")?;

    // A release lets another node take it at once; the epoch keeps counting.
    b.release_lease(&taken).await?;
    let again = b.claim_lease(claim("lease-a", "node-3", later + 1, None)).await?;
    ensure!(again.epoch == 3, "epoch after a release: {again:?}");

    // Many nodes claiming one free lease at once: exactly one holds it.
    let claims: Vec<_> = (0..8)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move { b.claim_lease(claim("lease-b", &format!("node-{i}"), now, None)).await })
        })
        .collect();
    let mut results = Vec::new();
    for handle in claims {
        results.push(handle.await.map_err(|e| super::CaseError(format!("a claim panicked: {e}")))?);
    }
    let winners = results.iter().filter(|r| r.is_ok()).count();
    ensure!(winners == 1, "{winners} nodes hold one lease: {results:?}");
    ensure!(
        results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.kind() == ErrorKind::Conflict),
        "a losing claim failed otherwise than Conflict: {results:?}"
    );

    // Listing by prefix: exactly the leases whose names start with it (`_`
    // and `%` are plain characters), expired ones included, by name.
    b.claim_lease(claim("_node:x", "x", now, None)).await?;
    b.claim_lease(claim("_nodes", "y", now, None)).await?;
    b.claim_lease(claim("xnode:z", "z", now, None)).await?;
    let names = |leases: Vec<Lease>| leases.into_iter().map(|l| l.collection).collect::<Vec<_>>();
    ensure!(names(b.list_leases("lease-").await?) == ["lease-a", "lease-b"], "listing `lease-`");
    ensure!(names(b.list_leases("_node:").await?) == ["_node:x"], "listing `_node:`");
    ensure!(b.list_leases("%").await?.is_empty(), "`%` matched something");
    Ok(())
}
