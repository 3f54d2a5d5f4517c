//! Where the catalogue lives in MongoDB. Credentials never reach `Debug`.

use std::time::Duration;

use proxima_core::url::redact_password;
use proxima_core::{Error, Result};

/// Configuration of a [`crate::MongoBackend`].
#[derive(Clone, PartialEq, Eq)]
pub struct MongoConfig {
    /// The driver's connection string, without our own parameters.
    pub uri: String,
    /// Database name (the URI's path; `proximadb` when absent).
    pub database: String,
    /// Collection holding the catalogue.
    pub collection: String,
    /// Server selection and connect timeout.
    pub timeout: Duration,
}

impl Default for MongoConfig {
    fn default() -> Self {
        Self {
            uri: "mongodb://127.0.0.1:27017/proximadb".into(),
            database: "proximadb".into(),
            collection: "proxima_collections".into(),
            timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoConfig")
            .field("uri", &redact_password(&self.uri))
            .field("database", &self.database)
            .field("collection", &self.collection)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl MongoConfig {
    /// Parses `mongodb://host:27017/db?collection=NAME&<driver options>`; `collection`
    /// (default `proxima_collections`) and `timeout_ms` are ours, the rest goes to the driver.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let rest = uri
            .strip_prefix("mongodb://")
            .ok_or_else(|| Error::invalid(format!("`{}` is not a mongodb:// URI", redact_password(uri))))?;
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hosts, database) = before_query.split_once('/').unwrap_or((before_query, ""));
        let mut config = Self {
            uri: String::new(),
            database: if database.is_empty() { "proximadb".into() } else { database.to_string() },
            collection: "proxima_collections".into(),
            timeout: Duration::from_secs(5),
        };
        let mut driver = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("collection", v)) if !v.is_empty() => config.collection = v.to_string(),
                Some(("timeout_ms", v)) => {
                    config.timeout =
                        Duration::from_millis(v.parse().map_err(|_| Error::invalid(format!("bad `{pair}`")))?)
                }
                _ => driver.push(pair),
            }
        }
        let query = if driver.is_empty() { String::new() } else { format!("?{}", driver.join("&")) };
        config.uri = format!("mongodb://{hosts}/{}{query}", config.database);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_our_parameters_from_the_drivers() {
        let c = MongoConfig::from_uri("mongodb://ada:pw@h:27019/cat?collection=meta&directConnection=true").unwrap();
        assert_eq!((c.database.as_str(), c.collection.as_str()), ("cat", "meta"));
        assert_eq!(c.uri, "mongodb://ada:pw@h:27019/cat?directConnection=true");
        assert!(!format!("{c:?}").contains("pw@"));
        assert_eq!(MongoConfig::from_uri("mongodb://h:1").unwrap().database, "proximadb");
        assert!(MongoConfig::from_uri("postgres://h").is_err());
    }
}
