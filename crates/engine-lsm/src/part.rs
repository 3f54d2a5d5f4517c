//! Parts of a collection: the memtable being written, memtables frozen by read
//! views, and sorted runs (on disk, decoded in memory). Each row is a version:
//! a put, a soft-deleted put, or a tombstone. Within the collection, newer
//! parts (and later rows of one memtable) shadow older ones.

use std::collections::HashMap as StdHashMap;
use std::sync::Arc;

use proxima_core::Metadata;
use proxima_engine::state::Chunk;
use proxima_engine::{Bitmap, Segment};
use serde::{Deserialize, Serialize};

use crate::bloom::Bloom;

type HashMap<K, V> = StdHashMap<K, V, ahash::RandomState>;

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// A visible version.
    Put,
    /// A soft-deleted version (restorable).
    Soft,
    /// A deletion.
    Tombstone,
}

/// Rows in columns plus each row's kind and the sequence of the operation
/// that wrote it (`seq` is the record version's: soft delete and restore keep it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rows {
    pub(crate) chunk: Chunk,
    pub(crate) kinds: Vec<Kind>,
    pub(crate) op_seqs: Vec<u64>,
    /// Approximate bytes held, kept as rows are pushed (the memtable checks it on every write).
    bytes: usize,
}

/// One version, as pushed into rows.
pub(crate) struct Version<'a> {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) op_seq: u64,
    pub(crate) kind: Kind,
    pub(crate) vector: &'a [f32],
    pub(crate) metadata: Metadata,
    pub(crate) expires_at: Option<u64>,
}

impl Rows {
    pub(crate) fn new(dimension: usize) -> Self {
        Self { chunk: Chunk::new(0, dimension), kinds: Vec::new(), op_seqs: Vec::new(), bytes: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    pub(crate) fn push(&mut self, v: Version<'_>) -> usize {
        self.bytes += v.id.len() + v.vector.len() * 4 + 33;
        self.kinds.push(v.kind);
        self.op_seqs.push(v.op_seq);
        self.chunk.push(v.id, v.seq, v.vector, v.metadata, v.expires_at)
    }

    /// Copies row `row` of `from`.
    pub(crate) fn push_row(&mut self, from: &Rows, row: usize) -> usize {
        let c = &from.chunk;
        self.push(Version {
            id: c.ids[row].clone(),
            seq: c.seqs[row],
            op_seq: from.op_seqs[row],
            kind: from.kinds[row],
            vector: c.vector(row),
            metadata: c.metadata[row].clone(),
            expires_at: c.expires_at[row],
        })
    }

    /// Ids, vectors, sequence numbers and kinds (metadata not counted).
    pub(crate) fn approx_bytes(&self) -> usize {
        self.bytes
    }
}

/// How a part finds an id's row.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A run: ids sorted and unique, behind a bloom filter.
    Sorted(Bloom),
    /// A frozen memtable: the newest row of each id.
    Hashed(HashMap<String, usize>),
}

/// An immutable part.
#[derive(Debug)]
pub(crate) struct PartData {
    /// Unique among the collection's parts: the view's segment id.
    pub(crate) id: u64,
    pub(crate) rows: Rows,
    pub(crate) lookup: Lookup,
    pub(crate) index: Option<Arc<[u8]>>,
}

impl PartData {
    /// The row holding `id` in this part, if any.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        self.find_hashed(id, &mut None)
    }

    /// `find`, computing the id's bloom hashes at most once over several parts.
    pub(crate) fn find_hashed(&self, id: &str, hashed: &mut Option<(u64, u64)>) -> Option<usize> {
        match &self.lookup {
            Lookup::Sorted(bloom) => {
                if !bloom.may_contain_hashed(*hashed.get_or_insert_with(|| crate::bloom::hashes(id))) {
                    return None;
                }
                self.rows.chunk.ids.binary_search_by(|probe| probe.as_str().cmp(id)).ok()
            }
            Lookup::Hashed(map) => map.get(id).copied(),
        }
    }

    pub(crate) fn is_run(&self) -> bool {
        matches!(self.lookup, Lookup::Sorted(_))
    }
}

/// A part and which of its rows are visible (copy-on-write, shared with views).
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) data: Arc<PartData>,
    pub(crate) live: Arc<Bitmap>,
}

impl Part {
    pub(crate) fn segment(&self) -> Arc<dyn Segment> {
        Arc::new(PartSegment { data: self.data.clone(), live: self.live.clone() })
    }
}

/// A part as a view's segment.
pub(crate) struct PartSegment {
    pub(crate) data: Arc<PartData>,
    pub(crate) live: Arc<Bitmap>,
}

impl Segment for PartSegment {
    fn segment_id(&self) -> u64 {
        self.data.id
    }
    fn sealed(&self) -> bool {
        self.data.is_run()
    }
    fn len(&self) -> usize {
        self.data.rows.len()
    }
    fn dimension(&self) -> usize {
        self.data.rows.chunk.dimension
    }
    fn vectors(&self) -> &[f32] {
        &self.data.rows.chunk.vectors
    }
    fn id(&self, row: usize) -> &str {
        &self.data.rows.chunk.ids[row]
    }
    fn seq(&self, row: usize) -> u64 {
        self.data.rows.chunk.seqs[row]
    }
    fn metadata(&self, row: usize) -> &Metadata {
        &self.data.rows.chunk.metadata[row]
    }
    fn expires_at(&self, row: usize) -> Option<u64> {
        self.data.rows.chunk.expires_at[row]
    }
    fn live(&self) -> &Bitmap {
        &self.live
    }
    fn index_bytes(&self) -> Option<&[u8]> {
        self.data.index.as_deref()
    }
}

/// Merges parts given oldest first into one sorted run's rows: per id the
/// newest row wins; `keep` decides whether that row stays (tombstones are
/// dropped at the last level).
pub(crate) fn merge_newest(parts: &[&PartData], dimension: usize, keep: impl Fn(&Rows, usize) -> bool) -> Rows {
    if parts.iter().all(|p| p.is_run()) {
        return merge_runs(parts, dimension, keep);
    }
    let mut newest: std::collections::BTreeMap<&str, (usize, usize)> = std::collections::BTreeMap::new();
    for (p, part) in parts.iter().enumerate() {
        for (row, id) in part.rows.chunk.ids.iter().enumerate() {
            newest.insert(id.as_str(), (p, row));
        }
    }
    let mut out = Rows::new(dimension);
    for (p, row) in newest.into_values() {
        if keep(&parts[p].rows, row) {
            out.push_row(&parts[p].rows, row);
        }
    }
    out
}

/// `merge_newest` for sorted runs: a k-way merge, O(rows × log parts) with no
/// map of every id (what compaction spends its time on).
fn merge_runs(parts: &[&PartData], dimension: usize, keep: impl Fn(&Rows, usize) -> bool) -> Rows {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let id_at = |part: usize, row: usize| parts[part].rows.chunk.ids[row].as_str();
    let mut cursor = vec![0usize; parts.len()];
    let mut heap: BinaryHeap<Reverse<(&str, usize)>> =
        (0..parts.len()).filter(|p| parts[*p].rows.len() > 0).map(|p| Reverse((id_at(p, 0), p))).collect();
    let mut out = Rows::new(dimension);
    while let Some(Reverse((id, first))) = heap.pop() {
        // Every part holding this id: the newest (highest index) wins.
        let mut holders = vec![first];
        while heap.peek().is_some_and(|Reverse((next, _))| *next == id) {
            let Some(Reverse((_, p))) = heap.pop() else { break };
            holders.push(p);
        }
        let newest = *holders.iter().max().expect("one holder at least");
        let row = cursor[newest];
        if keep(&parts[newest].rows, row) {
            out.push_row(&parts[newest].rows, row);
        }
        for p in holders {
            cursor[p] += 1;
            if cursor[p] < parts[p].rows.len() {
                heap.push(Reverse((id_at(p, cursor[p]), p)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bloom::Bloom;

    fn run(id: u64, rows: &[(&str, f32)]) -> PartData {
        let mut r = Rows::new(1);
        for (name, v) in rows {
            r.push(Version {
                id: name.to_string(),
                seq: id,
                op_seq: id,
                kind: Kind::Put,
                vector: &[*v],
                metadata: Default::default(),
                expires_at: None,
            });
        }
        let bloom = Bloom::build(r.chunk.ids.iter().map(String::as_str));
        PartData { id, rows: r, lookup: Lookup::Sorted(bloom), index: None }
    }

    #[test]
    fn k_way_merge_keeps_the_newest_version_of_each_id_in_order() {
        let old = run(1, &[("a", 1.0), ("c", 1.0), ("e", 1.0)]);
        let mid = run(2, &[("b", 2.0), ("c", 2.0)]);
        let new = run(3, &[("c", 3.0), ("d", 3.0), ("e", 3.0)]);
        let merged = merge_newest(&[&old, &mid, &new], 1, |_, _| true);
        assert_eq!(merged.chunk.ids, ["a", "b", "c", "d", "e"]);
        assert_eq!(merged.chunk.vectors, [1.0, 2.0, 3.0, 3.0, 3.0]);
        let dropped = merge_newest(&[&old, &new], 1, |rows, row| rows.chunk.ids[row] != "e");
        assert_eq!(dropped.chunk.ids, ["a", "c", "d"]);
    }
}
