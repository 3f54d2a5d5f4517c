//! Cluster mode: several nodes over one object-store root and one networked
//! catalogue. Every node follows every collection; the node holding a
//! collection's writer lease writes it, and the others send it their writes
//! (docs/architecture.md, "Cluster mode").

mod keeper;

use std::sync::Arc;
use std::time::Duration;

use proxima_core::{Error, Result};
use proxima_meta::MetadataBackend;
use serde::{Deserialize, Serialize};

pub(crate) use self::keeper::LeaseKeeper;
pub use self::keeper::{HeldLease, NodeStatus};

/// The `[cluster]` section: who this node is and how long its leases last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster (lease holders are named by it).
    pub node_id: String,
    /// Where other nodes reach this one, `http://host:port`: writes they
    /// receive for collections this node writes are sent here.
    pub advertise: String,
    /// How long a writer lease lasts unless renewed (renewed every third of
    /// it); after a node dies, its collections take this long to get a new writer.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

fn default_lease_ms() -> u64 {
    10_000
}

/// The context key naming the node that writes a collection, on the error a
/// write to any other node gets (the server forwards the request there).
pub const WRITER_CONTEXT: &str = "writer";

/// The HTTP header that carries [`WRITER_CONTEXT`] on such an error's
/// response (`http://host:port`), for the server's forwarding layer.
pub const WRITER_HEADER: &str = "x-proxima-writer";

impl ClusterConfig {
    /// Refuses a config no cluster can run with.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid(format!("[cluster] {why}")));
        if self.node_id.trim().is_empty() {
            return bad("node_id is empty");
        }
        let Some(host_port) = self.advertise.strip_prefix("http://") else {
            return bad(&format!("advertise `{}` is not an http://host:port address", self.advertise));
        };
        if !host_port.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()) {
            return bad(&format!("advertise `{}` names no host and port", self.advertise));
        }
        if self.lease_ms < 1_000 {
            return bad(&format!(
                "lease_ms = {} is under a second: leases would lapse between renewals",
                self.lease_ms
            ));
        }
        Ok(())
    }

    /// How long a lease lasts.
    pub(crate) fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
}

/// Checks that this node can run in a cluster with `config`'s other
/// settings, and returns its lease keeper. The engines are checked as they
/// register (each must be shared).
pub(crate) async fn join(
    cluster: &ClusterConfig,
    config: &crate::ProximaConfig,
    catalogue: &Arc<dyn MetadataBackend>,
) -> Result<Arc<LeaseKeeper>> {
    cluster.validate()?;
    let refuse = |why: String| Err(Error::invalid(format!("cluster mode: {why}")));
    // A catalogue one process opens keeps no leases.
    if let Err(e) = catalogue.lease("_cluster_probe").await {
        return refuse(format!(
            "the catalogue `{}` cannot keep writer leases ({e}): use PostgreSQL, DynamoDB or MongoDB",
            catalogue.scheme()
        ));
    }
    if !config.relations_url().starts_with("postgresql://") {
        return refuse(format!(
            "relations at `{}` would be this node's alone: set [relations] url to a postgresql:// database",
            config.relations_url()
        ));
    }
    Ok(Arc::new(LeaseKeeper::new(cluster.clone(), Arc::clone(catalogue))))
}

/// A task that refreshes `engine`'s followed collections each time the
/// returned signal is given; signals given during a refresh make one more.
pub(crate) fn refresher(engine: &Arc<dyn proxima_engine::VectorStorage>) -> Arc<tokio::sync::Notify> {
    let (signal, engine) = (Arc::new(tokio::sync::Notify::new()), Arc::downgrade(engine));
    let waiting = Arc::clone(&signal);
    tokio::spawn(async move {
        loop {
            waiting.notified().await;
            let Some(engine) = engine.upgrade() else { return };
            if let Some(shared) = engine.shared()
                && let Err(e) = shared.refresh().await
            {
                tracing::warn!(error = %e, "refreshing after another node's change failed; the poll retries");
            }
        }
    });
    signal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_cluster_configs_are_refused_by_name() {
        let good = ClusterConfig { node_id: "a".into(), advertise: "http://10.0.0.1:5678".into(), lease_ms: 5_000 };
        good.validate().unwrap();
        for (bad, says) in [
            (ClusterConfig { node_id: " ".into(), ..good.clone() }, "node_id"),
            (ClusterConfig { advertise: "10.0.0.1:5678".into(), ..good.clone() }, "advertise"),
            (ClusterConfig { advertise: "http://host".into(), ..good.clone() }, "advertise"),
            (ClusterConfig { lease_ms: 200, ..good.clone() }, "lease_ms"),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
