//! The open collections of an engine by name, with the errors every engine
//! gives for a missing or taken name.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use proxima_core::{Error, Result};

/// An engine's collections; each engine keeps its own collection type `T`.
#[derive(Debug)]
pub struct CollectionMap<T> {
    map: RwLock<BTreeMap<String, Arc<T>>>,
}

impl<T> Default for CollectionMap<T> {
    fn default() -> Self {
        Self { map: RwLock::new(BTreeMap::new()) }
    }
}

impl<T> From<BTreeMap<String, Arc<T>>> for CollectionMap<T> {
    fn from(map: BTreeMap<String, Arc<T>>) -> Self {
        Self { map: RwLock::new(map) }
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("no collection named `{name}`"))
}

fn taken(name: &str) -> Error {
    Error::already_exists(format!("collection `{name}` already exists"))
}

impl<T> CollectionMap<T> {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<T>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<T>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The collection `name`; `NotFound` if absent.
    pub fn get(&self, name: &str) -> Result<Arc<T>> {
        self.read().get(name).cloned().ok_or_else(|| not_found(name))
    }

    /// `AlreadyExists` if `name` is taken (checked again by [`CollectionMap::insert_new`]).
    pub fn ensure_free(&self, name: &str) -> Result<()> {
        if self.read().contains_key(name) { Err(taken(name)) } else { Ok(()) }
    }

    /// Adds a new collection; `AlreadyExists` if `name` is taken.
    pub fn insert_new(&self, name: &str, collection: Arc<T>) -> Result<()> {
        let mut map = self.write();
        if map.contains_key(name) {
            return Err(taken(name));
        }
        map.insert(name.to_string(), collection);
        Ok(())
    }

    /// Adds or replaces a collection.
    pub fn insert(&self, name: &str, collection: Arc<T>) {
        self.write().insert(name.to_string(), collection);
    }

    /// Takes a collection out; `NotFound` if absent.
    pub fn remove(&self, name: &str) -> Result<Arc<T>> {
        self.write().remove(name).ok_or_else(|| not_found(name))
    }

    /// The names of the collections, in order.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Every collection, by name.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.read().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use proxima_core::ErrorKind;

    use super::*;

    #[test]
    fn names_are_unique_and_missing_ones_are_not_found() {
        let map = CollectionMap::default();
        map.insert_new("a", Arc::new(1)).unwrap();
        assert_eq!(map.ensure_free("a").unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(map.insert_new("a", Arc::new(2)).unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(*map.get("a").unwrap(), 1);
        assert_eq!(map.names(), ["a"]);
        map.insert("a", Arc::new(3));
        assert_eq!(*map.remove("a").unwrap(), 3);
        assert_eq!(map.get("a").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(map.remove("a").unwrap_err().kind(), ErrorKind::NotFound);
        assert!(map.all().is_empty());
    }
}
