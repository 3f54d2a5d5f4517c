//! Settings: defaults, then the TOML file, then environment and flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proxima::{CacheConfig, ClusterConfig, CompactionConfig, ProximaConfig, RoutingStrategy};
use proxima_server::{ApiKey, Keys, ServerOptions};
use serde::Deserialize;

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) bind: String,
    pub(crate) server: ServerOptions,
    pub(crate) database: ProximaConfig,
    pub(crate) maintenance: MaintenanceSection,
    pub(crate) routing: Option<RoutingStrategy>,
}

/// Background upkeep: automatic compaction (which also removes expired records).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MaintenanceSection {
    pub(crate) interval_seconds: u64,
    pub(crate) compaction: CompactionConfig,
}

impl Default for MaintenanceSection {
    fn default() -> Self {
        Self { interval_seconds: 60, compaction: CompactionConfig::default() }
    }
}

/// The TOML file's shape (docs/operations.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    metadata_storage: Option<MetadataSection>,
    #[serde(default)]
    storage: StorageSection,
    #[serde(default)]
    auth: AuthSection,
    #[serde(default)]
    maintenance: MaintenanceSection,
    #[serde(default)]
    cache: CacheConfig,
    #[serde(default)]
    relations: RelationsSection,
    /// How new collections (and rebalances) pick an engine (docs/operations.md).
    #[serde(default)]
    routing: Option<RoutingStrategy>,
    /// Cluster mode: this node, sharing its collections with others (docs/operations.md).
    #[serde(default)]
    cluster: Option<ClusterConfig>,
}

/// Where relations and user profiles live (docs/operations.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationsSection {
    /// `file://<dir>` or `postgresql://...`; `file://<data_dir>/relations` when unset.
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    #[serde(default)]
    keys: Vec<ApiKey>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    bind: Option<String>,
    data_dir: Option<PathBuf>,
    body_limit_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataSection {
    backend_type: String,
    connection_string: String,
    #[serde(default)]
    connection: ConnectionSection,
    #[serde(default)]
    performance: PerformanceSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSection {
    pool_size: Option<u32>,
    timeout_seconds: Option<u64>,
    ssl_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerformanceSection {
    #[serde(default)]
    enable_read_replicas: bool,
    #[serde(default)]
    read_replica_endpoints: Vec<String>,
    #[serde(default)]
    enable_caching: bool,
    cache_ttl_seconds: Option<u64>,
}

impl MetadataSection {
    /// The connection string with the sections' settings added as the backend's
    /// own parameters (docs/backends.md); settings a backend has no parameter for are errors.
    fn connection_string(&self) -> Result<String, String> {
        let scheme = self.connection_string.split("://").next().unwrap_or_default();
        let matches = match self.backend_type.as_str() {
            "wal" => scheme == "file",
            "postgres" | "postgresql" => scheme.starts_with("postgres"),
            other => scheme == other,
        };
        if !matches {
            return Err(format!(
                "metadata_storage.backend_type `{}` does not match connection string scheme `{scheme}`",
                self.backend_type
            ));
        }
        let postgres = scheme.starts_with("postgres");
        let unsupported =
            |setting: &str| format!("metadata_storage: `{setting}` is not supported by the `{scheme}` backend");
        let mut params: Vec<String> = Vec::new();
        let c = &self.connection;
        if let Some(n) = c.pool_size {
            if !postgres {
                return Err(unsupported("connection.pool_size"));
            }
            params.push(format!("pool_size={n}"));
        }
        if let Some(secs) = c.timeout_seconds {
            match scheme {
                _ if postgres => params.push(format!("connect_timeout_ms={}", secs * 1000)),
                "mongodb" => params.push(format!("timeout_ms={}", secs * 1000)),
                _ => return Err(unsupported("connection.timeout_seconds")),
            }
        }
        if c.ssl_enabled == Some(true) {
            match scheme {
                _ if postgres => params.push("sslmode=require".to_string()),
                "mongodb" => params.push("tls=true".to_string()),
                _ => return Err(unsupported("connection.ssl_enabled")),
            }
        }
        let p = &self.performance;
        if p.enable_read_replicas {
            if !postgres {
                return Err(unsupported("performance.enable_read_replicas"));
            }
            if p.read_replica_endpoints.is_empty() {
                return Err("metadata_storage.performance: read replicas enabled but no read_replica_endpoints".into());
            }
            params.push(format!("read_replicas={}", p.read_replica_endpoints.join(",")));
        }
        if p.enable_caching || p.cache_ttl_seconds.is_some() {
            return Err(
                "metadata_storage.performance: catalogue caching is not available yet (the cache layer is not built)"
                    .into(),
            );
        }
        let mut url = self.connection_string.clone();
        for param in params {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&param);
        }
        Ok(url)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    engines: Option<Vec<String>>,
    index_cache_bytes: Option<usize>,
    /// An engine's root by name, instead of `DATA_DIR/<name>`.
    #[serde(default)]
    roots: BTreeMap<String, String>,
}

impl Settings {
    pub(crate) fn load(path: Option<&Path>, bind: Option<String>, data_dir: Option<PathBuf>) -> Result<Self, String> {
        let file: File = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => File::default(),
        };
        let data_dir = data_dir.or(file.server.data_dir).unwrap_or_else(|| PathBuf::from("./proximadb-data"));
        let mut database = ProximaConfig::at(data_dir);
        if let Some(meta) = file.metadata_storage {
            database.metadata_url = Some(meta.connection_string()?);
        }
        if let Ok(url) = std::env::var("PROXIMADB_METADATA_URL") {
            database.metadata_url = Some(url);
        }
        if let Some(engines) = file.storage.engines {
            database.engines = engines;
        }
        if let Some(bytes) = file.storage.index_cache_bytes {
            database.index_cache_bytes = bytes;
        }
        if let Some(unknown) = file.storage.roots.keys().find(|name| !database.engines.contains(name)) {
            return Err(format!("[storage.roots] names `{unknown}`, which is not in [storage] engines"));
        }
        database.engine_roots = file.storage.roots;
        database.cache = cache_settings(file.cache)?;
        database.relations_url = std::env::var("PROXIMADB_RELATIONS_URL").ok().or(file.relations.url);
        if let Some(unknown) =
            file.routing.iter().flat_map(RoutingStrategy::engines).find(|e| !database.engines.iter().any(|o| o == e))
        {
            return Err(format!("[routing] names engine `{unknown}`, which is not in [storage] engines"));
        }
        if let Some(cluster) = &file.cluster {
            cluster.validate().map_err(|e| e.to_string())?;
        }
        database.cluster = file.cluster;
        let keys = match std::env::var("PROXIMADB_API_KEYS") {
            Ok(spec) => Keys::parse(&spec)?,
            Err(_) => Keys::new(file.auth.keys),
        };
        let body_limit = file.server.body_limit_bytes.unwrap_or(proxima_server::DEFAULT_BODY_LIMIT);
        Ok(Self {
            bind: bind.or(file.server.bind).unwrap_or_else(|| "127.0.0.1:5678".to_string()),
            server: ServerOptions { body_limit, keys },
            database,
            maintenance: file.maintenance,
            routing: file.routing,
        })
    }
}

/// The `[cache]` section with `PROXIMADB_CACHE_<SETTING>` variables over it,
/// checked: a bad setting stops the server at start-up, named.
fn cache_settings(mut cache: CacheConfig) -> Result<CacheConfig, String> {
    fn var<T: std::str::FromStr>(setting: &str, into: &mut T) -> Result<(), String> {
        let name = format!("PROXIMADB_CACHE_{}", setting.to_uppercase());
        match std::env::var(&name) {
            Ok(text) => {
                *into = text.parse().map_err(|_| format!("{name}=`{text}` is not a valid cache.{setting}"))?;
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }
    var("enabled", &mut cache.enabled)?;
    var("l1_max_bytes", &mut cache.l1_max_bytes)?;
    var("l1_ttl_seconds", &mut cache.l1_ttl_seconds)?;
    var("l1_tti_seconds", &mut cache.l1_tti_seconds)?;
    var("l3_max_bytes", &mut cache.l3_max_bytes)?;
    var("backplane", &mut cache.backplane)?;
    var("write_queue", &mut cache.write_queue)?;
    if let Ok(url) = std::env::var("PROXIMADB_CACHE_REDIS_URL") {
        cache.redis_url = Some(url);
    }
    if let Ok(path) = std::env::var("PROXIMADB_CACHE_L3_PATH") {
        cache.l3_path = Some(PathBuf::from(path));
    }
    cache.validate().map_err(|e| e.to_string())?;
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        file.metadata_storage.expect("a metadata_storage section").connection_string()
    }

    #[test]
    fn connection_settings_become_backend_parameters() {
        let url = parse(
            r#"
            [metadata_storage]
            backend_type = "postgresql"
            connection_string = "postgresql://u@db/proxima"
            [metadata_storage.connection]
            pool_size = 16
            timeout_seconds = 3
            ssl_enabled = true
            [metadata_storage.performance]
            enable_read_replicas = true
            read_replica_endpoints = ["r1:5432", "r2:5432"]
            "#,
        )
        .unwrap();
        assert_eq!(
            url,
            "postgresql://u@db/proxima?pool_size=16&connect_timeout_ms=3000&sslmode=require&read_replicas=r1:5432,r2:5432"
        );
        let mongo = parse(
            "[metadata_storage]\nbackend_type = \"mongodb\"\nconnection_string = \"mongodb://h/db?x=1\"\n[metadata_storage.connection]\ntimeout_seconds = 2\n",
        );
        assert_eq!(mongo.unwrap(), "mongodb://h/db?x=1&timeout_ms=2000");
    }

    /// Loads settings from `text` as a config file in `dir`.
    fn load_in(dir: &tempfile::TempDir, text: &str) -> Result<Settings, String> {
        let file = dir.path().join("proximadb.toml");
        std::fs::write(&file, text).unwrap();
        Settings::load(Some(&file), None, None)
    }

    #[test]
    fn engine_roots_come_from_the_storage_section() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| load_in(&dir, text);
        let settings = load(
            "[storage]\nengines = [\"viper\", \"lsm\"]\n[storage.roots]\nviper = \"/srv/v?vector_compression=none\"\n",
        )
        .unwrap();
        assert_eq!(settings.database.engine_roots["viper"], "/srv/v?vector_compression=none");
        assert!(!settings.database.engine_roots.contains_key("lsm"), "lsm stays under the data directory");
        let Err(err) = load("[storage.roots]\nmmap = \"/srv/m\"\n") else { panic!("mmap is not an engine in use") };
        assert!(err.contains("mmap"), "{err}");
    }

    #[test]
    fn cache_settings_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| load_in(&dir, text);
        let settings = load(
            "[cache]
l1_max_bytes = 1048576
l3_max_bytes = 4096
",
        )
        .unwrap();
        assert_eq!((settings.database.cache.l1_max_bytes, settings.database.cache.l3_max_bytes), (1 << 20, 4096));
        assert!(settings.database.cache.enabled, "L1 is on by default");
        assert!(
            load(
                "[cache]
l1_max_bytes = 0
"
            )
            .unwrap_err()
            .contains("l1_max_bytes")
        );
        assert!(
            load(
                "[cache]
backplane = true
"
            )
            .unwrap_err()
            .contains("redis_url")
        );
        assert!(
            load(
                "[cache]
l1_size = 3
"
            )
            .is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn unsupported_or_inconsistent_settings_are_errors() {
        let sqlite_pool = "[metadata_storage]\nbackend_type = \"sqlite\"\nconnection_string = \"sqlite://c.db\"\n[metadata_storage.connection]\npool_size = 4\n";
        assert!(parse(sqlite_pool).unwrap_err().contains("pool_size"));
        let mismatch = "[metadata_storage]\nbackend_type = \"mongodb\"\nconnection_string = \"sqlite://c.db\"\n";
        assert!(parse(mismatch).unwrap_err().contains("does not match"));
        let caching = "[metadata_storage]\nbackend_type = \"wal\"\nconnection_string = \"file://m\"\n[metadata_storage.performance]\nenable_caching = true\n";
        assert!(parse(caching).unwrap_err().contains("caching"));
        assert!(
            toml::from_str::<File>(
                "[metadata_storage]\nbackend_type = \"wal\"\nconnection_string = \"file://m\"\nbogus = 1\n"
            )
            .is_err()
        );
    }
}
