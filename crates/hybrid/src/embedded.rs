//! The embedded store: edges and profiles in memory, made durable by the
//! shared write-ahead log and checkpoints (the default; no server needed).
//!
//! ```text
//! <dir>/checkpoint.bin   bincode: last_seq, every collection's edges, every profile
//! <dir>/wal/*.wal        proxima-wal segments of `Change` records
//! ```
//!
//! A change is appended (one frame per call, so a batch is all or nothing
//! after a crash), then applied, then acknowledged. A checkpoint is written
//! when the log holds as many items as the state, so rewriting the state costs
//! O(1) per change on average.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use proxima_core::{Error, FsyncPolicy, Result};
use proxima_wal::{Wal, WalOptions};
use serde::{Deserialize, Serialize};

use crate::edge::{Direction, Edge, EdgeKey};
use crate::graph::Graph;
use crate::policy::{ResolvedEvent, UserPolicy, UserProfile};
use crate::store::RelationStore;
use crate::traverse::{Neighbour, Step, Traversal, walk};

const CHECKPOINT: &str = "checkpoint.bin";
const FORMAT_VERSION: u32 = 1;
/// The log is never checkpointed below this many items.
const MIN_CHECKPOINT_ITEMS: u64 = 10_000;

/// One logged change.
#[derive(Debug, Serialize, Deserialize)]
enum Change {
    Upsert {
        collection: String,
        edges: Vec<Edge>,
    },
    Delete {
        collection: String,
        keys: Vec<EdgeKey>,
    },
    RemoveRecords {
        collection: String,
        ids: Vec<String>,
    },
    Replace {
        collection: String,
        edges: Vec<Edge>,
    },
    Policy {
        user: String,
        #[serde(with = "proxima_core::json_text")]
        policy: UserPolicy,
    },
    Events {
        user: String,
        #[serde(with = "proxima_core::json_text")]
        events: Vec<ResolvedEvent>,
    },
}

impl Change {
    /// Items it carries: what the checkpoint rhythm counts.
    fn items(&self) -> u64 {
        let n = match self {
            Change::Upsert { edges, .. } | Change::Replace { edges, .. } => edges.len(),
            Change::Delete { keys, .. } => keys.len(),
            Change::RemoveRecords { ids, .. } => ids.len(),
            Change::Policy { .. } => 1,
            Change::Events { events, .. } => events.len(),
        };
        n.max(1) as u64
    }
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    format_version: u32,
    last_seq: u64,
    graphs: Vec<(String, Vec<Edge>)>,
    #[serde(with = "proxima_core::json_text")]
    profiles: Vec<(String, UserProfile)>,
}

#[derive(Default)]
struct State {
    graphs: HashMap<String, Graph>,
    profiles: HashMap<String, UserProfile>,
}

impl State {
    /// Applies a logged change; returns how many edges it removed.
    fn apply(&mut self, change: Change) -> u64 {
        match change {
            Change::Upsert { collection, edges } => {
                let graph = self.graphs.entry(collection).or_default();
                edges.iter().for_each(|e| graph.upsert(e));
                0
            }
            Change::Delete { collection, keys } => {
                let Some(graph) = self.graphs.get_mut(&collection) else { return 0 };
                keys.iter().filter(|k| graph.remove(k)).count() as u64
            }
            Change::RemoveRecords { collection, ids } => {
                let Some(graph) = self.graphs.get_mut(&collection) else { return 0 };
                ids.iter().map(|id| graph.remove_node(id) as u64).sum()
            }
            Change::Replace { collection, edges } => {
                let mut graph = Graph::default();
                edges.iter().for_each(|e| graph.upsert(e));
                if graph.len() == 0 {
                    self.graphs.remove(&collection);
                } else {
                    self.graphs.insert(collection, graph);
                }
                0
            }
            Change::Policy { user, policy } => {
                self.profiles.entry(user).or_default().set_policy(policy);
                0
            }
            Change::Events { user, events } => {
                let profile = self.profiles.entry(user).or_default();
                events.iter().for_each(|e| profile.learn(e));
                0
            }
        }
    }

    fn items(&self) -> u64 {
        (self.graphs.values().map(Graph::len).sum::<usize>() + self.profiles.len()) as u64
    }
}

struct Inner {
    dir: PathBuf,
    state: Mutex<(State, Wal<Change>, u64)>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, (State, Wal<Change>, u64)> {
        // Appends and applies each complete before the lock is released.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Relations and profiles on the shared write-ahead log.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").field("dir", &self.inner.dir).finish()
    }
}

impl EmbeddedStore {
    /// The connection-string scheme.
    pub const SCHEME: &'static str = "file";

    /// Opens (or creates) the store in `dir`: checkpoint, then the log after it.
    pub async fn open(dir: impl Into<PathBuf>, fsync: FsyncPolicy) -> Result<Self> {
        let dir = dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(dir, fsync))
            .await
            .map_err(|e| Error::internal(format!("open task failed: {e}")))?
    }

    /// Opens `file://<dir>[?fsync=always|none]`.
    pub async fn open_uri(uri: &str) -> Result<Self> {
        let rest = uri
            .strip_prefix("file://")
            .ok_or_else(|| Error::invalid(format!("`{uri}` is not a file:// connection string")))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let fsync = match query {
            "" | "fsync=always" => FsyncPolicy::Always,
            "fsync=none" => FsyncPolicy::None,
            other => return Err(Error::invalid(format!("bad parameter `{other}` in `{uri}`; fsync=always|none"))),
        };
        if path.is_empty() {
            return Err(Error::invalid("file:// connection string without a path"));
        }
        Self::open(path, fsync).await
    }

    fn open_blocking(dir: PathBuf, fsync: FsyncPolicy) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let mut state = State::default();
        let mut last_seq = 0;
        if let Some(checkpoint) = read_checkpoint(&dir.join(CHECKPOINT))? {
            last_seq = checkpoint.last_seq;
            for (collection, edges) in checkpoint.graphs {
                state.apply(Change::Replace { collection, edges });
            }
            state.profiles = checkpoint.profiles.into_iter().collect();
        }
        let wal = Wal::open(dir.join("wal"), WalOptions { fsync, ..WalOptions::default() })?;
        let mut logged = 0;
        wal.replay(last_seq + 1, |_, change: Change| {
            logged += change.items();
            state.apply(change);
            Ok(())
        })?;
        Ok(Self { inner: Arc::new(Inner { dir, state: Mutex::new((state, wal, logged)) }) })
    }

    /// Logs `change`, applies it, and checkpoints when the log has grown as large as the state.
    async fn commit(&self, change: Change) -> Result<u64> {
        self.blocking(move |inner| {
            let mut guard = inner.lock();
            let (state, wal, logged) = &mut *guard;
            wal.append(std::slice::from_ref(&change))?;
            *logged += change.items();
            let removed = state.apply(change);
            if *logged >= MIN_CHECKPOINT_ITEMS.max(state.items()) {
                checkpoint(&inner.dir, state, wal)?;
                *logged = 0;
            }
            Ok(removed)
        })
        .await
    }

    /// Reads the state on the blocking pool (a traversal may touch many nodes).
    async fn read<T: Send + 'static>(&self, f: impl FnOnce(&State) -> T + Send + 'static) -> Result<T> {
        self.blocking(move |inner| Ok(f(&inner.lock().0))).await
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::internal(format!("relation store task failed: {e}")))?
    }
}

fn checkpoint(dir: &Path, state: &State, wal: &Wal<Change>) -> Result<()> {
    let last_seq = wal.next_seq() - 1;
    let checkpoint = Checkpoint {
        format_version: FORMAT_VERSION,
        last_seq,
        graphs: state.graphs.iter().map(|(c, g)| (c.clone(), g.edges().collect())).collect(),
        profiles: state.profiles.iter().map(|(u, p)| (u.clone(), p.clone())).collect(),
    };
    let bytes = bincode::serde::encode_to_vec(&checkpoint, bincode::config::standard())
        .map_err(|e| Error::internal(format!("cannot encode the relations checkpoint: {e}")))?;
    proxima_meta::snapshot::write_atomically(&dir.join(CHECKPOINT), &bytes)?;
    wal.truncate_before(last_seq + 1)
}

fn read_checkpoint(path: &Path) -> Result<Option<Checkpoint>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let (checkpoint, _): (Checkpoint, usize) = bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
        .map_err(|e| {
        Error::corrupted("relations checkpoint does not decode").with_context("file", path.display()).with_source(e)
    })?;
    if checkpoint.format_version != FORMAT_VERSION {
        return Err(Error::unsupported(format!(
            "relations checkpoint format {} is not supported",
            checkpoint.format_version
        )));
    }
    Ok(Some(checkpoint))
}

#[async_trait::async_trait]
impl RelationStore for EmbeddedStore {
    fn scheme(&self) -> &'static str {
        Self::SCHEME
    }

    async fn upsert_edges(&self, collection: &str, edges: Vec<Edge>) -> Result<()> {
        if edges.is_empty() {
            return Ok(());
        }
        self.commit(Change::Upsert { collection: collection.to_string(), edges }).await.map(|_| ())
    }

    async fn delete_edges(&self, collection: &str, keys: Vec<EdgeKey>) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.commit(Change::Delete { collection: collection.to_string(), keys }).await
    }

    async fn remove_records(&self, collection: &str, ids: Vec<String>) -> Result<u64> {
        // Deletes of records without edges (nearly all of them) log nothing:
        // a lookup under the lock, no hop to the blocking pool.
        let touches = self.inner.lock().0.graphs.get(collection).is_some_and(|g| ids.iter().any(|id| g.touches(id)));
        if !touches {
            return Ok(0);
        }
        self.commit(Change::RemoveRecords { collection: collection.to_string(), ids }).await
    }

    async fn replace_collection(&self, collection: &str, edges: Vec<Edge>) -> Result<()> {
        self.commit(Change::Replace { collection: collection.to_string(), edges }).await.map(|_| ())
    }

    async fn export_collection(&self, collection: &str) -> Result<Vec<Edge>> {
        let name = collection.to_string();
        let mut edges: Vec<Edge> =
            self.read(move |s| s.graphs.get(&name).map(|g| g.edges().collect()).unwrap_or_default()).await?;
        edges.sort_by_key(|a: &Edge| a.key());
        Ok(edges)
    }

    async fn edge_count(&self, collection: &str) -> Result<u64> {
        Ok(self.inner.lock().0.graphs.get(collection).map_or(0, |g| g.len() as u64))
    }

    async fn traverse(&self, collection: &str, traversal: &Traversal) -> Result<Vec<Neighbour>> {
        let (name, t) = (collection.to_string(), traversal.clone());
        self.read(move |s| match s.graphs.get(&name) {
            Some(graph) => walk(&t, |node| graph.steps(node, t.direction, &t.types, t.fan_out)),
            None => Vec::new(),
        })
        .await
    }

    async fn steps_of(
        &self,
        collection: &str,
        ids: &[String],
        types: &[String],
        direction: Direction,
        fan_out: usize,
    ) -> Result<Vec<Vec<Step>>> {
        let state = self.inner.lock();
        let Some(graph) = state.0.graphs.get(collection) else { return Ok(vec![Vec::new(); ids.len()]) };
        Ok(ids.iter().map(|id| graph.steps(id, direction, types, fan_out)).collect())
    }

    async fn profile(&self, user: &str) -> Result<Option<UserProfile>> {
        Ok(self.inner.lock().0.profiles.get(user).cloned())
    }

    async fn put_policy(&self, user: &str, policy: UserPolicy) -> Result<UserProfile> {
        self.commit(Change::Policy { user: user.to_string(), policy }).await?;
        self.profile(user).await?.ok_or_else(|| Error::internal("a stored policy went missing"))
    }

    async fn record_events(&self, user: &str, events: Vec<ResolvedEvent>) -> Result<UserProfile> {
        if !events.is_empty() {
            self.commit(Change::Events { user: user.to_string(), events }).await?;
        }
        Ok(self.profile(user).await?.unwrap_or_default())
    }
}
