//! The backend: one SQLite connection used from tokio's blocking pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use proxima_core::{Error, Result};
use proxima_meta::{
    BackendStats, BatchOp, CollectionMetadata, Health, ListFilter, ListPage, MetaCapabilities, MetadataBackend,
    OpCounters, snapshot,
};
use rusqlite::{Connection, MAIN_DB};

use crate::sql::{self, db_error};
use crate::{SqliteConfig, schema};

/// A catalogue in one SQLite database.
#[derive(Clone)]
pub struct SqliteBackend {
    config: SqliteConfig,
    conn: Arc<Mutex<Connection>>,
    counters: Arc<OpCounters>,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend").field("config", &self.config).finish()
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // SQLite rolls back an unfinished transaction itself; the connection stays usable.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteBackend {
    /// Opens (or creates) the database, sets WAL mode and applies pending migrations.
    pub async fn open(config: SqliteConfig) -> Result<Self> {
        let opened = config.clone();
        let conn = tokio::task::spawn_blocking(move || Self::open_blocking(&opened))
            .await
            .map_err(|e| Error::internal(format!("open task failed: {e}")))??;
        Ok(Self { config, conn: Arc::new(Mutex::new(conn)), counters: Arc::default() })
    }

    fn open_blocking(config: &SqliteConfig) -> Result<Connection> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let mut conn = Connection::open(&config.path).map_err(db_error)?;
        conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms)).map_err(db_error)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_error)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db_error)?;
        let found = schema::migrate(&mut conn).map_err(db_error)?;
        if found > schema::CURRENT {
            return Err(Error::unsupported(format!(
                "{} has schema version {found}; this build knows up to {}",
                config.path.display(),
                schema::CURRENT
            )));
        }
        Ok(conn)
    }

    /// Runs `f` with the connection on the blocking pool and counts the call.
    async fn call<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || f(&mut lock(&conn)))
            .await
            .map_err(|e| Error::internal(format!("SQLite task failed: {e}")))
            .and_then(|r| r);
        self.counters.record_timed(op, started, result)
    }

    /// Runs `f` inside one transaction: committed if it succeeds, rolled back otherwise.
    async fn transaction<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call(op, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_error)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(out)
        })
        .await
    }
}

fn backup_file(location: &str, backup_id: &str) -> Result<PathBuf> {
    snapshot::validate_backup_id(backup_id)?;
    Ok(snapshot::location_dir(location).join(format!("{backup_id}.sqlite")))
}

#[async_trait]
impl MetadataBackend for SqliteBackend {
    fn scheme(&self) -> &'static str {
        crate::SCHEME
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: true,
            atomic_batch: true,
            native_text_search: true,
            native_ttl: false,
            shared: false,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        self.transaction("create", move |tx| sql::create(tx, &metadata)).await
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        let name = name.to_string();
        self.call("get", move |conn| sql::get(conn, &name)).await
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        self.transaction("update", move |tx| sql::update(tx, &metadata)).await
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let name = name.to_string();
        self.transaction("delete", move |tx| sql::delete(tx, &name, expected_version)).await
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        let filter = filter.clone();
        self.call("list", move |conn| sql::list(conn, &filter)).await
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        self.transaction("batch", move |tx| {
            let many = ops.len() > 1;
            ops.iter()
                .enumerate()
                .map(|(i, op)| {
                    let result = match op {
                        BatchOp::Create(m) => sql::create(tx, m).map(Some),
                        BatchOp::Update(m) => sql::update(tx, m).map(Some),
                        BatchOp::Delete { name, expected_version } => {
                            sql::delete(tx, name, *expected_version).map(|_| None)
                        }
                    };
                    result.map_err(|e| if many { e.with_context("operation", i) } else { e })
                })
                .collect()
        })
        .await
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        self.transaction("import", move |tx| entries.iter().try_for_each(|m| sql::put_verbatim(tx, m))).await
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let id = snapshot::new_backup_id();
        let path = backup_file(location, &id)?;
        self.call("backup", move |conn| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
            }
            conn.backup(MAIN_DB, &path, rusqlite::backup::NO_PROGRESS).map_err(db_error)?;
            Ok(id)
        })
        .await
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let path = backup_file(location, backup_id)?;
        self.call("restore", move |conn| {
            if !path.is_file() {
                return Err(Error::not_found(format!("no backup at {}", path.display())));
            }
            conn.restore(MAIN_DB, &path, rusqlite::backup::NO_PROGRESS).map_err(db_error)
        })
        .await
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let path = self.config.path.display().to_string();
        let version: String = self
            .call("health", |conn| conn.query_row("SELECT sqlite_version()", [], |r| r.get(0)).map_err(db_error))
            .await?;
        Ok(Health {
            healthy: true,
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            detail: format!("SQLite {version} at {path}"),
        })
    }

    async fn stats(&self) -> Result<BackendStats> {
        let count = self.call("stats", |conn| sql::count_visible(conn)).await?;
        Ok(self.counters.stats(count))
    }
}
