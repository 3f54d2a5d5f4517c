//! The write rules every backend applies: what a create stores, when an update
//! or delete may proceed, and how an over-fetched page is trimmed. Backends
//! read the current entry their own way and call these, so the rules (and their
//! error messages) exist once.

use proxima_core::{Error, Result};

use crate::{CollectionMetadata, ListPage, now_millis};

impl CollectionMetadata {
    /// The entry a create stores: version 1, both timestamps now.
    pub fn as_created(&self) -> CollectionMetadata {
        let now = now_millis();
        CollectionMetadata { version: 1, created_at: now, updated_at: now, ..self.clone() }
    }

    /// The entry an update of `current` stores, if `self` carries the current
    /// version and keeps the id: the next version, `created_at` kept,
    /// `updated_at` now (never earlier than before).
    pub fn as_update_of(&self, current: &CollectionMetadata) -> Result<CollectionMetadata> {
        if current.version != self.version {
            return Err(Error::conflict(format!(
                "collection `{}` is at version {}, the update carries {}",
                self.name, current.version, self.version
            )));
        }
        if current.id != self.id {
            return Err(Error::invalid(format!(
                "collection `{}` has id `{}`; ids cannot change",
                self.name, current.id
            )));
        }
        Ok(CollectionMetadata {
            version: current.version + 1,
            created_at: current.created_at,
            updated_at: now_millis().max(current.updated_at),
            ..self.clone()
        })
    }

    /// Whether a delete expecting `expected` may remove this entry.
    pub fn check_delete(&self, expected: Option<u64>) -> Result<()> {
        match expected {
            Some(v) if v != self.version => Err(Error::conflict(format!(
                "collection `{}` is at version {}, the delete expects {v}",
                self.name, self.version
            ))),
            _ => Ok(()),
        }
    }
}

impl ListPage {
    /// A page from up to `limit + 1` matching entries in name order: the extra
    /// one only tells that another page follows.
    pub fn from_overfetch(mut items: Vec<CollectionMetadata>, limit: usize) -> ListPage {
        let next_page_token = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|m| m.name.clone())
        } else {
            None
        };
        ListPage { items, next_page_token }
    }
}

/// The error for a name that holds no visible entry.
pub fn missing(name: &str) -> Error {
    Error::not_found(format!("no collection named `{name}`"))
}
