//! Collection configuration.

use serde::{Deserialize, Serialize};

use crate::{DistanceMetric, Result, validate};

/// How often acknowledged writes reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// Every write is fsynced (shared by concurrent writers) before it is acknowledged.
    #[default]
    Always,
    /// A background fsync every `n` milliseconds; a crash may lose that window.
    IntervalMs(u64),
    /// Never fsync (tests and scratch data).
    None,
}

/// Which index the search layer builds for sealed segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum IndexConfig {
    /// Hierarchical navigable small-world graph.
    Hnsw {
        /// Neighbours per node.
        m: u32,
        /// Candidate list size while building.
        ef_construction: u32,
    },
    /// Inverted file with k-means centroids.
    Ivf {
        /// Number of centroids.
        nlist: u32,
    },
    /// No index: exact scan.
    Flat,
}

/// Neighbours per node an HNSW index accepts.
pub const HNSW_M: std::ops::RangeInclusive<u32> = 2..=64;
/// The HNSW build's candidate list sizes accepted.
pub const HNSW_EF_CONSTRUCTION: std::ops::RangeInclusive<u32> = 1..=10_000;
/// IVF centroid counts accepted.
pub const IVF_NLIST: std::ops::RangeInclusive<u32> = 1..=65_536;
/// Background fsync intervals accepted, milliseconds.
pub const FSYNC_INTERVAL_MS: std::ops::RangeInclusive<u64> = 1..=60_000;

impl IndexConfig {
    /// Checks the parameters against the ranges the index builders accept, so
    /// a collection is refused when it is created, not at its first flush.
    pub fn validate(&self) -> crate::Result<()> {
        let outside = |what: &str, range: String, got: u32| {
            Err(crate::Error::invalid(format!("{what} must be in {range}, got {got}")))
        };
        match *self {
            IndexConfig::Hnsw { m, .. } if !HNSW_M.contains(&m) => outside("hnsw m", format!("{HNSW_M:?}"), m),
            IndexConfig::Hnsw { ef_construction, .. } if !HNSW_EF_CONSTRUCTION.contains(&ef_construction) => {
                outside("hnsw ef_construction", format!("{HNSW_EF_CONSTRUCTION:?}"), ef_construction)
            }
            IndexConfig::Ivf { nlist } if !IVF_NLIST.contains(&nlist) => {
                outside("ivf nlist", format!("{IVF_NLIST:?}"), nlist)
            }
            _ => Ok(()),
        }
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig::Hnsw { m: 16, ef_construction: 200 }
    }
}

/// The type of a declared filterable metadata field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// UTF-8 string.
    String,
    /// Integer (JSON number without fraction).
    Int,
    /// Any JSON number.
    Float,
    /// `true` / `false`.
    Bool,
}

impl FieldType {
    /// Whether a JSON value is of this type (`null` never is).
    pub fn accepts(self, value: &serde_json::Value) -> bool {
        match self {
            FieldType::String => value.is_string(),
            FieldType::Int => value.is_i64() || value.is_u64(),
            FieldType::Float => value.is_number(),
            FieldType::Bool => value.is_boolean(),
        }
    }
}

/// A metadata field declared filterable, with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FieldSpec {
    /// Dotted path into the metadata object.
    pub name: String,
    /// The values it holds.
    #[serde(rename = "type")]
    pub ty: FieldType,
}

/// Everything an engine needs to know about a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CollectionConfig {
    /// Unique name: 1–128 ASCII letters, digits, `_`, `-`, `.`.
    pub name: String,
    /// Vector length.
    pub dimension: u32,
    /// How vectors compare.
    #[serde(default)]
    pub metric: DistanceMetric,
    /// The index built for sealed segments.
    #[serde(default)]
    pub index: IndexConfig,
    /// The engine holding the collection; `None` lets routing decide.
    #[serde(default)]
    pub engine: Option<String>,
    /// Engines sharing the collection, each holding the ids that hash to it
    /// (see `proxima::partition_of`); empty when one engine (`engine`) holds it all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// Metadata fields declared filterable, with types (checked on write and in filters).
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Records written without an expiry get `now + default_ttl_secs`.
    #[serde(default)]
    pub default_ttl_secs: Option<u64>,
    /// Durability of acknowledged writes.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

impl CollectionConfig {
    /// A config with defaults for everything but name and dimension.
    pub fn new(name: impl Into<String>, dimension: u32) -> Self {
        Self {
            name: name.into(),
            dimension,
            metric: DistanceMetric::default(),
            index: IndexConfig::default(),
            engine: None,
            partitions: Vec::new(),
            fields: Vec::new(),
            default_ttl_secs: None,
            fsync: FsyncPolicy::default(),
        }
    }

    /// Sets the metric.
    pub fn with_metric(mut self, metric: DistanceMetric) -> Self {
        self.metric = metric;
        self
    }

    /// Declares a filterable field.
    pub fn with_field(mut self, name: impl Into<String>, ty: FieldType) -> Self {
        self.fields.push(FieldSpec { name: name.into(), ty });
        self
    }

    /// Spreads the collection over `engines` by id hash (the first is its home engine).
    pub fn with_partitions<S: Into<String>>(mut self, engines: impl IntoIterator<Item = S>) -> Self {
        self.partitions = engines.into_iter().map(Into::into).collect();
        self.engine = self.partitions.first().cloned();
        self
    }

    /// Sets the fsync policy.
    pub fn with_fsync(mut self, fsync: FsyncPolicy) -> Self {
        self.fsync = fsync;
        self
    }

    /// The declared type of a field, if declared.
    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        self.fields.iter().find(|f| f.name == name).map(|f| f.ty)
    }

    /// Adds `field` to the declared fields: `Ok(true)` when added, `Ok(false)`
    /// when it is declared already with that type. A field declared with
    /// another type, or a name that is not a dotted path, is `InvalidArgument`.
    pub fn declare(&mut self, field: FieldSpec) -> Result<bool> {
        match self.field_type(&field.name) {
            Some(ty) if ty == field.ty => Ok(false),
            Some(ty) => Err(crate::Error::invalid(format!(
                "field `{}` is declared {ty:?} already; a declared type cannot change",
                field.name
            ))
            .with_context("field", &field.name)),
            None => {
                let mut declared = self.clone();
                declared.fields.push(field);
                declared.validate()?;
                *self = declared;
                Ok(true)
            }
        }
    }

    /// Checks the config itself; see [`validate::collection_config`].
    pub fn validate(&self) -> Result<()> {
        validate::collection_config(self)
    }
}
