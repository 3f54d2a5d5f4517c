//! The index from id to the row holding its newest version.
//!
//! It stores no ids: each 16-byte entry holds half of the id's hash as a tag
//! and the row, and the id itself is read from the row when two tags agree. So
//! an insert allocates nothing (the row owns the id string), and growing a
//! table moves stored tags instead of chasing a pointer to every key.
//!
//! With millions of ids every insert misses the cache, and those misses were
//! most of the cost of ingest. A batch hashes its ids up front and prefetches
//! each id's entry a few operations before its insert ([`IdIndex::prefetch`]),
//! so the misses overlap: in a profile of ingest without flushes, the index's
//! share of the CPU fell from ~19% to ~4%. That is why the table is our own (linear probing over plain
//! entries, whose place a hash gives) rather than a library's.
//!
//! The index is split into shards by hash, so a growing index doubles one
//! small shard at a time instead of the whole index at once: at two million
//! ids, one table's doubling stalled a write for over half a second.

use std::collections::BTreeMap;

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

/// Shards of the index; a power of two.
const SHARDS: usize = 64;

/// Id → newest row, for ids whose rows are in [`Rows`].
#[derive(Debug)]
pub(super) struct IdIndex {
    shards: Vec<Shard>,
    /// Keyed randomly per process, so ids cannot be chosen to collide.
    hasher: ahash::RandomState,
    /// Tests only: every id gets the same tag, so every lookup reads back the
    /// id of each entry it passes, as a rare tag collision makes one do.
    #[cfg(test)]
    same_tags: bool,
}

impl Default for IdIndex {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: Default::default(),
            #[cfg(test)]
            same_tags: false,
        }
    }
}

/// The shard of a hash: its low bits. The entry's tag is its high half.
fn split(hash: u64) -> (usize, u32) {
    // Tag 0 marks an empty entry; folding 0 into 1 costs a sliver of spread.
    (hash as usize & (SHARDS - 1), ((hash >> 32) as u32).max(1))
}

impl IdIndex {
    /// The hash the `*_hashed` methods take.
    pub(super) fn hash(&self, id: &str) -> u64 {
        let hash = self.hasher.hash_one(id);
        #[cfg(test)]
        if self.same_tags {
            return hash & u64::from(u32::MAX) | 1 << 32;
        }
        hash
    }

    /// An index whose ids all share one tag (see `same_tags`).
    #[cfg(test)]
    pub(super) fn with_same_tags() -> Self {
        Self { same_tags: true, ..Self::default() }
    }

    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }

    /// Starts loading the entry an insert of `hash` will look at first, so that
    /// the inserts of a batch wait for memory together rather than one by one.
    pub(super) fn prefetch(&self, hash: u64) {
        let (shard, tag) = split(hash);
        self.shards[shard].prefetch(tag);
    }

    pub(super) fn get(&self, id: &str, rows: Rows<'_>) -> Option<Loc> {
        self.get_hashed(self.hash(id), id, rows)
    }

    /// [`IdIndex::get`] with the id's [`IdIndex::hash`] already known.
    pub(super) fn get_hashed(&self, hash: u64, id: &str, rows: Rows<'_>) -> Option<Loc> {
        let (shard, tag) = split(hash);
        let shard = &self.shards[shard];
        shard.find(tag, |loc| rows.id(loc) == id).map(|i| shard.entries[i].loc())
    }

    /// Marks `id`'s newest row soft-deleted or not; returns it, marked.
    pub(super) fn set_soft_deleted(&mut self, id: &str, soft_deleted: bool, rows: Rows<'_>) -> Option<Loc> {
        let (shard, tag) = split(self.hash(id));
        let shard = &mut self.shards[shard];
        let i = shard.find(tag, |loc| rows.id(loc) == id)?;
        let loc = Loc { soft_deleted, ..shard.entries[i].loc() };
        shard.entries[i] = Entry::new(tag, loc);
        Some(loc)
    }

    /// Points `id` at `loc`; returns where it pointed before.
    pub(super) fn insert(&mut self, id: &str, loc: Loc, rows: Rows<'_>) -> Option<Loc> {
        self.insert_hashed(self.hash(id), id, loc, rows)
    }

    /// [`IdIndex::insert`] with the id's [`IdIndex::hash`] already known.
    pub(super) fn insert_hashed(&mut self, hash: u64, id: &str, loc: Loc, rows: Rows<'_>) -> Option<Loc> {
        let (shard, tag) = split(hash);
        self.shards[shard].insert(tag, loc, |old| rows.id(old) == id)
    }

    pub(super) fn remove(&mut self, id: &str, rows: Rows<'_>) -> Option<Loc> {
        let (shard, tag) = split(self.hash(id));
        let shard = &mut self.shards[shard];
        let i = shard.find(tag, |loc| rows.id(loc) == id)?;
        Some(shard.remove_at(i))
    }

    /// Every id's row, in no particular order.
    pub(super) fn locs(&self) -> impl Iterator<Item = Loc> + '_ {
        self.shards.iter().flat_map(|s| s.entries.iter().filter(|e| !e.is_empty()).map(|e| e.loc()))
    }
}

/// One entry in 16 bytes, four to a cache line: the tag (the high half of the
/// id's hash, 0 when empty), the row, and the slot with the soft-deleted mark in
/// its top bit.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    tag: u32,
    row: u32,
    slot: u64,
}

const SOFT_DELETED: u64 = 1 << 63;

impl Entry {
    fn new(tag: u32, loc: Loc) -> Self {
        // A chunk is one write buffer or one file: billions of rows would not fit in memory.
        let row = u32::try_from(loc.row).expect("a chunk holds fewer than 2^32 rows");
        debug_assert!(loc.slot < SOFT_DELETED, "segment ids are counters");
        Self { tag, row, slot: loc.slot | if loc.soft_deleted { SOFT_DELETED } else { 0 } }
    }

    fn is_empty(&self) -> bool {
        self.tag == 0
    }

    fn loc(&self) -> Loc {
        Loc { slot: self.slot & !SOFT_DELETED, row: self.row as usize, soft_deleted: self.slot & SOFT_DELETED != 0 }
    }
}

/// Open addressing with linear probing: an entry sits at the first free place
/// from its home (`tag & mask`), so a lookup reads one or two cache lines, and
/// a removal shifts the rest of its run back (no tombstones to clean up).
#[derive(Debug, Default)]
struct Shard {
    /// A power of two in length, or empty; at most three quarters full.
    entries: Box<[Entry]>,
    len: usize,
}

impl Shard {
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    fn prefetch(&self, tag: u32) {
        if let Some(entry) = self.entries.get(tag as usize & self.mask()) {
            prefetch(entry);
        }
    }

    /// Where the entry with `tag` for which `is_key` holds is, or else the free
    /// place it would take. The table must not be empty.
    fn probe(&self, tag: u32, mut is_key: impl FnMut(Loc) -> bool) -> Result<usize, usize> {
        let mask = self.mask();
        let mut i = tag as usize & mask;
        loop {
            let entry = &self.entries[i];
            if entry.is_empty() {
                return Err(i);
            }
            if entry.tag == tag && is_key(entry.loc()) {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
    }

    fn find(&self, tag: u32, is_key: impl FnMut(Loc) -> bool) -> Option<usize> {
        if self.entries.is_empty() { None } else { self.probe(tag, is_key).ok() }
    }

    fn insert(&mut self, tag: u32, loc: Loc, is_key: impl FnMut(Loc) -> bool) -> Option<Loc> {
        if (self.len + 1) * 4 > self.entries.len() * 3 {
            self.grow();
        }
        match self.probe(tag, is_key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i], Entry::new(tag, loc)).loc()),
            Err(i) => {
                self.entries[i] = Entry::new(tag, loc);
                self.len += 1;
                None
            }
        }
    }

    fn remove_at(&mut self, mut hole: usize) -> Loc {
        let removed = self.entries[hole].loc();
        let mask = self.mask();
        let mut next = (hole + 1) & mask;
        // Each later entry of the run moves into the hole if that is no further
        // from its home than where it is, so every probe still finds it.
        while !self.entries[next].is_empty() {
            let home = self.entries[next].tag as usize & mask;
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.entries[hole] = self.entries[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.entries[hole] = Entry::default();
        self.len -= 1;
        removed
    }

    /// Doubles the table, placing entries by their stored tags (no id is read).
    fn grow(&mut self) {
        let capacity = (self.entries.len() * 2).max(16);
        let old = std::mem::replace(&mut self.entries, vec![Entry::default(); capacity].into_boxed_slice());
        let mask = capacity - 1;
        for entry in old.iter().filter(|e| !e.is_empty()) {
            let mut i = entry.tag as usize & mask;
            while !self.entries[i].is_empty() {
                i = (i + 1) & mask;
            }
            self.entries[i] = *entry;
        }
    }
}

/// A hint to load `value`'s cache line; it never faults and changes nothing.
fn prefetch<T>(value: &T) {
    // SAFETY: SSE is part of the x86_64 baseline, and a prefetch reads nothing
    // the program sees (the pointer is a live reference besides).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn loc(row: usize) -> Loc {
        Loc { slot: 1, row, soft_deleted: false }
    }

    /// Keys are rows here: entry `row` is key `row`. Tags come from a few
    /// values, so runs are long, collide and wrap around the table's end.
    #[test]
    fn shard_agrees_with_a_map_through_collisions_growth_and_removals() {
        let mut shard = Shard::default();
        let mut model: HashMap<usize, u32> = HashMap::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for step in 0..20_000 {
            let key = (next() % 500) as usize;
            // Few tags, and ones near the top of the table, to make wrapped runs.
            let tag = u32::MAX - (key % 7) as u32;
            if next() % 3 == 0 {
                let found = shard.find(tag, |l| l.row == key);
                assert_eq!(found.is_some(), model.contains_key(&key), "step {step}: presence of {key}");
                if let Some(i) = found {
                    assert_eq!(shard.remove_at(i), loc(key));
                    model.remove(&key);
                }
            } else {
                let old = shard.insert(tag, loc(key), |l| l.row == key);
                assert_eq!(old.is_some(), model.insert(key, tag).is_some(), "step {step}: insert of {key}");
            }
            assert_eq!(shard.len, model.len());
        }
        for (key, tag) in &model {
            let i = shard.find(*tag, |l| l.row == *key).expect("every key in the model is found");
            assert_eq!(shard.entries[i].loc(), loc(*key));
        }
        assert!(shard.len * 4 <= shard.entries.len() * 3, "at most three quarters full");
    }

    #[test]
    fn an_entry_keeps_its_loc_and_soft_deleted_mark() {
        for soft_deleted in [false, true] {
            let loc = Loc { slot: (1 << 40) + 3, row: u32::MAX as usize, soft_deleted };
            assert_eq!(Entry::new(7, loc).loc(), loc);
        }
    }

    #[test]
    fn the_index_finds_ids_by_reading_them_back_from_rows() {
        let mut active = Chunk::new(5, 2);
        let sealed = BTreeMap::new();
        let mut index = IdIndex::default();
        for i in 0..1_000usize {
            let id = format!("id-{i}");
            let rows = Rows { active: &active, sealed: &sealed };
            assert_eq!(index.insert(&id, Loc { slot: 5, row: i, soft_deleted: false }, rows), None);
            active.push(id, i as u64, &[0.0, 0.0], Default::default(), None);
        }
        let rows = Rows { active: &active, sealed: &sealed };
        assert_eq!(index.len(), 1_000);
        assert_eq!(index.get("id-417", rows), Some(Loc { slot: 5, row: 417, soft_deleted: false }));
        assert_eq!(index.get("id-1000", rows), None);
        assert_eq!(index.set_soft_deleted("id-3", true, rows).map(|l| l.soft_deleted), Some(true));
        assert!(index.get("id-3", rows).is_some_and(|l| l.soft_deleted));
        assert_eq!(index.remove("id-417", rows).map(|l| l.row), Some(417));
        assert_eq!(index.get("id-417", rows), None);
        assert_eq!(index.locs().count(), 999);
    }
}
