//! Key → tags and tag → keys, so invalidating a tag costs O(keys with it).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A thread-safe index between keys and their tags.
#[derive(Debug, Default)]
pub struct TagIndex {
    inner: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    /// Each key's tags, with the generation of the insert that set them.
    tags_of: HashMap<String, (u64, Vec<String>)>,
    keys_of: HashMap<String, HashSet<String>>,
    next_generation: u64,
}

impl Maps {
    fn forget(&mut self, key: &str) {
        let (_, tags) = self.tags_of.remove(key).unwrap_or_default();
        for tag in tags {
            if let Some(keys) = self.keys_of.get_mut(&tag) {
                keys.remove(key);
                if keys.is_empty() {
                    self.keys_of.remove(&tag);
                }
            }
        }
    }
}

impl TagIndex {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A panic elsewhere leaves the maps consistent: each method completes its change.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `key` with `tags`, replacing the tags it had; returns the
    /// insert's generation, for [`TagIndex::remove_generation`].
    pub fn insert(&self, key: &str, tags: &[String]) -> u64 {
        let mut maps = self.maps();
        maps.forget(key);
        maps.next_generation += 1;
        let generation = maps.next_generation;
        for tag in tags {
            maps.keys_of.entry(tag.clone()).or_default().insert(key.to_string());
        }
        maps.tags_of.insert(key.to_string(), (generation, tags.to_vec()));
        generation
    }

    /// Forgets `key`.
    pub fn remove_key(&self, key: &str) {
        self.maps().forget(key);
    }

    /// Forgets `key` if its tags are still those of insert `generation`: an
    /// eviction of an old value must not take the tags of a newer one.
    pub fn remove_generation(&self, key: &str, generation: u64) {
        let mut maps = self.maps();
        if maps.tags_of.get(key).is_some_and(|(g, _)| *g == generation) {
            maps.forget(key);
        }
    }

    /// Forgets every key carrying `tag` and returns them.
    pub fn take_tag(&self, tag: &str) -> Vec<String> {
        let mut maps = self.maps();
        let keys: Vec<String> = maps.keys_of.get(tag).map(|k| k.iter().cloned().collect()).unwrap_or_default();
        for key in &keys {
            maps.forget(key);
        }
        keys
    }

    /// The keys carrying `tag`.
    pub fn keys(&self, tag: &str) -> Vec<String> {
        self.maps().keys_of.get(tag).map(|k| k.iter().cloned().collect()).unwrap_or_default()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        *self.maps() = Maps::default();
    }

    /// Keys indexed.
    pub fn len(&self) -> usize {
        self.maps().tags_of.len()
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_tag_takes_exactly_its_keys() {
        let index = TagIndex::default();
        index.insert("a", &tags(&["docs", "v1"]));
        index.insert("b", &tags(&["docs"]));
        index.insert("c", &tags(&["books"]));
        let mut taken = index.take_tag("docs");
        taken.sort();
        assert_eq!(taken, vec!["a", "b"]);
        assert!(index.keys("v1").is_empty(), "a taken key leaves its other tags too");
        assert_eq!(index.keys("books"), vec!["c"]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn reinserting_a_key_replaces_its_tags() {
        let index = TagIndex::default();
        index.insert("a", &tags(&["old"]));
        index.insert("a", &tags(&["new"]));
        assert!(index.take_tag("old").is_empty());
        assert_eq!(index.take_tag("new"), vec!["a"]);
        assert!(index.is_empty());
    }

    #[test]
    fn an_old_generation_does_not_remove_a_newer_insert() {
        let index = TagIndex::default();
        let old = index.insert("a", &tags(&["docs"]));
        let new = index.insert("a", &tags(&["docs"]));
        index.remove_generation("a", old);
        assert_eq!(index.keys("docs"), vec!["a"]);
        index.remove_generation("a", new);
        assert!(index.is_empty());
    }

    #[test]
    fn concurrent_inserts_and_takes_leave_no_strays() {
        let index = std::sync::Arc::new(TagIndex::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let index = index.clone();
                std::thread::spawn(move || {
                    for i in 0..1_000 {
                        index.insert(&format!("{t}-{i}"), &tags(&["all", &format!("t{t}")]));
                        if i % 10 == 0 {
                            index.take_tag(&format!("t{t}"));
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        // Each thread's last take (at i = 990) leaves its keys 991..=999.
        let all = index.take_tag("all");
        assert_eq!(all.len(), 4 * 9, "{all:?}");
        assert!(index.is_empty(), "taking `all` leaves nothing: {} keys", index.len());
    }
}
