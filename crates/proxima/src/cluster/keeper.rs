//! This node's writer leases: taken when a write for a collection arrives
//! and nobody holds it, renewed every third of their duration, given up
//! (the collection followed again) when a renewal finds them lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use proxima_core::{Error, ErrorKind, Result};
use proxima_engine::{SharedPosition, VectorStorage};
use proxima_meta::{Lease, LeaseClaim, MetadataBackend};
use serde::Serialize;

use super::{ClusterConfig, WRITER_CONTEXT};

/// A lease this node holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldLease {
    /// The collection.
    pub collection: String,
    /// The lease's epoch.
    pub epoch: u64,
    /// Unix milliseconds it lasts until, unless renewed.
    pub expires_at_ms: u64,
}

/// What this node is and holds, for `GET /v1/cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// This node's config.
    pub node: ClusterConfig,
    /// The leases it holds, by collection.
    pub held: Vec<HeldLease>,
    /// The nodes that registered: each node's own lease (`_node:<id>`),
    /// renewed while it lives; an expired one is a node gone.
    pub nodes: Vec<Lease>,
    /// Every collection's lease as the catalogue has it (live or expired).
    pub leases: Vec<Lease>,
    /// Where this node is in each collection: writer or follower, the
    /// manifest version loaded, the last operation applied.
    pub positions: Vec<SharedPosition>,
}

/// The catalogue's clock, as leases count it.
fn now_ms() -> u64 {
    u64::try_from(proxima_meta::now_millis()).unwrap_or(0)
}

/// The prefix of the leases that say which nodes are alive (`_node:<id>`).
const NODE_LEASE: &str = "_node:";

/// The error a node gets for a write to a collection another node writes.
fn written_by(lease: &Lease) -> Error {
    Error::unavailable(format!(
        "collection `{}` is written by node `{}` at {}",
        lease.collection, lease.holder, lease.address
    ))
    .with_context(WRITER_CONTEXT, &lease.address)
}

/// Takes, renews and gives up this node's writer leases.
#[derive(Debug)]
pub(crate) struct LeaseKeeper {
    config: ClusterConfig,
    catalogue: Arc<dyn MetadataBackend>,
    held: Mutex<HashMap<String, Lease>>,
    /// One claim at a time: a burst of writes to a free collection takes it once.
    claiming: tokio::sync::Mutex<()>,
    /// The engines whose collections are followed again when a lease is lost.
    engines: RwLock<Vec<Arc<dyn VectorStorage>>>,
}

impl LeaseKeeper {
    pub(crate) fn new(config: ClusterConfig, catalogue: Arc<dyn MetadataBackend>) -> Self {
        Self { config, catalogue, held: Default::default(), claiming: Default::default(), engines: Default::default() }
    }

    /// How long a lease lasts.
    pub(crate) fn lease(&self) -> std::time::Duration {
        self.config.lease()
    }

    /// An engine whose collections this node may write.
    pub(crate) fn add_engine(&self, engine: Arc<dyn VectorStorage>) {
        self.engines.write().unwrap_or_else(|e| e.into_inner()).push(engine);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this node holds `collection`'s lease with a third of it left:
    /// a write that starts later could outlast it.
    fn holds(&self, collection: &str) -> bool {
        let margin = self.config.lease_ms / 3;
        self.lock().get(collection).is_some_and(|l| l.expires_at_ms > now_ms() + margin)
    }

    fn claim(&self, collection: &str, renewing: Option<u64>) -> LeaseClaim {
        LeaseClaim {
            collection: collection.to_string(),
            holder: self.config.node_id.clone(),
            address: self.config.advertise.clone(),
            duration_ms: self.config.lease_ms,
            now_ms: now_ms(),
            renewing,
        }
    }

    /// Takes `collection`'s lease, or names the node that holds it.
    async fn take(&self, collection: &str) -> Result<Lease> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.catalogue.claim_lease(self.claim(collection, None)).await {
                Ok(lease) => {
                    self.lock().insert(collection.to_string(), lease.clone());
                    return Ok(lease);
                }
                Err(e) if e.kind() == ErrorKind::Conflict => match self.catalogue.lease(collection).await? {
                    Some(lease) if lease.holder != self.config.node_id && lease.expires_at_ms > now_ms() => {
                        // A lease this node held is lost: follow the new writer now.
                        if self.lock().remove(collection).is_some() {
                            self.follow(collection).await;
                        }
                        return Err(written_by(&lease));
                    }
                    // It lapsed, or another claim raced this one: claim again.
                    _ if attempts < 3 => continue,
                    _ => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes this node the writer of the existing `collection` in `engine`,
    /// taking its lease if nobody holds it; the error names the node that
    /// does ([`WRITER_CONTEXT`]).
    pub(crate) async fn ensure_writer(&self, collection: &str, engine: &dyn VectorStorage) -> Result<()> {
        let Some(shared) = engine.shared() else { return Ok(()) };
        if self.holds(collection) && shared.writes(collection).await? {
            return Ok(());
        }
        let _one = self.claiming.lock().await;
        if !self.holds(collection) {
            self.take(collection).await?;
        }
        if !shared.writes(collection).await? {
            shared.take_writer(collection).await?;
        }
        Ok(())
    }

    /// Takes this node's own lease (`_node:<node_id>`), kept like the
    /// others: a node whose id a live node at another address holds is
    /// refused, so two nodes never share an id.
    pub(crate) async fn register_node(&self) -> Result<()> {
        let name = format!("{NODE_LEASE}{}", self.config.node_id);
        if let Some(lease) = self.catalogue.lease(&name).await?
            && lease.address != self.config.advertise
            && lease.expires_at_ms > now_ms()
        {
            return Err(Error::invalid(format!(
                "cluster mode: node id `{}` is in use by the node at {} (its lease lasts until {} ms): give each node its own",
                self.config.node_id, lease.address, lease.expires_at_ms
            )));
        }
        self.take(&name).await.map(|_| ())
    }

    /// Takes the lease of a collection this node is about to create.
    pub(crate) async fn ensure_creator(&self, collection: &str) -> Result<()> {
        let _one = self.claiming.lock().await;
        if self.holds(collection) { Ok(()) } else { self.take(collection).await.map(|_| ()) }
    }

    /// Gives up a dropped collection's lease.
    pub(crate) async fn dropped(&self, collection: &str) {
        let lease = self.lock().remove(collection);
        if let Some(lease) = lease {
            let _ = self.catalogue.release_lease(&lease).await;
        }
    }

    /// Renews every lease held; a lease that cannot be renewed (another node
    /// took it, or the catalogue stayed out of reach until it ran out) is
    /// given up and its collection followed again.
    pub(crate) async fn renew(&self) {
        let held: Vec<Lease> = self.lock().values().cloned().collect();
        for lease in held {
            let renewed = self.catalogue.claim_lease(self.claim(&lease.collection, Some(lease.epoch))).await;
            match renewed {
                Ok(renewed) => {
                    self.lock().insert(lease.collection.clone(), renewed);
                }
                Err(e) if e.kind() == ErrorKind::Conflict || lease.expires_at_ms <= now_ms() => {
                    tracing::warn!(collection = %lease.collection, error = %e, "writer lease lost; following the collection");
                    self.lock().remove(&lease.collection);
                    self.follow(&lease.collection).await;
                }
                Err(e) => {
                    tracing::warn!(collection = %lease.collection, error = %e, "writer lease not renewed; retrying")
                }
            }
        }
    }

    async fn follow(&self, collection: &str) {
        let engines = self.engines.read().unwrap_or_else(|e| e.into_inner()).clone();
        for engine in engines {
            if let Some(shared) = engine.shared() {
                match shared.follow(collection).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(collection, error = %e, "cannot follow a collection after losing its lease")
                    }
                }
            }
        }
    }

    /// This node and its leases, and every collection's lease in the catalogue.
    pub(crate) async fn status(&self, collections: &[String]) -> Result<NodeStatus> {
        let mut held: Vec<HeldLease> = self
            .lock()
            .values()
            .filter(|l| !l.collection.starts_with(NODE_LEASE))
            .map(|l| HeldLease { collection: l.collection.clone(), epoch: l.epoch, expires_at_ms: l.expires_at_ms })
            .collect();
        held.sort_by(|a, b| a.collection.cmp(&b.collection));
        let mut leases = Vec::new();
        for collection in collections {
            leases.extend(self.catalogue.lease(collection).await?);
        }
        let mut positions = Vec::new();
        let engines = self.engines.read().unwrap_or_else(|e| e.into_inner()).clone();
        for shared in engines.iter().filter_map(|e| e.shared()) {
            positions.extend(shared.positions().await?);
        }
        positions.sort_by(|a, b| a.collection.cmp(&b.collection));
        let nodes = self.catalogue.list_leases(NODE_LEASE).await?;
        Ok(NodeStatus { node: self.config.clone(), held, nodes, leases, positions })
    }

    /// Renews every third of a lease while `keeper` lives.
    pub(crate) fn spawn_renewals(keeper: &Arc<Self>) {
        let (weak, every) = (Arc::downgrade(keeper), keeper.config.lease() / 3);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(keeper) = weak.upgrade() else { return };
                keeper.renew().await;
            }
        });
    }
}
