//! Maps engine names to constructors, so callers pick engines by name.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use proxima_core::{Error, Result};

use crate::{IndexBuilder, VectorStorage};

/// Where and how to open an engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Root location: a directory path or an object-store URL, by engine.
    pub root: String,
    /// The hook run on every sealed segment.
    pub index_builder: Option<Arc<dyn IndexBuilder>>,
}

/// What a constructor returns.
pub type EngineFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn VectorStorage>>> + Send>>;

/// Opens an engine from options.
pub type EngineConstructor = fn(EngineOptions) -> EngineFuture;

/// Engine constructors by name.
#[derive(Debug, Default)]
pub struct EngineRegistry {
    constructors: RwLock<BTreeMap<String, EngineConstructor>>,
}

impl EngineRegistry {
    /// A registry with the memory engine registered as `"memory"`.
    pub fn with_memory() -> Self {
        let registry = Self::default();
        registry.register(crate::MemoryEngine::NAME, |_| Box::pin(async { Ok(crate::MemoryEngine::shared()) }));
        registry
    }

    /// Registers (or replaces) the constructor for `name`.
    pub fn register(&self, name: &str, constructor: EngineConstructor) {
        self.constructors.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), constructor);
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.constructors.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }

    /// Opens the engine registered as `name`.
    pub async fn open(&self, name: &str, options: EngineOptions) -> Result<Arc<dyn VectorStorage>> {
        let constructor = self.constructors.read().unwrap_or_else(|p| p.into_inner()).get(name).copied();
        let Some(constructor) = constructor else {
            return Err(Error::not_found(format!(
                "no storage engine named `{name}`; registered: {}",
                self.names().join(", ")
            )));
        };
        constructor(options).await
    }
}
