//! Builds a backend from a connection string, through constructors registered by scheme.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};

use proxima_core::{Error, Result};

use crate::{MemoryBackend, MetadataBackend};

/// Every scheme ProximaDB knows, with the `proxima` feature that provides it.
pub const KNOWN_SCHEMES: &[(&str, &str)] = &[
    ("memory", "(always available)"),
    ("file", "meta-wal"),
    ("sqlite", "meta-sqlite"),
    ("postgresql", "meta-postgres"),
    ("postgres", "meta-postgres"),
    ("mongodb", "meta-mongodb"),
    ("dynamodb", "meta-dynamodb"),
];

/// What a constructor returns.
pub type BackendFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn MetadataBackend>>> + Send>>;

/// Opens a backend from its full connection string.
pub type BackendConstructor = fn(String) -> BackendFuture;

/// The scheme of a connection string (the part before `://`).
pub fn scheme_of(uri: &str) -> Result<&str> {
    match uri.split_once("://") {
        Some((scheme, _)) if !scheme.is_empty() => Ok(scheme),
        _ => Err(Error::invalid(format!("`{uri}` is not a connection string (expected scheme://...)"))),
    }
}

/// Backend constructors by scheme.
#[derive(Debug)]
pub struct MetadataBackendFactory {
    constructors: RwLock<BTreeMap<String, BackendConstructor>>,
}

impl Default for MetadataBackendFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataBackendFactory {
    /// A factory with the memory backend registered.
    pub fn new() -> Self {
        let factory = Self { constructors: RwLock::new(BTreeMap::new()) };
        factory.register(MemoryBackend::SCHEME, |_| {
            Box::pin(async { Ok(Arc::new(MemoryBackend::new()) as Arc<dyn MetadataBackend>) })
        });
        factory
    }

    /// The process-wide factory that `proxima::install_defaults()` fills.
    pub fn global() -> &'static MetadataBackendFactory {
        static GLOBAL: OnceLock<MetadataBackendFactory> = OnceLock::new();
        GLOBAL.get_or_init(MetadataBackendFactory::new)
    }

    /// Registers (or replaces) the constructor for `scheme`.
    pub fn register(&self, scheme: &str, constructor: BackendConstructor) {
        self.constructors.write().unwrap_or_else(|p| p.into_inner()).insert(scheme.to_string(), constructor);
    }

    /// The registered schemes, sorted.
    pub fn schemes(&self) -> Vec<String> {
        self.constructors.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// Opens the backend a connection string names.
    pub async fn open(&self, uri: &str) -> Result<Arc<dyn MetadataBackend>> {
        let scheme = scheme_of(uri)?;
        let constructor = self.constructors.read().unwrap_or_else(|p| p.into_inner()).get(scheme).copied();
        if let Some(constructor) = constructor {
            return constructor(uri.to_string()).await;
        }
        if let Some((_, feature)) = KNOWN_SCHEMES.iter().find(|(s, _)| *s == scheme) {
            return Err(Error::unsupported(format!(
                "the `{scheme}` metadata backend is not in this build; enable the `{feature}` feature of the `proxima` crate"
            ))
            .with_context("feature", feature));
        }
        Err(Error::invalid(format!(
            "unknown metadata backend scheme `{scheme}`; registered schemes: {}",
            self.schemes().join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use proxima_core::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn schemes_resolve_or_explain() {
        let factory = MetadataBackendFactory::new();
        assert_eq!(factory.open("memory://").await.unwrap().scheme(), "memory");
        let err = factory.open("sqlite:///tmp/x.db").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert_eq!(err.context("feature"), Some("meta-sqlite"));
        let err = factory.open("redis://localhost").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("registered schemes: memory"), "{err}");
        assert_eq!(factory.open("no-scheme").await.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
