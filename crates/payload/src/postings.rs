//! The rows holding each value of one field.

use std::collections::BTreeMap;
use std::ops::Bound;

use roaring::RoaringBitmap;

/// A field with at most this many distinct values (or one per 16 rows, if
/// more) keeps a bitmap per value; above it, sorted `(value, row)` pairs,
/// which cost 12 bytes a row but no per-value overhead.
const INVERTED_MAX_VALUES: usize = 256;

/// Rows by value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Postings<K> {
    /// A bitmap per value.
    Inverted(BTreeMap<K, RoaringBitmap>),
    /// Pairs sorted by value (then row), and every row holding a value.
    Sorted { keys: Vec<K>, rows: Vec<u32>, holders: RoaringBitmap },
}

impl<K: Ord + Clone> Postings<K> {
    /// Postings for `(value, row)` pairs in any order.
    pub(crate) fn build(mut pairs: Vec<(K, u32)>) -> Self {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let distinct = pairs.windows(2).filter(|w| w[0].0 != w[1].0).count() + usize::from(!pairs.is_empty());
        if distinct <= INVERTED_MAX_VALUES.max(pairs.len() / 16) {
            let mut map: BTreeMap<K, RoaringBitmap> = BTreeMap::new();
            for (key, row) in pairs {
                map.entry(key).or_default().push(row);
            }
            Postings::Inverted(map)
        } else {
            let (keys, rows): (Vec<K>, Vec<u32>) = pairs.into_iter().unzip();
            Postings::sorted(keys, rows)
        }
    }

    /// Sorted postings from pairs already in order.
    pub(crate) fn sorted(keys: Vec<K>, rows: Vec<u32>) -> Self {
        let mut all = rows.clone();
        all.sort_unstable();
        let holders = RoaringBitmap::from_sorted_iter(all).expect("sorted rows");
        Postings::Sorted { keys, rows, holders }
    }

    /// Rows whose value lies in `range`.
    pub(crate) fn range(&self, range: (Bound<&K>, Bound<&K>)) -> RoaringBitmap {
        if !valid(&range) {
            return RoaringBitmap::new();
        }
        match self {
            Postings::Inverted(map) => {
                map.range::<K, _>(range).map(|(_, rows)| rows).fold(RoaringBitmap::new(), |a, b| a | b)
            }
            Postings::Sorted { keys, rows, holders } => {
                let start = match range.0 {
                    Bound::Included(k) => keys.partition_point(|x| x < k),
                    Bound::Excluded(k) => keys.partition_point(|x| x <= k),
                    Bound::Unbounded => 0,
                };
                let end = match range.1 {
                    Bound::Included(k) => keys.partition_point(|x| x <= k),
                    Bound::Excluded(k) => keys.partition_point(|x| x < k),
                    Bound::Unbounded => keys.len(),
                };
                let end = end.max(start);
                let bitmap = |parts: &[&[u32]]| {
                    let mut found: Vec<u32> = parts.concat();
                    found.sort_unstable();
                    RoaringBitmap::from_sorted_iter(found).expect("sorted rows")
                };
                // A wide range is every row but the few outside it: sort the smaller side.
                if 2 * (end - start) > rows.len() {
                    holders - bitmap(&[&rows[..start], &rows[end..]])
                } else {
                    bitmap(&[&rows[start..end]])
                }
            }
        }
    }

    /// Rows whose value is `key`.
    pub(crate) fn eq(&self, key: &K) -> RoaringBitmap {
        match self {
            Postings::Inverted(map) => map.get(key).cloned().unwrap_or_default(),
            Postings::Sorted { .. } => self.range((Bound::Included(key), Bound::Included(key))),
        }
    }

    /// Bytes held, roughly: what a newcomer sizing memory needs.
    pub(crate) fn memory_bytes(&self, key_bytes: impl Fn(&K) -> usize) -> usize {
        match self {
            Postings::Inverted(map) => map.iter().map(|(k, rows)| key_bytes(k) + rows.serialized_size() + 48).sum(),
            Postings::Sorted { keys, rows, holders } => {
                keys.iter().map(key_bytes).sum::<usize>() + rows.len() * 4 + holders.serialized_size()
            }
        }
    }
}

/// `BTreeMap::range` panics on an empty or inverted range; such a range holds nothing.
fn valid<K: Ord>(range: &(Bound<&K>, Bound<&K>)) -> bool {
    match (range.0, range.1) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_answer_the_same() {
        let pairs: Vec<(i64, u32)> = (0..5000u32).map(|r| (i64::from(r % 7) * 10, r)).collect();
        let inverted = Postings::build(pairs.clone());
        let unique: Vec<(i64, u32)> = (0..5000u32).map(|r| (i64::from(r) * 3 % 5000, r)).collect();
        let sorted = Postings::build(unique.clone());
        assert!(matches!(inverted, Postings::Inverted(_)));
        assert!(matches!(sorted, Postings::Sorted { .. }));
        for (postings, pairs) in [(&inverted, &pairs), (&sorted, &unique)] {
            for (lo, hi) in [(0, 0), (10, 30), (29, 31), (100, 90), (-5, 4999)] {
                let want: Vec<u32> = pairs.iter().filter(|(k, _)| (lo..=hi).contains(k)).map(|(_, r)| *r).collect();
                let mut want = want;
                want.sort_unstable();
                let got: Vec<u32> = postings.range((Bound::Included(&lo), Bound::Included(&hi))).iter().collect();
                assert_eq!(got, want, "[{lo}, {hi}]");
            }
            let got: Vec<u32> = postings.range((Bound::Excluded(&30), Bound::Unbounded)).iter().collect();
            assert!(got.iter().all(|r| pairs.iter().any(|(k, row)| row == r && *k > 30)));
        }
    }
}
