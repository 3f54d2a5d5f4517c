//! Settings: defaults, then the TOML file, then environment and flags.

use std::path::{Path, PathBuf};

use proxima::ProximaConfig;
use proxima_server::{ApiKey, Keys, ServerOptions};
use serde::Deserialize;

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) bind: String,
    pub(crate) server: ServerOptions,
    pub(crate) database: ProximaConfig,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    engines: Option<Vec<String>>,
    index_cache_bytes: Option<usize>,
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
            let scheme = meta.connection_string.split("://").next().unwrap_or_default();
            let matches = match meta.backend_type.as_str() {
                "wal" => scheme == "file",
                "postgres" | "postgresql" => scheme.starts_with("postgres"),
                other => scheme == other,
            };
            if !matches {
                return Err(format!(
                    "metadata_storage.backend_type `{}` does not match connection string scheme `{scheme}`",
                    meta.backend_type
                ));
            }
            database.metadata_url = Some(meta.connection_string);
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
        let keys = match std::env::var("PROXIMADB_API_KEYS") {
            Ok(spec) => Keys::parse(&spec)?,
            Err(_) => Keys::new(file.auth.keys),
        };
        let body_limit = file.server.body_limit_bytes.unwrap_or(proxima_server::DEFAULT_BODY_LIMIT);
        Ok(Self {
            bind: bind.or(file.server.bind).unwrap_or_else(|| "127.0.0.1:5678".to_string()),
            server: ServerOptions { body_limit, keys },
            database,
        })
    }
}
