//! The `MetadataBackend` trait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use proxima_core::Result;
use serde::{Deserialize, Serialize};

use crate::{BatchOp, CollectionMetadata, Lease, LeaseClaim, ListFilter, ListPage};

/// What a backend can do; callers check it instead of assuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MetaCapabilities {
    /// Data survives a restart.
    pub persistent: bool,
    /// `batch` is atomic (otherwise it answers `Unsupported`).
    pub atomic_batch: bool,
    /// The backend indexes text for `ListFilter::text` (others scan).
    pub native_text_search: bool,
    /// The backend removes expired entries by itself (all hide them on read).
    pub native_ttl: bool,
    /// Several processes may share the catalogue.
    pub shared: bool,
}

/// The answer of a health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Whether the backend answered.
    pub healthy: bool,
    /// How long the check took.
    pub latency_ms: f64,
    /// Backend-specific detail (server version, path…).
    pub detail: String,
}

/// Operation counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendStats {
    /// Visible entries.
    pub collections: u64,
    /// Calls by operation name (`create`, `get`, …).
    pub operations: BTreeMap<String, u64>,
    /// Calls that returned an error, by operation name.
    pub errors: BTreeMap<String, u64>,
    /// Mean wall-clock latency in milliseconds, by operation name (timed operations only).
    pub mean_latency_ms: BTreeMap<String, f64>,
}

/// A catalogue store. See the crate docs for the semantics every backend keeps.
#[async_trait]
pub trait MetadataBackend: Send + Sync + std::fmt::Debug {
    /// The connection-string scheme, e.g. `"sqlite"`.
    fn scheme(&self) -> &'static str;

    /// What the backend can do.
    fn capabilities(&self) -> MetaCapabilities;

    /// Stores a new entry (`version = 1`, timestamps set); `AlreadyExists` when the name or id is taken.
    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata>;

    /// The entry named `name`, unless absent or expired.
    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>>;

    /// Replaces an entry if `metadata.version` is the stored version; returns the stored result.
    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata>;

    /// Deletes an entry, checking its version when given.
    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()>;

    /// One page of entries matching `filter`, ordered by name.
    async fn list(&self, filter: &ListFilter) -> Result<ListPage>;

    /// Applies every operation or none; returns the stored entry for each create and update.
    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>>;

    /// Stores `entries` exactly as given — versions and timestamps included —
    /// replacing entries of the same name, all or none. Migration and restore use it.
    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()>;

    /// Writes a consistent copy of the whole catalogue to `location`; returns its id.
    async fn backup(&self, location: &str) -> Result<String>;

    /// Replaces the whole catalogue with backup `backup_id` from `location`.
    async fn restore(&self, backup_id: &str, location: &str) -> Result<()>;

    /// Checks that the backend answers.
    async fn health(&self) -> Result<Health>;

    /// Counters.
    async fn stats(&self) -> Result<BackendStats>;

    /// Takes or renews a collection's writer lease with one conditional
    /// write (see [`LeaseClaim::apply`] for the rule); `Conflict` when
    /// another node holds it or a renewal finds it lost. Leases are kept
    /// apart from entries: listings never show them. `Unsupported` on a
    /// backend that only one process can open, where there is no one to
    /// share a collection with.
    async fn claim_lease(&self, claim: LeaseClaim) -> Result<Lease> {
        Err(no_leases(self.scheme(), &claim.collection))
    }

    /// A collection's lease as stored, live or expired.
    async fn lease(&self, collection: &str) -> Result<Option<Lease>> {
        Err(no_leases(self.scheme(), collection))
    }

    /// Every stored lease (live or expired) of a name starting with
    /// `prefix`, by name: how a cluster finds its nodes, which hold
    /// `_node:<id>` leases.
    async fn list_leases(&self, prefix: &str) -> Result<Vec<Lease>> {
        Err(no_leases(self.scheme(), prefix))
    }

    /// Lets another node take the lease at once, if `lease` (holder and
    /// epoch) still holds it; the epoch stays, so fencing still holds.
    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        Err(no_leases(self.scheme(), &lease.collection))
    }
}

fn no_leases(scheme: &str, collection: &str) -> proxima_core::Error {
    proxima_core::Error::unsupported(format!(
        "the `{scheme}` catalogue keeps no writer leases (for `{collection}`): cluster mode needs a shared catalogue"
    ))
}

/// Per-operation call and error counters, shared by backends for `stats`.
#[derive(Debug, Default)]
pub struct OpCounters {
    inner: std::sync::Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    calls: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    /// (timed calls, total seconds)
    latency: BTreeMap<String, (u64, f64)>,
}

impl OpCounters {
    /// Counts one call of `op` and passes its result through.
    pub fn record<T>(&self, op: &str, result: Result<T>) -> Result<T> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *guard.calls.entry(op.to_string()).or_default() += 1;
        if result.is_err() {
            *guard.errors.entry(op.to_string()).or_default() += 1;
        }
        result
    }

    /// Counts one call of `op` that began at `started`, timing it, and passes its result through.
    pub fn record_timed<T>(&self, op: &str, started: std::time::Instant, result: Result<T>) -> Result<T> {
        let seconds = started.elapsed().as_secs_f64();
        {
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let slot = guard.latency.entry(op.to_string()).or_default();
            slot.0 += 1;
            slot.1 += seconds;
        }
        self.record(op, result)
    }

    /// The stats for `collections` visible entries.
    pub fn stats(&self, collections: u64) -> BackendStats {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mean_latency_ms =
            guard.latency.iter().map(|(op, (n, total))| (op.clone(), total * 1e3 / (*n).max(1) as f64)).collect();
        BackendStats { collections, operations: guard.calls.clone(), errors: guard.errors.clone(), mean_latency_ms }
    }
}

/// Conveniences over any [`MetadataBackend`].
#[async_trait]
pub trait MetadataBackendExt: MetadataBackend {
    /// Every visible entry matching `filter`, following pages to the end.
    async fn list_all(&self, filter: &ListFilter) -> Result<Vec<CollectionMetadata>> {
        let mut out = Vec::new();
        let mut filter = ListFilter { limit: Some(ListFilter::MAX_LIMIT), ..filter.clone() };
        loop {
            let page = self.list(&filter).await?;
            out.extend(page.items);
            match page.next_page_token {
                Some(token) => filter.page_token = Some(token),
                None => return Ok(out),
            }
        }
    }
}

impl<T: MetadataBackend + ?Sized> MetadataBackendExt for T {}
