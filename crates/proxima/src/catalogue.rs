//! The catalogue's descriptive side through `Proxima`: a collection's
//! description, tags, owner and access pattern (changed under an optimistic
//! version), listing by them with the backend's text search, and the engines.

use std::collections::BTreeMap;

use proxima_core::{CollectionConfig, Error, Result};
use proxima_engine::Capabilities;
use proxima_meta::{AccessPattern, CollectionMetadata, ListFilter};
use serde::{Deserialize, Serialize};

use crate::Proxima;

/// Most tags on one collection.
pub const MAX_TAGS: usize = 32;
/// Longest tag, bytes.
pub const MAX_TAG_LEN: usize = 64;
/// Longest description, bytes.
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// A collection as the catalogue lists it: its config and how it is described.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CollectionEntry {
    /// The collection's config.
    #[serde(flatten)]
    pub config: CollectionConfig,
    /// Free text.
    pub description: Option<String>,
    /// Labels, in the order given.
    pub tags: Vec<String>,
    /// Who owns it.
    pub owner: Option<String>,
    /// `hot`, `normal`, `cold` or `archive`.
    pub access_pattern: String,
    /// The optimistic version a change must name.
    pub version: u64,
    /// Live records when the catalogue last recorded them.
    pub vector_count: u64,
}

/// A change to a collection's description; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CollectionPatch {
    /// Free text (empty clears it).
    #[serde(default)]
    pub description: Option<String>,
    /// Replaces the tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The owner (empty clears it).
    #[serde(default)]
    pub owner: Option<String>,
    /// `hot`, `normal`, `cold` or `archive`.
    #[serde(default)]
    pub access_pattern: Option<String>,
    /// The version the change was made against; a stale one is a conflict.
    pub version: u64,
}

/// Which collections to list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionQuery {
    /// Collections carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Collections owned by this owner.
    #[serde(default)]
    pub owner: Option<String>,
    /// Names starting with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Words that must all appear (the backend's full-text search where it has one).
    #[serde(default)]
    pub q: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Where the previous page ended.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of collections.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CollectionPage {
    /// Ordered by name.
    pub collections: Vec<CollectionEntry>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An open engine: what it can do, what it holds, how busy it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EngineInfo {
    /// The name collections use.
    pub name: String,
    /// Whether new collections go here unless they name another.
    pub default: bool,
    /// What it is good at.
    pub capabilities: Capabilities,
    /// The collections it holds (a partitioned collection on each of its engines).
    pub collections: Vec<String>,
    /// Operations running on it now.
    pub in_flight: usize,
}

fn pattern(text: &str) -> Result<AccessPattern> {
    AccessPattern::parse(text)
        .map_err(|_| Error::invalid(format!("access_pattern `{text}` must be hot, normal, cold or archive")))
}

fn entry(meta: CollectionMetadata) -> Result<CollectionEntry> {
    Ok(CollectionEntry {
        config: crate::database::config_of(&meta)?,
        description: meta.description,
        tags: meta.tags,
        owner: meta.owner,
        access_pattern: meta.access_pattern.as_str().to_string(),
        version: meta.version,
        vector_count: meta.vector_count,
    })
}

impl CollectionPatch {
    fn validate(&self) -> Result<()> {
        if self.description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION_LEN) {
            return Err(Error::invalid(format!("description is longer than {MAX_DESCRIPTION_LEN} bytes")));
        }
        if let Some(tags) = &self.tags {
            if tags.len() > MAX_TAGS {
                return Err(Error::invalid(format!("at most {MAX_TAGS} tags")));
            }
            if let Some(bad) = tags.iter().find(|t| t.is_empty() || t.len() > MAX_TAG_LEN || t.contains(',')) {
                return Err(Error::invalid(format!("tag `{bad}` must be 1-{MAX_TAG_LEN} bytes without commas")));
            }
        }
        if self.owner.as_ref().is_some_and(|o| o.len() > 128) {
            return Err(Error::invalid("owner is longer than 128 bytes"));
        }
        self.access_pattern.as_deref().map_or(Ok(()), |p| pattern(p).map(|_| ()))
    }
}

impl Proxima {
    /// A collection's catalogue entry.
    pub async fn collection_entry(&self, name: &str) -> Result<CollectionEntry> {
        let meta = self.catalogue().get(name).await?;
        entry(meta.ok_or_else(|| Error::not_found(format!("no collection named `{name}`")))?)
    }

    /// Changes a collection's description, tags, owner or access pattern;
    /// `Conflict` when `patch.version` is not the stored version.
    pub async fn describe_collection(&self, name: &str, patch: CollectionPatch) -> Result<CollectionEntry> {
        patch.validate()?;
        let mut meta = self
            .catalogue()
            .get(name)
            .await?
            .ok_or_else(|| Error::not_found(format!("no collection named `{name}`")))?;
        if meta.version != patch.version {
            return Err(Error::conflict(format!(
                "`{name}` is at version {}, the change was made against {}",
                meta.version, patch.version
            )));
        }
        if let Some(description) = patch.description {
            meta.description = Some(description).filter(|d| !d.is_empty());
        }
        if let Some(tags) = patch.tags {
            meta.tags = tags;
        }
        if let Some(owner) = patch.owner {
            meta.owner = Some(owner).filter(|o| !o.is_empty());
        }
        if let Some(text) = patch.access_pattern {
            meta.access_pattern = pattern(&text)?;
        }
        entry(self.catalogue().update(meta).await?)
    }

    /// One page of the collections matching `query`.
    pub async fn find_collections(&self, query: CollectionQuery) -> Result<CollectionPage> {
        let filter = ListFilter {
            name_prefix: query.prefix,
            tags_all: query.tags,
            owner: query.owner,
            text: query.q,
            limit: query.limit,
            page_token: query.cursor,
            ..ListFilter::default()
        };
        let page = self.catalogue().list(&filter).await?;
        Ok(CollectionPage {
            collections: page.items.into_iter().map(entry).collect::<Result<_>>()?,
            next_cursor: page.next_page_token,
        })
    }

    /// Every open engine.
    pub async fn engine_report(&self) -> Result<Vec<EngineInfo>> {
        let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for config in self.list_collections().await? {
            let engines = if config.partitions.is_empty() {
                vec![config.engine.clone().unwrap_or_else(|| self.default_engine().to_string())]
            } else {
                config.partitions.clone()
            };
            for engine in engines {
                held.entry(engine).or_default().push(config.name.clone());
            }
        }
        Ok(self
            .engines()
            .into_iter()
            .map(|(name, engine)| EngineInfo {
                default: name == self.default_engine(),
                capabilities: engine.capabilities(),
                collections: held.remove(&name).unwrap_or_default(),
                in_flight: self.in_flight(engine.name()),
                name,
            })
            .collect())
    }
}
