//! What the catalogue stores about a collection, and how it is queried.

use proxima_core::{DistanceMetric, Error, Result, validate};
use serde::{Deserialize, Serialize};

/// How a collection is used; routing and tiering read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessPattern {
    /// Read and written constantly.
    Hot,
    /// Ordinary use.
    #[default]
    Normal,
    /// Rarely touched.
    Cold,
    /// Kept for the record.
    Archive,
}

impl AccessPattern {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessPattern::Hot => "hot",
            AccessPattern::Normal => "normal",
            AccessPattern::Cold => "cold",
            AccessPattern::Archive => "archive",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "hot" => AccessPattern::Hot,
            "normal" => AccessPattern::Normal,
            "cold" => AccessPattern::Cold,
            "archive" => AccessPattern::Archive,
            other => return Err(Error::corrupted(format!("unknown access pattern `{other}`"))),
        })
    }
}

/// One collection in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMetadata {
    /// Stable unique id (the name may be reused after a delete; the id never is).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Vector length.
    pub dimension: u32,
    /// Distance metric.
    pub distance_metric: DistanceMetric,
    /// Index algorithm, e.g. `"hnsw"`.
    pub indexing_algorithm: String,
    /// Creation time, unix milliseconds (set by the backend).
    pub created_at: i64,
    /// Last update time, unix milliseconds (set by the backend).
    pub updated_at: i64,
    /// Number of live vectors.
    pub vector_count: u64,
    /// Bytes held by the collection's data.
    pub total_size_bytes: u64,
    /// The full collection configuration as JSON.
    #[serde(with = "proxima_core::json_text")]
    pub config: serde_json::Value,
    /// How the collection is used.
    pub access_pattern: AccessPattern,
    /// Free text.
    pub description: Option<String>,
    /// Labels, kept in the order given.
    pub tags: Vec<String>,
    /// Who owns it.
    pub owner: Option<String>,
    /// Optimistic-concurrency version, 1 after create.
    pub version: u64,
    /// Unix seconds after which the entry is invisible.
    pub expires_at: Option<u64>,
}

impl CollectionMetadata {
    /// An entry with the given id, name and dimension and defaults elsewhere.
    pub fn new(id: impl Into<String>, name: impl Into<String>, dimension: u32) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            dimension,
            distance_metric: DistanceMetric::default(),
            indexing_algorithm: "hnsw".into(),
            created_at: 0,
            updated_at: 0,
            vector_count: 0,
            total_size_bytes: 0,
            config: serde_json::Value::Object(Default::default()),
            access_pattern: AccessPattern::default(),
            description: None,
            tags: Vec::new(),
            owner: None,
            version: 0,
            expires_at: None,
        }
    }

    /// Checks the fields a caller sets.
    pub fn validate(&self) -> Result<()> {
        validate::collection_name(&self.name)?;
        if self.id.is_empty() || self.id.len() > 128 {
            return Err(Error::invalid("collection id must be 1-128 bytes"));
        }
        if self.dimension == 0 || self.dimension > validate::MAX_DIMENSION {
            return Err(Error::invalid(format!("dimension must be in 1..={}", validate::MAX_DIMENSION)));
        }
        if self.tags.iter().any(|t| t.is_empty() || t.len() > 128) {
            return Err(Error::invalid("tags must be 1-128 bytes"));
        }
        if !self.config.is_object() {
            return Err(Error::invalid("config must be a JSON object"));
        }
        Ok(())
    }

    /// Whether the entry has expired at unix time `now_secs`.
    pub fn is_expired(&self, now_secs: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_secs)
    }

    /// The words the `text` filter matches against, lower-cased.
    pub fn search_words(&self) -> Vec<String> {
        let fields = [Some(self.name.as_str()), self.description.as_deref(), self.owner.as_deref()];
        let texts = fields.into_iter().flatten().chain(self.tags.iter().map(String::as_str));
        texts.flat_map(words).collect()
    }
}

/// Splits text into lower-case words of letters and digits.
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// The current time in unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Which entries `list` returns. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListFilter {
    /// Names starting with this.
    pub name_prefix: Option<String>,
    /// Entries with at least one of these tags.
    pub tags_any: Vec<String>,
    /// Entries with all of these tags.
    pub tags_all: Vec<String>,
    /// Entries owned by this owner.
    pub owner: Option<String>,
    /// Entries with this access pattern.
    pub access_pattern: Option<AccessPattern>,
    /// Every term must be a word of name, description, owner or tags (see the crate docs).
    pub text: Option<String>,
    /// Page size, 1..=1000; 100 when absent.
    pub limit: Option<usize>,
    /// Continue after the page that returned this token.
    pub page_token: Option<String>,
}

impl ListFilter {
    /// Largest page.
    pub const MAX_LIMIT: usize = 1000;

    /// The effective page size, refusing out-of-range limits.
    pub fn page_size(&self) -> Result<usize> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(Error::invalid(format!("limit must be in 1..={}, got {n}", Self::MAX_LIMIT))),
        }
    }

    /// The search terms, lower-cased.
    pub fn terms(&self) -> Vec<String> {
        self.text.as_deref().map(|t| words(t).collect()).unwrap_or_default()
    }

    /// Whether `m` passes every filter except paging (the reference semantics).
    pub fn matches(&self, m: &CollectionMetadata) -> bool {
        let prefix_ok = self.name_prefix.as_deref().is_none_or(|p| m.name.starts_with(p));
        let any_ok = self.tags_any.is_empty() || self.tags_any.iter().any(|t| m.tags.contains(t));
        let all_ok = self.tags_all.iter().all(|t| m.tags.contains(t));
        let owner_ok = self.owner.as_ref().is_none_or(|o| m.owner.as_ref() == Some(o));
        let pattern_ok = self.access_pattern.is_none_or(|p| m.access_pattern == p);
        let terms = self.terms();
        let text_ok = terms.is_empty() || {
            let words = m.search_words();
            terms.iter().all(|t| words.contains(t))
        };
        prefix_ok && any_ok && all_ok && owner_ok && pattern_ok && text_ok
    }
}

/// One page of `list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListPage {
    /// Entries ordered by name.
    pub items: Vec<CollectionMetadata>,
    /// Pass as `page_token` for the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// One operation of an atomic batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOp {
    /// Create an entry.
    Create(CollectionMetadata),
    /// Update an entry (carrying the version read).
    Update(CollectionMetadata),
    /// Delete by name, optionally checking the version.
    Delete {
        /// The entry's name.
        name: String,
        /// Fail with `Conflict` unless the stored version equals this.
        expected_version: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_filter_matches_whole_words_case_insensitively() {
        let mut m = CollectionMetadata::new("1", "product-images", 4);
        m.description = Some("Photos of Shoes".into());
        m.tags = vec!["catalog".into()];
        let f = |t: &str| ListFilter { text: Some(t.into()), ..Default::default() };
        assert!(f("shoes").matches(&m));
        assert!(f("PRODUCT catalog").matches(&m));
        assert!(!f("shoe").matches(&m));
        assert!(!f("shoes boots").matches(&m));
    }

    #[test]
    fn validation_refuses_bad_fields() {
        assert!(CollectionMetadata::new("1", "ok", 4).validate().is_ok());
        assert!(CollectionMetadata::new("", "ok", 4).validate().is_err());
        assert!(CollectionMetadata::new("1", "no spaces", 4).validate().is_err());
        assert!(CollectionMetadata::new("1", "ok", 0).validate().is_err());
        let mut m = CollectionMetadata::new("1", "ok", 4);
        m.config = serde_json::json!([1]);
        assert!(m.validate().is_err());
        assert!(ListFilter { limit: Some(0), ..Default::default() }.page_size().is_err());
    }
}
