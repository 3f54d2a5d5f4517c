#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod edge;
mod embedded;
mod graph;
mod policy;
#[cfg(feature = "postgres")]
mod postgres;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod traverse;

use std::sync::Arc;

pub use edge::{Direction, Edge, EdgeKey, MAX_DEPTH, MAX_FAN_OUT, MAX_START_IDS, MAX_TYPE_LEN, validate_type};
pub use embedded::EmbeddedStore;
pub use policy::{
    Affinity, Event, EventKind, HALF_LIFE_MS, LEARNED_KEPT, LIKED_KEPT, MAX_USER_LEN, Preference, ResolvedEvent,
    UserPolicy, UserProfile, validate_user,
};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
use proxima_core::{Error, Result};
pub use store::RelationStore;
pub use traverse::{Neighbour, Step, Traversal};

/// Opens the store a connection string names: `file://<dir>` (embedded) or
/// `postgresql://...` (with the `postgres` feature).
pub async fn open(url: &str) -> Result<Arc<dyn RelationStore>> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "file" => Ok(Arc::new(EmbeddedStore::open_uri(url).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::open_uri(url).await?)),
        #[cfg(not(feature = "postgres"))]
        "postgres" | "postgresql" => {
            Err(Error::unsupported("PostgreSQL relations need the `relations-postgres` feature of this build"))
        }
        other => Err(Error::invalid(format!("relation store `{other}://` is unknown; use file:// or postgresql://"))),
    }
}
