//! The backend: pooled clients, transactions, retries and counters.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use proxima_core::{Error, Result};
use proxima_meta::{
    BackendStats, BatchOp, CollectionMetadata, Health, Lease, LeaseClaim, ListFilter, ListPage, MetaCapabilities,
    MetadataBackend, OpCounters, snapshot,
};
use tokio_postgres::{IsolationLevel, NoTls};

use crate::sql::{self, db_error};
use crate::{PostgresConfig, TlsRoots, lease, schema};
use proxima_core::url::redact_password;
use proxima_meta::retry::with_retries;

/// A catalogue in one PostgreSQL table.
pub struct PostgresBackend {
    config: PostgresConfig,
    pool: Pool,
    replicas: Vec<Pool>,
    next_replica: AtomicUsize,
    table: String,
    counters: OpCounters,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend").field("config", &self.config).field("table", &self.table).finish()
    }
}

fn pool(url: &str, config: &PostgresConfig) -> Result<Pool> {
    let mut pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::invalid(format!("bad PostgreSQL URL `{}`", redact_password(url))).with_source(e))?;
    pg.connect_timeout(config.connect_timeout);
    let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match &config.tls {
        None => Manager::from_config(pg, NoTls, recycling),
        Some(roots) => {
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            Manager::from_config(pg, tls_connector(roots)?, recycling)
        }
    };
    Pool::builder(manager)
        .max_size(config.pool_max_size)
        .wait_timeout(Some(config.connect_timeout))
        .create_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.connect_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| Error::invalid(format!("cannot build the PostgreSQL pool: {e}")))
}

/// A rustls connector trusting `roots` (server certificate and name verified).
fn tls_connector(roots: &TlsRoots) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut store = rustls::RootCertStore::empty();
    match roots {
        TlsRoots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        TlsRoots::File(path) => {
            let bad = |e: &dyn std::fmt::Display| {
                Error::invalid(format!("cannot read CA certificates from {}: {e}", path.display()))
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
                store.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup failed: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PostgresConfig {
    /// A connection pool for this configuration (for other stores in the same database).
    pub fn pool(&self) -> Result<Pool> {
        pool(&self.url, self)
    }
}

/// A pooled connection, with pool and driver failures as typed errors.
pub async fn checkout(pool: &Pool) -> Result<Object> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => db_error(e),
        other => Error::unavailable(format!("no PostgreSQL connection: {other}")),
    })
}

/// Every operation gets at most this long, so a server that stops answering
/// yields `Unavailable` instead of a hang.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `fut` within the operation deadline.
pub async fn bounded<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(OPERATION_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(Error::unavailable(format!("PostgreSQL did not answer within {OPERATION_TIMEOUT:?}"))))
}

impl PostgresBackend {
    /// Connects, applies pending migrations and checks the schema version.
    pub async fn open(config: PostgresConfig) -> Result<Self> {
        let table = format!("{}collections", config.table_prefix);
        let backend = Self {
            pool: pool(&config.url, &config)?,
            replicas: config
                .read_replicas
                .iter()
                .map(|r| pool(&config.replica_url(r), &config))
                .collect::<Result<_>>()?,
            next_replica: AtomicUsize::new(0),
            table,
            counters: OpCounters::default(),
            config,
        };
        let prefix = backend.config.table_prefix.clone();
        let found = with_retries(|| async {
            let mut client = backend.client(false).await?;
            schema::migrate(&mut client, &format!("{prefix}schema_migrations"), schema::MIGRATIONS, &prefix)
                .await
                .map_err(db_error)
        })
        .await?;
        backend.warm_up().await?;
        if found > schema::CURRENT {
            return Err(Error::unsupported(format!(
                "the catalogue has schema version {found}; this build knows up to {}",
                schema::CURRENT
            )));
        }
        Ok(backend)
    }

    /// Opens `pool_min_size` connections up front, so the first calls do not pay for connecting.
    async fn warm_up(&self) -> Result<()> {
        let mut held = Vec::with_capacity(self.config.pool_min_size);
        for _ in 0..self.config.pool_min_size {
            held.push(self.client(false).await?);
        }
        Ok(())
    }

    /// The table of writer leases, beside the entries' table.
    fn leases_table(&self) -> String {
        format!("{}leases", self.config.table_prefix)
    }

    /// Idle connections in the primary pool.
    pub fn idle_connections(&self) -> usize {
        self.pool.status().available
    }

    /// A pooled client: the primary, or for reads a replica in turn.
    async fn client(&self, read: bool) -> Result<Object> {
        let pool = if read && !self.replicas.is_empty() {
            &self.replicas[self.next_replica.fetch_add(1, Ordering::Relaxed) % self.replicas.len()]
        } else {
            &self.pool
        };
        checkout(pool).await
    }

    /// Runs `steps` in one transaction with retries and a deadline, counting the call.
    async fn in_transaction(&self, op: &'static str, steps: &[Step]) -> Result<Vec<Option<CollectionMetadata>>> {
        let started = std::time::Instant::now();
        let result = with_retries(|| {
            bounded(async {
                let mut client = self.client(false).await?;
                let tx = client.transaction().await.map_err(db_error)?;
                let out = apply_steps(&tx, &self.table, steps).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(out)
            })
        })
        .await;
        self.counters.record_timed(op, started, result)
    }
}

/// One step of a transaction.
enum Step {
    Op(BatchOp),
    /// Store verbatim (import, restore).
    Put(CollectionMetadata),
    /// Remove every entry (restore).
    Clear,
}

/// Applies steps in order; returns the stored entry of each create and update.
async fn apply_steps(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    steps: &[Step],
) -> Result<Vec<Option<CollectionMetadata>>> {
    let many = steps.len() > 1;
    let mut out = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let result = match step {
            Step::Op(BatchOp::Create(m)) => sql::create(tx, table, m).await.map(Some),
            Step::Op(BatchOp::Update(m)) => sql::update(tx, table, m).await.map(Some),
            Step::Op(BatchOp::Delete { name, expected_version }) => {
                sql::delete(tx, table, name, *expected_version).await.map(|_| None)
            }
            Step::Put(m) => sql::put_verbatim(tx, table, m).await.map(|_| None),
            Step::Clear => tx.execute(&format!("DELETE FROM {table}"), &[]).await.map(|_| None).map_err(db_error),
        };
        out.push(result.map_err(|e| if many { e.with_context("operation", i) } else { e })?);
    }
    Ok(out)
}

fn stored(mut out: Vec<Option<CollectionMetadata>>) -> Result<CollectionMetadata> {
    out.pop().flatten().ok_or_else(|| Error::internal("a write produced no entry"))
}

#[async_trait]
impl MetadataBackend for PostgresBackend {
    fn scheme(&self) -> &'static str {
        "postgresql"
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: true,
            atomic_batch: true,
            native_text_search: true,
            native_ttl: false,
            shared: true,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        stored(self.in_transaction("create", &[Step::Op(BatchOp::Create(metadata))]).await?)
    }

    async fn claim_lease(&self, claim: LeaseClaim) -> Result<Lease> {
        let (started, table) = (std::time::Instant::now(), self.leases_table());
        let result =
            with_retries(|| bounded(async { lease::claim(&**self.client(false).await?, &table, &claim).await })).await;
        self.counters.record_timed("claim_lease", started, result)
    }

    async fn lease(&self, collection: &str) -> Result<Option<Lease>> {
        let table = self.leases_table();
        with_retries(|| bounded(async { lease::get(&**self.client(false).await?, &table, collection).await })).await
    }

    async fn list_leases(&self, prefix: &str) -> Result<Vec<Lease>> {
        let table = self.leases_table();
        with_retries(|| bounded(async { lease::list(&**self.client(false).await?, &table, prefix).await })).await
    }

    async fn release_lease(&self, held: &Lease) -> Result<()> {
        let table = self.leases_table();
        with_retries(|| bounded(async { lease::release(&**self.client(false).await?, &table, held).await })).await
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        let started = std::time::Instant::now();
        let result =
            with_retries(|| bounded(async { sql::get(&**self.client(true).await?, &self.table, name, false).await }))
                .await;
        self.counters.record_timed("get", started, result)
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        stored(self.in_transaction("update", &[Step::Op(BatchOp::Update(metadata))]).await?)
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let step = Step::Op(BatchOp::Delete { name: name.to_string(), expected_version });
        self.in_transaction("delete", &[step]).await.map(|_| ())
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        let started = std::time::Instant::now();
        let result =
            with_retries(|| bounded(async { sql::list(&**self.client(true).await?, &self.table, filter).await })).await;
        self.counters.record_timed("list", started, result)
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        let steps: Vec<Step> = ops.into_iter().map(Step::Op).collect();
        self.in_transaction("batch", &steps).await
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        let steps: Vec<Step> = entries.into_iter().map(Step::Put).collect();
        self.in_transaction("import", &steps).await.map(|_| ())
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let started = std::time::Instant::now();
        let result = with_retries(|| {
            bounded(async {
                let mut client = self.client(false).await?;
                // One snapshot of the whole table.
                let tx = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await
                    .map_err(db_error)?;
                let entries = sql::all(&*tx, &self.table).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(entries)
            })
        })
        .await
        .and_then(|entries| snapshot::write_new(location, entries));
        self.counters.record_timed("backup", started, result)
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let entries = self.counters.record("restore", snapshot::read(location, backup_id))?;
        let steps: Vec<Step> = std::iter::once(Step::Clear).chain(entries.into_iter().map(Step::Put)).collect();
        self.in_transaction("restore", &steps).await.map(|_| ())
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let (version, tls): (String, bool) = bounded(async {
            let client = self.client(false).await?;
            let sql = "SELECT version(), COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)";
            client.query_one(sql, &[]).await.map(|r| (r.get(0), r.get(1))).map_err(db_error)
        })
        .await?;
        let detail = format!("{version}; tls={tls}");
        Ok(Health { healthy: true, latency_ms: start.elapsed().as_secs_f64() * 1e3, detail })
    }

    async fn stats(&self) -> Result<BackendStats> {
        let count = bounded(async { sql::count_visible(&**self.client(true).await?, &self.table).await }).await?;
        Ok(self.counters.stats(count))
    }
}
