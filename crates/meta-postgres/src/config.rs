//! How to reach PostgreSQL. Secrets never reach `Debug`.

use std::time::Duration;

use proxima_core::url::redact_password;
use proxima_core::{Error, Result};

/// Configuration of a [`crate::PostgresBackend`].
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgresql://user:password@host:port/db`, without the parameters below.
    pub url: String,
    /// Most pooled connections.
    pub pool_max_size: usize,
    /// Connections opened when the backend opens (the pool does not re-open them proactively).
    pub pool_min_size: usize,
    /// How long to wait for a connection (from the pool or the server).
    pub connect_timeout: Duration,
    /// Servers used for reads (`get`, `list`), `host:port` each, same credentials and database.
    pub read_replicas: Vec<String>,
    /// Table name prefix, so several catalogues can share a database.
    pub table_prefix: String,
    /// TLS (rustls): `None` for plain connections, else the roots to trust.
    pub tls: Option<TlsRoots>,
}

/// Which certificates a TLS connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRoots {
    /// The public web PKI (webpki-roots).
    WebPki,
    /// The CA certificates in this PEM file.
    File(std::path::PathBuf),
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: "postgresql://postgres@127.0.0.1:5432/postgres".into(),
            pool_max_size: 8,
            pool_min_size: 1,
            connect_timeout: Duration::from_secs(5),
            read_replicas: Vec::new(),
            table_prefix: "proxima_".into(),
            tls: None,
        }
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact_password(&self.url))
            .field("pool_max_size", &self.pool_max_size)
            .field("pool_min_size", &self.pool_min_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_replicas", &self.read_replicas)
            .field("table_prefix", &self.table_prefix)
            .field("tls", &self.tls)
            .finish()
    }
}

impl PostgresConfig {
    /// Parses `postgresql://user:pw@host:5432/db?pool_size=N&pool_min_size=N&connect_timeout_ms=N&read_replicas=h1:p,h2:p&table_prefix=P&sslmode=disable|require&sslrootcert=PATH`.
    /// `sslmode=require` verifies the server against `sslrootcert` (or the public web PKI).
    pub fn from_uri(uri: &str) -> Result<Self> {
        if !(uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
            return Err(Error::invalid(format!("`{}` is not a postgresql:// connection string", redact_password(uri))));
        }
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut config = Self { url: base.to_string(), ..Self::default() };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let bad = || Error::invalid(format!("bad parameter `{pair}` in a postgresql:// connection string"));
            let (key, value) = pair.split_once('=').ok_or_else(bad)?;
            match key {
                "pool_size" => config.pool_max_size = value.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?,
                "pool_min_size" => config.pool_min_size = value.parse().map_err(|_| bad())?,
                "connect_timeout_ms" => {
                    config.connect_timeout = Duration::from_millis(value.parse().map_err(|_| bad())?)
                }
                "read_replicas" => config.read_replicas = value.split(',').map(str::to_string).collect(),
                "table_prefix" if value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    config.table_prefix = value.to_string()
                }
                "sslmode" if value == "disable" => config.tls = None,
                "sslmode" if value == "require" || value == "verify-full" => {
                    if config.tls.is_none() {
                        config.tls = Some(TlsRoots::WebPki);
                    }
                }
                "sslmode" => {
                    return Err(Error::unsupported(format!(
                        "sslmode={value} is not supported; use disable, require or verify-full (both verify the server)"
                    ))
                    .with_context("sslmode", value));
                }
                "sslrootcert" => config.tls = Some(TlsRoots::File(value.into())),
                _ => return Err(bad()),
            }
        }
        if config.pool_min_size > config.pool_max_size {
            return Err(Error::invalid("pool_min_size is larger than pool_size"));
        }
        Ok(config)
    }

    /// The URL of a read replica: same credentials and database, other host.
    pub(crate) fn replica_url(&self, host_port: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("postgresql", &self.url));
        let (userinfo, after) = rest.rsplit_once('@').map_or(("", rest), |(u, a)| (u, a));
        let db = after.split_once('/').map_or("", |(_, db)| db);
        let at = if userinfo.is_empty() { String::new() } else { format!("{userinfo}@") };
        format!("{scheme}://{at}{host_port}/{db}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_the_password() {
        let c =
            PostgresConfig::from_uri("postgresql://ada:s3cret@db:5432/cat?pool_size=3&read_replicas=r1:5432,r2:5433")
                .unwrap();
        assert_eq!((c.pool_max_size, c.read_replicas.len()), (3, 2));
        assert_eq!(c.replica_url("r2:5433"), "postgresql://ada:s3cret@r2:5433/cat");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(PostgresConfig::from_uri("postgresql://h/db?sslmode=require").unwrap().tls, Some(TlsRoots::WebPki));
        let c = PostgresConfig::from_uri("postgresql://h/db?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert_eq!(c.tls, Some(TlsRoots::File("/ca.pem".into())));
        assert!(
            PostgresConfig::from_uri("postgresql://h/db?sslmode=prefer")
                .is_err_and(|e| e.kind() == proxima_core::ErrorKind::Unsupported)
        );
        assert!(PostgresConfig::from_uri("mysql://h/db").is_err());
        assert!(PostgresConfig::from_uri("postgresql://h/db?pool_size=2&pool_min_size=3").is_err());
        assert!(PostgresConfig::from_uri("postgresql://h/db?table_prefix=x;drop").is_err());
    }
}
