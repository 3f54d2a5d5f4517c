//! The catalogue as a pure state machine: the semantics every backend keeps,
//! executed in memory. The memory backend is a `Catalog` behind a mutex; the
//! WAL backend logs the [`Change`]s that [`Catalog::plan`] returns and replays them.

use std::collections::{BTreeMap, HashMap};

use proxima_core::{Error, Result, now_unix_secs};
use serde::{Deserialize, Serialize};

use crate::{BatchOp, CollectionMetadata, ListFilter, ListPage, missing};

/// A resolved change, ready to apply (and to log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Store this entry under its name (replacing any entry with that name).
    Put(Box<CollectionMetadata>),
    /// Remove the entry with this name.
    Remove(String),
}

/// Entries by name, with an id index.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    by_name: BTreeMap<String, CollectionMetadata>,
    ids: HashMap<String, String>,
}

impl Catalog {
    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalogue holding `entries`.
    pub fn from_entries(entries: impl IntoIterator<Item = CollectionMetadata>) -> Self {
        let mut c = Self::new();
        for e in entries {
            c.apply(Change::Put(Box::new(e)));
        }
        c
    }

    /// Every stored entry, expired ones included, by name.
    pub fn entries(&self) -> impl Iterator<Item = &CollectionMetadata> {
        self.by_name.values()
    }

    /// The visible entry named `name`.
    pub fn get(&self, name: &str) -> Option<&CollectionMetadata> {
        self.by_name.get(name).filter(|m| !m.is_expired(now_unix_secs()))
    }

    /// Number of visible entries.
    pub fn visible_count(&self) -> usize {
        let now = now_unix_secs();
        self.by_name.values().filter(|m| !m.is_expired(now)).count()
    }

    /// Checks `ops` against the current state (each seeing the earlier ones) and
    /// returns the changes they make, or the first error; changes nothing.
    pub fn plan(&self, ops: &[BatchOp]) -> Result<Vec<Change>> {
        let now_secs = now_unix_secs();
        // Overlay of names touched by earlier operations: Some(entry) or None (removed).
        let mut names: HashMap<String, Option<CollectionMetadata>> = HashMap::new();
        let mut ids_added: HashMap<String, String> = HashMap::new();
        let mut ids_removed: Vec<String> = Vec::new();
        let mut changes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let at = |e: Error| if ops.len() > 1 { e.with_context("operation", i) } else { e };
            let visible = |name: &str, names: &HashMap<String, Option<CollectionMetadata>>| match names.get(name) {
                Some(entry) => entry.clone(),
                None => self.by_name.get(name).filter(|m| !m.is_expired(now_secs)).cloned(),
            };
            match op {
                BatchOp::Create(m) => {
                    m.validate().map_err(at)?;
                    if visible(&m.name, &names).is_some() {
                        return Err(at(Error::already_exists(format!("collection `{}` already exists", m.name))));
                    }
                    let id_owner =
                        ids_added.get(&m.id).or_else(|| self.ids.get(&m.id).filter(|_| !ids_removed.contains(&m.id)));
                    // An expired entry's id is free once its name is reused; any other holder conflicts.
                    if let Some(owner) = id_owner
                        && visible(owner, &names).is_some_and(|e| e.id == m.id)
                    {
                        return Err(at(Error::already_exists(format!("collection id `{}` already exists", m.id))));
                    }
                    let stored = m.as_created();
                    ids_added.insert(stored.id.clone(), stored.name.clone());
                    names.insert(stored.name.clone(), Some(stored.clone()));
                    changes.push(Change::Put(Box::new(stored)));
                }
                BatchOp::Update(m) => {
                    m.validate().map_err(at)?;
                    let Some(current) = visible(&m.name, &names) else {
                        return Err(at(missing(&m.name)));
                    };
                    let stored = m.as_update_of(&current).map_err(at)?;
                    names.insert(stored.name.clone(), Some(stored.clone()));
                    changes.push(Change::Put(Box::new(stored)));
                }
                BatchOp::Delete { name, expected_version } => {
                    let Some(current) = visible(name, &names) else {
                        return Err(at(missing(name)));
                    };
                    current.check_delete(*expected_version).map_err(at)?;
                    ids_removed.push(current.id.clone());
                    ids_added.remove(&current.id);
                    names.insert(name.clone(), None);
                    changes.push(Change::Remove(name.clone()));
                }
            }
        }
        Ok(changes)
    }

    /// Applies one planned change.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Put(m) => {
                if let Some(old) = self.by_name.get(&m.name) {
                    self.ids.remove(&old.id);
                }
                self.ids.insert(m.id.clone(), m.name.clone());
                self.by_name.insert(m.name.clone(), *m);
            }
            Change::Remove(name) => {
                if let Some(old) = self.by_name.remove(&name) {
                    self.ids.remove(&old.id);
                }
            }
        }
    }

    /// The changes that store `entries` verbatim (see `MetadataBackend::import`),
    /// first removing any other entry holding one of their ids.
    pub fn plan_import(&self, entries: Vec<CollectionMetadata>) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in &entries {
            m.validate()?;
            if !seen.insert(m.name.as_str()) {
                return Err(Error::invalid(format!("import names `{}` twice", m.name)));
            }
        }
        for m in entries {
            if let Some(holder) = self.ids.get(&m.id).filter(|holder| **holder != m.name) {
                changes.push(Change::Remove(holder.clone()));
            }
            changes.push(Change::Put(Box::new(m)));
        }
        Ok(changes)
    }

    /// The changes that replace the whole catalogue with `entries`.
    pub fn plan_replace(&self, entries: Vec<CollectionMetadata>) -> Result<Vec<Change>> {
        let mut changes: Vec<Change> = self.by_name.keys().map(|n| Change::Remove(n.clone())).collect();
        changes.extend(Catalog::new().plan_import(entries)?);
        Ok(changes)
    }

    /// Plans and applies `ops`; returns the stored entry of each create/update.
    pub fn execute(&mut self, ops: &[BatchOp]) -> Result<Vec<Option<CollectionMetadata>>> {
        let changes = self.plan(ops)?;
        Ok(self.apply_all(changes))
    }

    /// Applies planned changes; returns the stored entry of each put.
    pub fn apply_all(&mut self, changes: Vec<Change>) -> Vec<Option<CollectionMetadata>> {
        changes
            .into_iter()
            .map(|c| {
                let out = match &c {
                    Change::Put(m) => Some(m.as_ref().clone()),
                    Change::Remove(_) => None,
                };
                self.apply(c);
                out
            })
            .collect()
    }

    /// One page of visible entries matching `filter`.
    pub fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        list_sorted(self.by_name.values(), filter)
    }
}

/// Pages entries already ordered by name, applying `filter` (for backends that scan).
pub fn list_sorted<'a>(entries: impl Iterator<Item = &'a CollectionMetadata>, filter: &ListFilter) -> Result<ListPage> {
    let limit = filter.page_size()?;
    let now = now_unix_secs();
    let after = filter.page_token.as_deref();
    let items: Vec<CollectionMetadata> = entries
        .filter(|m| after.is_none_or(|a| m.name.as_str() > a))
        .filter(|m| !m.is_expired(now) && filter.matches(m))
        .take(limit + 1)
        .cloned()
        .collect();
    Ok(ListPage::from_overfetch(items, limit))
}
