//! The ids a collection hides (deleted or soft-deleted), each with the
//! sequence of the operation that hid it, and the sorted tombstone list read
//! views share, rebuilt only after a change.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Tombstone;

/// Hidden ids, each with a value `V` (the hiding sequence, plus whatever else an engine keeps).
#[derive(Debug, Clone)]
pub struct HiddenIds<V> {
    ids: HashMap<String, V, ahash::RandomState>,
    list: Option<Arc<[Tombstone]>>,
}

impl<V> Default for HiddenIds<V> {
    fn default() -> Self {
        Self { ids: HashMap::default(), list: None }
    }
}

impl<V: Copy> HiddenIds<V> {
    /// Hides `id`.
    pub fn hide(&mut self, id: String, value: V) {
        self.ids.insert(id, value);
        self.list = None;
    }

    /// Shows `id` again; returns what it was hidden with.
    pub fn unhide(&mut self, id: &str) -> Option<V> {
        // Hashing is the cost here; most collections hide nothing.
        if self.ids.is_empty() {
            return None;
        }
        let removed = self.ids.remove(id);
        if removed.is_some() {
            self.list = None;
        }
        removed
    }

    /// What `id` is hidden with, if it is.
    pub fn get(&self, id: &str) -> Option<V> {
        self.ids.get(id).copied()
    }

    /// Number of hidden ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is hidden.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every hidden id, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, V)> {
        self.ids.iter().map(|(id, v)| (id.as_str(), *v))
    }

    /// Keeps the ids `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, V) -> bool) {
        let before = self.ids.len();
        self.ids.retain(|id, v| keep(id, *v));
        if self.ids.len() != before {
            self.list = None;
        }
    }

    /// The tombstones, sorted by id, with the sequence `seq` reads from each value;
    /// shared by every view until the next change.
    pub fn tombstones(&mut self, seq: impl Fn(V) -> u64) -> Arc<[Tombstone]> {
        let ids = &self.ids;
        Arc::clone(self.list.get_or_insert_with(|| {
            let mut list: Vec<Tombstone> =
                ids.iter().map(|(id, v)| Tombstone { id: id.clone(), seq: seq(*v) }).collect();
            list.sort_by(|a, b| a.id.cmp(&b.id));
            list.into()
        }))
    }
}

impl<V: Copy> FromIterator<(String, V)> for HiddenIds<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        Self { ids: iter.into_iter().collect(), list: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_follows_every_change() {
        let mut hidden = HiddenIds::default();
        hidden.hide("b".to_string(), 2u64);
        hidden.hide("a".to_string(), 1);
        let list = hidden.tombstones(|s| s);
        assert_eq!(list.iter().map(|t| (t.id.as_str(), t.seq)).collect::<Vec<_>>(), [("a", 1), ("b", 2)]);
        assert!(Arc::ptr_eq(&list, &hidden.tombstones(|s| s)), "unchanged: the same list");
        assert_eq!(hidden.unhide("a"), Some(1));
        assert_eq!(hidden.tombstones(|s| s).len(), 1);
        hidden.retain(|_, seq| seq != 2);
        assert!(hidden.tombstones(|s| s).is_empty());
        assert_eq!(hidden.unhide("zz"), None);
    }
}
