//! Records as users write them.

use serde::{Deserialize, Serialize};

/// A record's metadata: a JSON object.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A vector with the user's string id, its metadata and an optional expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VectorRecord {
    /// The user's id; unique within a collection.
    pub id: String,
    /// The vector; its length must equal the collection's dimension.
    #[serde(with = "crate::vector_bytes")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<f32>"))]
    pub vector: Vec<f32>,
    /// Arbitrary JSON metadata, used by filters.
    #[serde(default, with = "crate::json_text")]
    #[cfg_attr(feature = "schema", schemars(with = "Metadata"))]
    pub metadata: Metadata,
    /// Unix time (seconds) after which the record is invisible.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl VectorRecord {
    /// A record without metadata or expiry.
    pub fn new(id: impl Into<String>, vector: Vec<f32>) -> Self {
        Self { id: id.into(), vector, metadata: Metadata::new(), expires_at: None }
    }

    /// Sets the metadata from a JSON object; other JSON values leave it empty.
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        if let serde_json::Value::Object(map) = metadata {
            self.metadata = map;
        }
        self
    }

    /// Whether the record has expired at unix time `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// The current unix time in seconds.
pub fn now_unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
