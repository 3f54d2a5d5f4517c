//! The index from id to the row holding its newest version.
//!
//! It stores no ids: each entry is the id's hash and its row, and the id itself
//! is read from the row when two hashes agree. So an insert allocates nothing
//! (the row owns the id string), and growing the table rehashes stored hashes
//! instead of chasing a pointer to every key: with millions of ids, those
//! pointer chases were most of the cost of ingest.
//!
//! The table is split into shards by hash, so a growing index rehashes one
//! small, cache-sized shard at a time (and the allocator reuses one shard's old
//! table for the next) instead of the whole index at once: at two million ids,
//! one table's doubling stalled a write for over half a second on our test VM.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;

use super::chunk::{Chunk, Sealed};

/// Where the newest version of an id lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    /// The segment id of the chunk (the write buffer's own id while it is one).
    pub(super) slot: u64,
    pub(super) row: usize,
    pub(super) soft_deleted: bool,
}

/// The chunks an index's rows are in, to read an id back from its row.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a> {
    pub(super) active: &'a Chunk,
    pub(super) sealed: &'a BTreeMap<u64, Sealed>,
}

impl<'a> Rows<'a> {
    pub(super) fn chunk(self, slot: u64) -> &'a Chunk {
        if slot == self.active.segment_id { self.active } else { &self.sealed[&slot].data }
    }

    fn id(self, loc: Loc) -> &'a str {
        &self.chunk(loc.slot).ids[loc.row]
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    loc: Loc,
}

/// Shards of the index; a power of two.
const SHARDS: usize = 64;

/// Id → newest row, for ids whose rows are in [`Rows`].
#[derive(Debug)]
pub(super) struct IdIndex {
    shards: Vec<HashTable<Entry>>,
    /// Keyed randomly per process, so ids cannot be chosen to collide.
    hasher: ahash::RandomState,
}

impl Default for IdIndex {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| HashTable::new()).collect(), hasher: Default::default() }
    }
}

impl IdIndex {
    /// The id's hash and its shard. The shard comes from bits 32–37: the table
    /// uses the low bits for buckets and the top seven as tags, so all of those
    /// still vary within a shard.
    fn locate(&self, id: &str) -> (u64, usize) {
        let hash = self.hasher.hash_one(id);
        (hash, (hash >> 32) as usize & (SHARDS - 1))
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(HashTable::len).sum()
    }

    pub(super) fn get(&self, id: &str, rows: Rows<'_>) -> Option<Loc> {
        let (hash, shard) = self.locate(id);
        self.shards[shard].find(hash, |e| e.hash == hash && rows.id(e.loc) == id).map(|e| e.loc)
    }

    pub(super) fn get_mut(&mut self, id: &str, rows: Rows<'_>) -> Option<&mut Loc> {
        let (hash, shard) = self.locate(id);
        self.shards[shard].find_mut(hash, |e| e.hash == hash && rows.id(e.loc) == id).map(|e| &mut e.loc)
    }

    /// Points `id` at `loc`; returns where it pointed before.
    pub(super) fn insert(&mut self, id: &str, loc: Loc, rows: Rows<'_>) -> Option<Loc> {
        let (hash, shard) = self.locate(id);
        match self.shards[shard].entry(hash, |e| e.hash == hash && rows.id(e.loc) == id, |e| e.hash) {
            Slot::Occupied(mut e) => Some(std::mem::replace(&mut e.get_mut().loc, loc)),
            Slot::Vacant(e) => {
                e.insert(Entry { hash, loc });
                None
            }
        }
    }

    pub(super) fn remove(&mut self, id: &str, rows: Rows<'_>) -> Option<Loc> {
        let (hash, shard) = self.locate(id);
        let found = self.shards[shard].find_entry(hash, |e| e.hash == hash && rows.id(e.loc) == id).ok()?;
        Some(found.remove().0.loc)
    }

    /// Every id's row, in no particular order.
    pub(super) fn locs(&self) -> impl Iterator<Item = Loc> + '_ {
        self.shards.iter().flat_map(|shard| shard.iter().map(|e| e.loc))
    }
}
