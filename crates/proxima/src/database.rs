//! `Proxima`: one catalogue, the engines, and the search handler, composed.
//!
//! The catalogue (a [`meta::MetadataBackend`]) is the source of truth for which
//! collections exist and which engine holds each; engines store the data; the
//! search handler ranks. `Proxima` only routes between them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use proxima_core::{CollectionConfig, Error, Result, SearchRequest, VectorRecord};
use proxima_engine::{
    CollectionStats, CompactionPolicy, CompactionReport, StoredRecord, VectorStorage, WriteBatch, WriteReceipt,
};
use proxima_meta::{CollectionMetadata, ListFilter, MetadataBackend, MetadataBackendExt};
use proxima_search::{QueryEstimate, SearchContext, SearchResponse, VectorSearchHandler};
use serde::{Deserialize, Serialize};

use crate::analytics::{PerformanceAnalytics, Recorder};
use crate::cache::{CacheMode, CacheOutcome, LayerReport, ResultCache};
use crate::partitions::Holders;
use crate::{engine, meta};

/// How to open a [`Proxima`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProximaConfig {
    /// Where embedded engines and the embedded catalogue keep their files.
    pub data_dir: PathBuf,
    /// The catalogue's connection string; `file://<data_dir>/meta` when unset.
    pub metadata_url: Option<String>,
    /// Engines to open, by registered name; the first is where new collections go
    /// unless their config names another.
    pub engines: Vec<String>,
    /// Bytes of loaded indexes kept between queries.
    pub index_cache_bytes: usize,
    /// An engine's root, by name, where it is not `data_dir/<name>`: whatever
    /// the engine accepts (VIPER takes `s3://bucket/prefix` and parameters
    /// such as `?vector_compression=none`; docs/engines.md).
    pub engine_roots: BTreeMap<String, String>,
    /// The cache of answers (L1 on by default; L2, L3 and the backplane off).
    pub cache: crate::cache::CacheConfig,
    /// Where relations and user profiles live: `file://<data_dir>/relations`
    /// when unset, or `postgresql://...` (feature `relations-postgres`).
    pub relations_url: Option<String>,
    /// Cluster mode (`[cluster]`): this node shares its collections with
    /// others through a networked catalogue and an object-store root.
    pub cluster: Option<crate::ClusterConfig>,
}

impl Default for ProximaConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./proximadb-data"),
            metadata_url: None,
            engines: vec![default_engine().to_string()],
            index_cache_bytes: 1 << 30,
            engine_roots: BTreeMap::new(),
            cache: crate::cache::CacheConfig::default(),
            relations_url: None,
            cluster: None,
        }
    }
}

fn default_engine() -> &'static str {
    if cfg!(feature = "engine-viper") { "viper" } else { engine::MemoryEngine::NAME }
}

impl ProximaConfig {
    /// Defaults under `data_dir`.
    pub fn at(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), ..Self::default() }
    }

    /// A config from TOML text: `data_dir`, `metadata_url`, `engines`,
    /// `index_cache_bytes`; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::invalid(format!("proxima config: {e}")))
    }

    /// The catalogue's connection string.
    pub fn metadata_url(&self) -> String {
        self.metadata_url.clone().unwrap_or_else(|| format!("file://{}", self.data_dir.join("meta").display()))
    }

    /// The relation store's connection string.
    pub fn relations_url(&self) -> String {
        self.relations_url.clone().unwrap_or_else(|| format!("file://{}", self.data_dir.join("relations").display()))
    }
}

/// A database: catalogue + engines + search.
#[derive(Debug)]
pub struct Proxima {
    catalogue: Arc<dyn MetadataBackend>,
    engines: RwLock<BTreeMap<String, Arc<dyn VectorStorage>>>,
    default_engine: String,
    pub(crate) routing: RwLock<crate::routing::RoutingStrategy>,
    pub(crate) round_robin: std::sync::atomic::AtomicUsize,
    in_flight: RwLock<BTreeMap<String, Arc<std::sync::atomic::AtomicUsize>>>,
    pub(crate) gates: crate::tiering::Gates,
    /// Collection configs as this process last wrote or read them from the
    /// catalogue, so routing an operation costs no catalogue round trip. Only
    /// this process changes the collections of its catalogue (the embedded one
    /// is locked; a networked one is shared only in cluster mode, which reads
    /// the catalogue every time instead).
    configs: RwLock<HashMap<String, CollectionConfig>>,
    search: Arc<VectorSearchHandler>,
    pub(crate) data_dir: PathBuf,
    pub(crate) analytics: Arc<Recorder>,
    cache: Arc<ResultCache>,
    /// Edges between records, and user profiles.
    pub(crate) relations: Arc<dyn proxima_hybrid::RelationStore>,
    /// When each collection's figures were last written to the catalogue.
    stats_written: std::sync::Mutex<HashMap<String, Instant>>,
    /// This node's writer leases, in cluster mode.
    leases: Option<Arc<crate::cluster::LeaseKeeper>>,
}

/// The most searches one [`Proxima::search_batch`] call answers.
pub const MAX_BATCH_SEARCHES: usize = 10_000;

/// Writes refresh a collection's figures in the catalogue at most this often.
const STATS_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl Proxima {
    /// Opens the catalogue and every configured engine (indexes built by
    /// [`proxima_search::SegmentIndexer`] as segments seal).
    pub async fn open(config: ProximaConfig) -> Result<Self> {
        crate::install_defaults();
        let catalogue = meta::MetadataBackendFactory::global().open(&config.metadata_url()).await?;
        let indexer: Arc<dyn engine::IndexBuilder> = Arc::new(proxima_search::SegmentIndexer::default());
        let cache = ResultCache::open(&config.cache, &config.data_dir).await?;
        let relations = proxima_hybrid::open(&config.relations_url()).await?;
        let leases = match &config.cluster {
            Some(cluster) => Some(crate::cluster::join(cluster, &config, &catalogue).await?),
            None => None,
        };
        let mut opened = BTreeMap::new();
        for name in &config.engines {
            let root = match config.engine_roots.get(name) {
                Some(root) => root.clone(),
                None => config.data_dir.join(name).display().to_string(),
            };
            let options = engine::EngineOptions { root, index_builder: Some(indexer.clone()) };
            opened.insert(name.clone(), crate::engine_registry().open(name, options).await?);
        }
        let default_engine = config.engines.first().cloned().ok_or_else(|| Error::invalid("no engines configured"))?;
        let search = Arc::new(VectorSearchHandler::new(config.index_cache_bytes));
        let proxima = Self {
            catalogue,
            engines: RwLock::new(BTreeMap::new()),
            default_engine,
            routing: RwLock::new(crate::routing::RoutingStrategy::default()),
            round_robin: Default::default(),
            in_flight: Default::default(),
            gates: Default::default(),
            configs: Default::default(),
            search,
            data_dir: config.data_dir,
            analytics: Arc::default(),
            cache,
            relations,
            stats_written: Default::default(),
            leases,
        };
        for (name, engine) in opened {
            proxima.register_engine(&name, engine)?;
        }
        if let Some(keeper) = &proxima.leases {
            keeper.register_node().await?;
            crate::cluster::LeaseKeeper::spawn_renewals(keeper);
        }
        Ok(proxima)
    }

    /// How long this node's writer leases last, in cluster mode (`[cluster]`).
    pub fn cluster_lease(&self) -> Option<std::time::Duration> {
        self.leases.as_ref().map(|k| k.lease())
    }

    /// In cluster mode, reads now what the writers of the collections this
    /// node follows stored (their current manifests and log); nothing on a
    /// node on its own.
    pub async fn catch_up(&self) -> Result<()> {
        if self.leases.is_none() {
            return Ok(());
        }
        for engine in self.engines().values() {
            if let Some(shared) = engine.shared() {
                shared.refresh().await?;
            }
        }
        Ok(())
    }

    /// This node, its writer leases and every collection's lease, in
    /// cluster mode; `None` for a node on its own.
    pub async fn cluster_status(&self) -> Result<Option<crate::NodeStatus>> {
        let Some(keeper) = &self.leases else { return Ok(None) };
        let names: Vec<String> = self.list_collections().await?.into_iter().map(|c| c.name).collect();
        keeper.status(&names).await.map(Some)
    }

    /// Stops the cache's background work (its queued writes are stored first).
    pub async fn shutdown(&self) -> Result<()> {
        self.cache.shutdown().await
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Arc<dyn MetadataBackend> {
        &self.catalogue
    }

    /// The open engines, by name.
    pub fn engines(&self) -> BTreeMap<String, Arc<dyn VectorStorage>> {
        self.engines.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Opens `engine` for use under `name` (replacing none: the name must be
    /// free), under the layers every call to an engine passes through.
    pub fn register_engine(&self, name: &str, engine: Arc<dyn VectorStorage>) -> Result<()> {
        let in_flight = self.in_flight_counter(engine.name());
        let mut engines = self.engines.write().unwrap_or_else(|e| e.into_inner());
        if engines.contains_key(name) {
            return Err(Error::already_exists(format!("an engine named `{name}` is already registered")));
        }
        if let Some(keeper) = &self.leases {
            if engine.shared().is_none() {
                return Err(Error::invalid(format!(
                    "engine `{name}` keeps its collections to one process: cluster mode needs VIPER on an s3:// \
                     root with `log=object&follow=true`"
                )));
            }
            keeper.add_engine(engine.clone());
            // What this node applies of another node's writes must not be
            // answered from before it.
            let cache = self.cache.clone();
            if let Some(shared) = engine.shared() {
                shared.on_change(Arc::new(move |collection: &str| cache.forget(collection)));
            }
            // Another node's change, announced on the backplane: read it now
            // rather than at the next poll.
            let refresh = crate::cluster::refresher(&engine);
            self.cache.on_remote_change(Arc::new(move |_: &str| refresh.notify_one()));
        }
        let stacked =
            crate::layers::stack(engine, self.analytics.clone(), in_flight, self.cache.clone(), self.leases.clone());
        engines.insert(name.to_string(), stacked);
        Ok(())
    }

    /// Stops routing to `name`; refused while a collection lives there (move it first).
    pub async fn deregister_engine(&self, name: &str) -> Result<Arc<dyn VectorStorage>> {
        let users: Vec<String> = self
            .list_collections()
            .await?
            .into_iter()
            .filter(|c| c.engine.as_deref().unwrap_or(&self.default_engine) == name)
            .map(|c| c.name)
            .collect();
        if !users.is_empty() {
            return Err(Error::conflict(format!("engine `{name}` still holds {}", users.join(", "))));
        }
        if name == self.default_engine {
            return Err(Error::conflict(format!("engine `{name}` is the default engine")));
        }
        let removed = self.engines.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        removed.ok_or_else(|| Error::not_found(format!("no engine named `{name}`")))
    }

    /// Creates a collection: validated, recorded in the catalogue, then created
    /// on its engine; if the engine refuses, the catalogue entry is removed again.
    pub async fn create_collection(&self, config: CollectionConfig) -> Result<CollectionConfig> {
        self.create_collection_sized(config, 0).await
    }

    /// Like [`Proxima::create_collection`], telling the routing strategy how many
    /// records the collection is expected to hold (when its config names no engine).
    pub async fn create_collection_sized(
        &self,
        mut config: CollectionConfig,
        expected_records: u64,
    ) -> Result<CollectionConfig> {
        config.validate()?;
        if config.engine.is_none() {
            config.engine = Some(self.place(&config, expected_records).await?);
        }
        let engine_names = if config.partitions.is_empty() {
            vec![config.engine.clone().unwrap_or_else(|| self.default_engine.clone())]
        } else {
            config.partitions.clone()
        };
        let engines = engine_names.iter().map(|n| self.engine_named(n)).collect::<Result<Vec<_>>>()?;
        let mut entry = CollectionMetadata::new(new_id(&config.name), &config.name, config.dimension);
        entry.distance_metric = config.metric;
        entry.indexing_algorithm = index_name(&config).to_string();
        entry.config = serde_json::to_value(&config).map_err(|e| Error::internal(format!("config to JSON: {e}")))?;
        self.catalogue.create(entry).await?;
        for (created, engine) in engines.iter().enumerate() {
            if let Err(e) = engine.create_collection(&config).await {
                for engine in &engines[..created] {
                    let _ = engine.drop_collection(&config.name).await;
                }
                let _ = self.catalogue.delete(&config.name, None).await;
                return Err(e);
            }
        }
        self.remember(config.clone());
        Ok(config)
    }

    /// Collection configs, by name.
    pub async fn list_collections(&self) -> Result<Vec<CollectionConfig>> {
        let entries = self.catalogue.list_all(&ListFilter::default()).await?;
        entries.iter().map(config_of).collect()
    }

    /// One collection's config; `NotFound` if absent.
    pub async fn collection(&self, name: &str) -> Result<CollectionConfig> {
        // Other nodes change the catalogue too in cluster mode.
        let cached = self.configs.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned();
        if let Some(config) = cached.filter(|_| self.leases.is_none()) {
            return Ok(config);
        }
        match self.catalogue.get(name).await? {
            Some(entry) => {
                let config = config_of(&entry)?;
                self.remember(config.clone());
                Ok(config)
            }
            None => Err(Error::not_found(format!("no collection named `{name}`"))),
        }
    }

    /// Records `config` as the collection's current one (after this process changed it).
    pub(crate) fn remember(&self, config: CollectionConfig) {
        self.configs.write().unwrap_or_else(|e| e.into_inner()).insert(config.name.clone(), config);
    }

    /// Drops a collection's data, then its catalogue entry.
    pub async fn drop_collection(&self, name: &str) -> Result<()> {
        let (holders, _) = self.holders(name).await?;
        for (_, engine) in holders {
            match engine.drop_collection(name).await {
                Ok(()) => {}
                // Already gone from the engine (a drop interrupted before the catalogue update).
                Err(e) if e.kind() == proxima_core::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.configs.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        self.relations.replace_collection(name, Vec::new()).await?;
        self.catalogue.delete(name, None).await?;
        self.analytics.forget(name);
        Ok(())
    }

    /// Applies a write batch; returns once durable.
    pub async fn write(&self, collection: &str, batch: WriteBatch) -> Result<WriteReceipt> {
        // Held until the write is durable, so a move never copies around it.
        let gate = self.gates.of(collection);
        let _open = gate.read().await;
        let (holders, config) = self.holders(collection).await?;
        let deleted: Vec<String> = batch
            .ops
            .iter()
            .filter_map(|op| match op {
                engine::WriteOp::Delete { id } => Some(id.clone()),
                // A soft-deleted record may be restored with its edges; walks skip it meanwhile.
                _ => None,
            })
            .collect();
        let receipt = if config.partitions.is_empty() {
            holders[0].1.write(collection, batch).await?
        } else {
            self.write_partitioned(&config, &holders, batch).await?
        };
        if !deleted.is_empty() {
            // The delete is acknowledged whatever happens here: walks never
            // return a record that is gone, and the next delete retries.
            if let Err(e) = self.relations.remove_records(collection, deleted).await {
                tracing::warn!(collection, error = %e, "could not remove the edges of deleted records");
            }
        }
        if self.stats_due(collection) {
            // The write is acknowledged whatever happens here; the next refresh retries.
            if let Err(e) = self.record_stats(collection).await {
                tracing::debug!(collection, error = %e, "could not refresh the catalogue's figures");
            }
        }
        Ok(receipt)
    }

    /// Whether the collection's figures in the catalogue are older than `STATS_REFRESH`
    /// (and if so, marks them refreshed now).
    fn stats_due(&self, collection: &str) -> bool {
        let mut written = self.stats_written.lock().unwrap_or_else(|e| e.into_inner());
        match written.get_mut(collection) {
            Some(at) if at.elapsed() < STATS_REFRESH => false,
            Some(at) => {
                *at = Instant::now();
                true
            }
            None => {
                written.insert(collection.to_string(), Instant::now());
                true
            }
        }
    }

    /// Inserts or replaces records.
    pub async fn upsert(&self, collection: &str, records: Vec<VectorRecord>) -> Result<WriteReceipt> {
        let batch = records.into_iter().fold(WriteBatch::new(), WriteBatch::upsert);
        self.write(collection, batch).await
    }

    /// Deletes records by id.
    pub async fn delete(&self, collection: &str, ids: Vec<String>) -> Result<WriteReceipt> {
        let batch = ids.into_iter().fold(WriteBatch::new(), WriteBatch::delete);
        self.write(collection, batch).await
    }

    /// The newest visible version of each id.
    pub async fn get(&self, collection: &str, ids: &[String]) -> Result<Vec<Option<StoredRecord>>> {
        let (holders, config) = self.holders(collection).await?;
        if !config.partitions.is_empty() {
            return match self.get_partitioned(&config, &holders, ids).await {
                // A partition moved between routing and reading: read where it is now.
                Err(e) if e.kind() == proxima_core::ErrorKind::NotFound => {
                    let (holders, config) = self.holders(collection).await?;
                    self.get_partitioned(&config, &holders, ids).await
                }
                other => other,
            };
        }
        let engine = holders[0].1.clone();
        self.following(collection, engine, |e| async move { e.get(collection, ids).await }).await
    }

    /// [`Proxima::get`] through the cache as `mode` says; with
    /// [`CacheMode::Only`], `value` is `None` on a miss.
    pub async fn get_cached(
        &self,
        collection: &str,
        ids: &[String],
        mode: CacheMode,
    ) -> Result<Cached<Vec<Option<StoredRecord>>>> {
        self.cached(collection, &ids, mode, async {
            let records = self.get(collection, ids).await?;
            let expires = records.iter().flatten().filter_map(|r| r.record.expires_at).min();
            Ok((records, expires))
        })
        .await
    }

    /// Searches a collection (on a blocking thread: ranking is CPU work). A
    /// partitioned collection is searched on every engine ([`Proxima::unified_search`]);
    /// an engine that fails then fails the search.
    pub async fn search(&self, collection: &str, request: SearchRequest) -> Result<SearchResponse> {
        let (holders, config) = self.holders(collection).await?;
        if !config.partitions.is_empty() {
            return self.search_partitioned(collection, request).await;
        }
        let engine = holders[0].1.clone();
        let search = async {
            let view =
                self.following(collection, engine.clone(), |e| async move { e.read_view(collection).await }).await?;
            let handler = self.search.clone();
            cpu_bound(move || handler.execute_search(&SearchContext::new(view, request))).await
        };
        self.timed(collection, &*engine, "search", search).await
    }

    /// Answers up to [`MAX_BATCH_SEARCHES`] searches of one collection, in
    /// order, over one read view: segments several of them scan exactly are
    /// scanned once for all, by matrix products (see
    /// [`VectorSearchHandler::execute_batch`]). A refused search refuses the
    /// batch, naming its position (`search` in the error's context). Answers
    /// are not cached; a partitioned collection answers search by search.
    pub async fn search_batch(&self, collection: &str, requests: Vec<SearchRequest>) -> Result<Vec<SearchResponse>> {
        if requests.is_empty() || requests.len() > MAX_BATCH_SEARCHES {
            return Err(Error::invalid(format!(
                "a batch holds 1 to {MAX_BATCH_SEARCHES} searches, got {}",
                requests.len()
            )));
        }
        let (holders, config) = self.holders(collection).await?;
        if !config.partitions.is_empty() {
            let mut answers = Vec::with_capacity(requests.len());
            for (i, request) in requests.into_iter().enumerate() {
                answers.push(self.search(collection, request).await.map_err(|e| e.with_context("search", i))?);
            }
            return Ok(answers);
        }
        let engine = holders[0].1.clone();
        let search = async {
            let view =
                self.following(collection, engine.clone(), |e| async move { e.read_view(collection).await }).await?;
            let handler = self.search.clone();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            cpu_bound(move || handler.execute_batch(&view, requests, threads)).await
        };
        self.timed(collection, &*engine, "search_batch", search).await
    }

    /// [`Proxima::search`] through the cache as `mode` says. An answer from
    /// the cache has its hits and empty performance figures; with
    /// [`CacheMode::Only`], `value` is `None` on a miss.
    pub async fn search_cached(
        &self,
        collection: &str,
        request: SearchRequest,
        mode: CacheMode,
    ) -> Result<Cached<SearchResponse>> {
        let key = request.clone();
        self.cached(collection, &key, mode, async {
            let response = self.search(collection, request).await?;
            let valid_until = response.valid_until;
            Ok((response, valid_until))
        })
        .await
    }

    /// Makes the collection's cached answers unreachable (it exists).
    pub(crate) async fn cache_invalidate(&self, collection: &str) {
        self.cache.invalidate(collection).await;
    }

    /// Answers from the cache, or computes with `compute` (which also says
    /// until when, in unix seconds, its answer holds) and stores the answer.
    pub(crate) async fn cached<T: Cacheable>(
        &self,
        collection: &str,
        request: &(impl Serialize + Sync),
        mode: CacheMode,
        compute: impl Future<Output = Result<(T, Option<u64>)>>,
    ) -> Result<Cached<T>> {
        // The collection must exist whatever the cache holds.
        let (holders, _) = self.holders(collection).await?;
        let started = Instant::now();
        let mut cache = CacheOutcome::default();
        let version = if self.cache.consulted(mode) { data_version(collection, &holders).await } else { None };
        let ticket = match self.cache.lookup((collection, version.as_deref()), T::KIND, request, mode, &mut cache).await
        {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(stored) => {
                    cache.lookup_us = started.elapsed().as_micros() as u64;
                    self.analytics.record(collection, "cache", T::CACHED_OP, started.elapsed(), true);
                    return Ok(Cached { value: Some(T::from_stored(stored)), cache });
                }
                Err(_) => None, // not what this build stores: computed again
            },
            Ok(None) => None,
            Err(ticket) => ticket,
        };
        if mode == CacheMode::Only {
            return Ok(Cached { value: None, cache });
        }
        let (value, valid_until) = compute.await?;
        if let Some(ticket) = ticket
            && value.complete()
            && let Ok(bytes) = serde_json::to_vec(value.stored())
        {
            self.cache.store(ticket, bytes.into(), valid_until.map(|s| s.saturating_mul(1_000))).await;
        }
        Ok(Cached { value: Some(value), cache })
    }

    /// Each cache layer's health and statistics.
    pub async fn cache_report(&self) -> Vec<LayerReport> {
        self.cache.report().await
    }

    /// Makes every cached answer of `collection` unreachable (on this
    /// instance, and on the others through the backplane).
    pub async fn invalidate_cache(&self, collection: &str) -> Result<()> {
        self.collection(collection).await?;
        self.cache.purge(collection).await;
        Ok(())
    }

    /// What a search would cost, without running it. For a partitioned
    /// collection: the partitions' work added up, the time of the slowest
    /// (they are searched concurrently), the cost share averaged.
    pub async fn estimate(&self, collection: &str, request: SearchRequest) -> Result<QueryEstimate> {
        let (holders, _) = self.holders(collection).await?;
        let mut total: Option<QueryEstimate> = None;
        for (_, engine) in &holders {
            let view = engine.read_view(collection).await?;
            let part = self.search.estimate_query(&SearchContext::new(view, request.clone()));
            total = Some(match total {
                None => part,
                Some(mut sum) => {
                    sum.valid &= part.valid;
                    sum.errors.extend(part.errors.into_iter().filter(|e| !sum.errors.contains(e)).collect::<Vec<_>>());
                    sum.cost += part.cost;
                    sum.estimated_distance_computations += part.estimated_distance_computations;
                    sum.estimated_nodes_visited += part.estimated_nodes_visited;
                    sum.will_over_fetch |= part.will_over_fetch;
                    for r in part.recommendations {
                        if !sum.recommendations.contains(&r) {
                            sum.recommendations.push(r);
                        }
                    }
                    sum.estimated_duration_ms = sum.estimated_duration_ms.max(part.estimated_duration_ms);
                    sum.matching_rows = sum.matching_rows.zip(part.matching_rows).map(|(a, b)| a + b);
                    for (method, segments) in part.methods {
                        *sum.methods.entry(method).or_default() += segments;
                    }
                    sum
                }
            });
        }
        let mut estimate = total.ok_or_else(|| Error::internal(format!("`{collection}` has no engine")))?;
        estimate.cost /= holders.len() as f64;
        Ok(estimate)
    }

    /// [`Proxima::estimate`] through the cache (an estimate holds until the collection changes).
    pub async fn estimate_cached(&self, collection: &str, request: SearchRequest) -> Result<QueryEstimate> {
        let key = request.clone();
        let cached = self
            .cached(collection, &key, CacheMode::Use, async { Ok((self.estimate(collection, request).await?, None)) })
            .await?;
        cached.value.ok_or_else(|| Error::internal("an estimate computed on a miss went missing"))
    }

    /// Seals the write buffer (building its index).
    pub async fn flush(&self, collection: &str) -> Result<()> {
        let (holders, _) = self.holders(collection).await?;
        for (_, engine) in &holders {
            engine.flush(collection).await?;
        }
        self.record_stats(collection).await
    }

    /// Rewrites segments under `policy`.
    pub async fn compact(&self, collection: &str, policy: &CompactionPolicy) -> Result<CompactionReport> {
        let (holders, _) = self.holders(collection).await?;
        let mut total = CompactionReport::default();
        for (_, engine) in &holders {
            let report = engine.compact(collection, policy).await?;
            total.segments_before += report.segments_before;
            total.segments_after += report.segments_after;
            total.rows_removed += report.rows_removed;
        }
        self.record_stats(collection).await?;
        Ok(total)
    }

    /// Figures about a collection (summed over its partitions; `last_seq` is the highest).
    pub async fn stats(&self, collection: &str) -> Result<CollectionStats> {
        let (holders, _) = self.holders(collection).await?;
        let mut total = CollectionStats::default();
        for (_, engine) in &holders {
            let s = engine.stats(collection).await?;
            total.live_records += s.live_records;
            total.soft_deleted_records += s.soft_deleted_records;
            total.dead_rows += s.dead_rows;
            total.segments += s.segments;
            total.bytes += s.bytes;
            total.last_seq = total.last_seq.max(s.last_seq);
        }
        Ok(total)
    }

    /// Flushes every collection (used at shutdown, so restarts replay little).
    pub async fn flush_all(&self) -> Result<()> {
        for config in self.list_collections().await? {
            // In a cluster, a collection's writer flushes it.
            if !self.written_elsewhere(&config.name).await {
                self.flush(&config.name).await?;
            }
        }
        Ok(())
    }

    /// In cluster mode, whether another node writes `collection` (this one
    /// follows it on every engine holding it); never on a node on its own.
    pub(crate) async fn written_elsewhere(&self, collection: &str) -> bool {
        if self.leases.is_none() {
            return false;
        }
        let Ok((holders, _)) = self.holders(collection).await else { return false };
        for (_, engine) in holders {
            match engine.shared() {
                Some(shared) if shared.writes(collection).await.unwrap_or(false) => return false,
                Some(_) => {}
                None => return false,
            }
        }
        true
    }

    /// Per-collection and per-engine latency, throughput and success rates,
    /// with recommendations (for `collection` only, when given).
    pub async fn get_performance_analytics(&self, collection: Option<&str>) -> Result<PerformanceAnalytics> {
        let (collections, engines) = self.analytics.tables(collection);
        let names: Vec<String> = match collection {
            Some(name) => vec![self.collection(name).await?.name],
            None => self.list_collections().await?.into_iter().map(|c| c.name).collect(),
        };
        let mut recommendations = Vec::new();
        for name in names {
            for (_, engine) in self.holders(&name).await?.0 {
                let stats = engine.stats(&name).await?;
                let view = engine.read_view(&name).await?;
                let ops = collections.get(&name);
                recommendations.extend(crate::advice::recommend(&name, &*engine, &stats, &*view, ops));
            }
        }
        Ok(PerformanceAnalytics { collections, engines, recommendations })
    }

    /// Where the recorded time went, by collection and operation, most expensive first.
    pub fn analyze_operation_costs(&self) -> Vec<crate::analytics::OperationCost> {
        crate::analytics::costs(&self.analytics.tables(None).0)
    }

    /// Runs `op` on `engine`, the one routing chose; when the collection moved
    /// to another engine in between (the engine no longer has it), runs it once
    /// more on the engine now named.
    async fn following<T, F, Fut>(&self, collection: &str, engine: Arc<dyn VectorStorage>, op: F) -> Result<T>
    where
        F: Fn(Arc<dyn VectorStorage>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match op(engine.clone()).await {
            Err(e) if e.kind() == proxima_core::ErrorKind::NotFound => {
                let (now, _) = self.route(collection).await?;
                if Arc::ptr_eq(&now, &engine) { Err(e) } else { op(now).await }
            }
            other => other,
        }
    }

    /// Runs a search, recording its latency and outcome for analytics (engine
    /// calls are recorded by the analytics layer; a search is ranking too).
    async fn timed<T>(
        &self,
        collection: &str,
        engine: &dyn VectorStorage,
        op: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let counter = self.in_flight_counter(engine.name());
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let result = work.await;
        counter.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.analytics.record(collection, engine.name(), op, started.elapsed(), result.is_ok());
        result
    }

    fn in_flight_counter(&self, engine: &str) -> Arc<std::sync::atomic::AtomicUsize> {
        if let Some(c) = self.in_flight.read().unwrap_or_else(|e| e.into_inner()).get(engine) {
            return c.clone();
        }
        self.in_flight.write().unwrap_or_else(|e| e.into_inner()).entry(engine.to_string()).or_default().clone()
    }

    /// Operations running now on `engine`.
    pub fn in_flight(&self, engine: &str) -> usize {
        self.in_flight_counter(engine).load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The default engine's name.
    pub(crate) fn default_engine(&self) -> &str {
        &self.default_engine
    }

    /// The search handler (shared with search tasks).
    pub(crate) fn search_handler(&self) -> Arc<VectorSearchHandler> {
        self.search.clone()
    }

    /// The engine holding `collection`, as the catalogue says; `Unsupported`
    /// for a partitioned collection (the caller works on one engine's copy).
    pub(crate) async fn route(&self, collection: &str) -> Result<(Arc<dyn VectorStorage>, CollectionConfig)> {
        let config = self.collection(collection).await?;
        if !config.partitions.is_empty() {
            return Err(Error::unsupported(format!(
                "`{collection}` is partitioned over {}; this operation works on collections held by one engine",
                config.partitions.join(", ")
            )));
        }
        let name = config.engine.clone().unwrap_or_else(|| self.default_engine.clone());
        Ok((self.engine_named(&name)?, config))
    }

    pub(crate) fn engine_named(&self, name: &str) -> Result<Arc<dyn VectorStorage>> {
        let engines = self.engines.read().unwrap_or_else(|e| e.into_inner());
        engines.get(name).cloned().ok_or_else(|| {
            let open: Vec<&str> = engines.keys().map(String::as_str).collect();
            Error::invalid(format!("engine `{name}` is not open; open engines: {}", open.join(", ")))
        })
    }

    /// Writes the collection's figures into its catalogue entry.
    pub(crate) async fn record_stats(&self, collection: &str) -> Result<()> {
        let stats = self.stats(collection).await?;
        let Some(mut entry) = self.catalogue.get(collection).await? else { return Ok(()) };
        if entry.vector_count == stats.live_records && entry.total_size_bytes == stats.bytes {
            return Ok(());
        }
        entry.vector_count = stats.live_records;
        entry.total_size_bytes = stats.bytes;
        match self.catalogue.update(entry).await {
            // A concurrent update won; the next flush records the figures.
            Err(e) if e.kind() == proxima_core::ErrorKind::Conflict => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// An answer and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<T> {
    /// The answer; `None` when [`CacheMode::Only`] found none.
    pub value: Option<T>,
    /// Which cache layer answered, and which missed.
    pub cache: CacheOutcome,
}

/// An answer the cache can keep: what of it is stored, and the answer
/// rebuilt from that.
pub(crate) trait Cacheable: Sized {
    /// What is stored.
    type Stored: Serialize + serde::de::DeserializeOwned;
    /// The kind of answer, in cache keys.
    const KIND: &'static str;
    /// The operation analytics records for an answer from the cache.
    const CACHED_OP: &'static str;
    fn stored(&self) -> &Self::Stored;
    fn from_stored(stored: Self::Stored) -> Self;
    /// Whether the answer may be kept (a partial one may not).
    fn complete(&self) -> bool {
        true
    }
}

/// A search keeps its hits; its performance figures describe the search that
/// computed them, so an answer from the cache has none.
impl Cacheable for SearchResponse {
    type Stored = Vec<proxima_core::SearchHit>;
    const KIND: &'static str = "search";
    const CACHED_OP: &'static str = "search_cached";
    fn stored(&self) -> &Self::Stored {
        &self.hits
    }
    fn from_stored(hits: Self::Stored) -> Self {
        SearchResponse { hits, performance: Default::default(), valid_until: None }
    }
    fn complete(&self) -> bool {
        !self.performance.partial
    }
}

impl Cacheable for Vec<Option<StoredRecord>> {
    type Stored = Self;
    const KIND: &'static str = "get";
    const CACHED_OP: &'static str = "get_cached";
    fn stored(&self) -> &Self {
        self
    }
    fn from_stored(stored: Self) -> Self {
        stored
    }
}

impl Cacheable for QueryEstimate {
    type Stored = Self;
    const KIND: &'static str = "estimate";
    const CACHED_OP: &'static str = "estimate_cached";
    fn stored(&self) -> &Self {
        self
    }
    fn from_stored(stored: Self) -> Self {
        stored
    }
}

/// Runs ranking work without stalling the runtime: in place on a
/// multi-threaded runtime (other tasks move to other workers; no thread hop),
/// on the blocking pool otherwise.
pub(crate) async fn cpu_bound<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => {
            tokio::task::spawn_blocking(work).await.map_err(|e| Error::internal(format!("search task failed: {e}")))?
        }
    }
}

pub(crate) fn config_of(entry: &CollectionMetadata) -> Result<CollectionConfig> {
    serde_json::from_value(entry.config.clone())
        .map_err(|e| Error::corrupted(format!("catalogue entry `{}` holds an unreadable config: {e}", entry.name)))
}

fn index_name(config: &CollectionConfig) -> &'static str {
    match config.index {
        proxima_core::IndexConfig::Hnsw { .. } => "hnsw",
        proxima_core::IndexConfig::Ivf { .. } => "ivf",
        proxima_core::IndexConfig::Flat => "flat",
    }
}

/// The versions of a collection's data on every engine holding it, as one
/// key part, when each engine names its data durably.
async fn data_version(collection: &str, holders: &Holders) -> Option<String> {
    use std::fmt::Write;
    let mut version = String::new();
    for (name, engine) in holders {
        let v = engine.data_version(collection).await.ok().flatten()?;
        let _ = write!(version, "{name}:{:x}.{}.{};", v.lineage, v.layout, v.seq);
    }
    Some(version)
}

/// A collection id that is never reused: the name plus the creation time in nanoseconds.
fn new_id(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_toml_with_defaults_and_errors() {
        let config = ProximaConfig::from_toml("data_dir = \"/srv/p\"\nengines = [\"memory\"]\n").unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/p"));
        assert_eq!(config.engines, vec!["memory".to_string()]);
        assert_eq!(config.metadata_url(), "file:///srv/p/meta");
        assert_eq!(config.index_cache_bytes, ProximaConfig::default().index_cache_bytes);
        let err = ProximaConfig::from_toml("data_dir = 3").unwrap_err();
        assert_eq!(err.kind(), proxima_core::ErrorKind::InvalidArgument);
        assert!(ProximaConfig::from_toml("bogus = true").is_err());
    }
}
