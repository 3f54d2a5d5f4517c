//! What a search asks for and what it returns.

use serde::{Deserialize, Serialize};

use crate::{Filter, Metadata};

/// A k-nearest-neighbour query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SearchRequest {
    /// The query vector; its length must equal the collection's dimension.
    pub vector: Vec<f32>,
    /// How many results, 1..=10,000.
    pub k: usize,
    /// Only records matching this filter are returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// HNSW candidate list size; overrides `accuracy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef: Option<u32>,
    /// IVF lists probed; overrides `accuracy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nprobe: Option<u32>,
    /// Target recall in (0, 1]; the planner picks ef/nprobe from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
    /// Return each hit's vector.
    #[serde(default)]
    pub include_vector: bool,
    /// Return each hit's metadata.
    #[serde(default)]
    pub include_metadata: bool,
    /// A time budget: segments not reached within it are skipped and the
    /// answer says it is partial (and is not cached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl SearchRequest {
    /// A plain top-k query.
    pub fn new(vector: Vec<f32>, k: usize) -> Self {
        Self {
            vector,
            k,
            filter: None,
            ef: None,
            nprobe: None,
            accuracy: None,
            include_vector: false,
            include_metadata: false,
            timeout_ms: None,
        }
    }

    /// Adds a filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }
}

/// One result of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SearchHit {
    /// The record's id.
    pub id: String,
    /// Higher is closer (see [`crate::DistanceMetric`]).
    pub score: f32,
    /// The sequence number of the version returned.
    pub seq: u64,
    /// The vector, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// The metadata, when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}
