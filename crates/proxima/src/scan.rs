//! Reading a collection's live records in id order, a page at a time, and
//! counting those a filter matches: what listing APIs (the Qdrant-compatible
//! scroll and count) need.
//!
//! Each call reads every live row's id and tests the filter on its metadata,
//! so a page costs O(records); fine for paging through results, not for
//! serving hot paths.

use std::cmp::Ordering;
use std::sync::Arc;

use proxima_core::{Filter, Result, VectorRecord, now_unix_secs};
use proxima_engine::{ReadView, StoredRecord};

use crate::Proxima;

/// Ids in listing order: canonical unsigned integers first, by value (so `9`
/// comes before `10`), then every other id by its bytes.
pub fn id_order(a: &str, b: &str) -> Ordering {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The id as an unsigned integer, when it is one written canonically (no sign, no leading zeros).
fn as_number(id: &str) -> Option<u64> {
    id.parse::<u64>().ok().filter(|n| n.to_string() == id)
}

/// Which records a scan returns.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Only records whose metadata matches.
    pub filter: Option<Filter>,
    /// Only this id and those after it in [`id_order`] (a page's `next`).
    pub from: Option<String>,
    /// At most this many records (at least one).
    pub limit: usize,
    /// Whether records carry their vectors (an empty vector otherwise).
    pub include_vector: bool,
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPage {
    /// The records, in [`id_order`].
    pub records: Vec<StoredRecord>,
    /// The first id of the next page, if there is one.
    pub next: Option<String>,
}

/// A matching row: which view, which segment in it, which row.
type RowRef = (usize, usize, usize);

impl Proxima {
    /// Live, unexpired records of `collection` in id order, from `request.from` on.
    pub async fn scan(&self, collection: &str, request: ScanRequest) -> Result<ScanPage> {
        let (views, mut rows) = self.matching_rows(collection, request.filter.as_ref()).await?;
        let id = |&(v, s, r): &RowRef| views[v].segments()[s].id(r);
        if let Some(from) = request.from.as_deref() {
            rows.retain(|row| id_order(id(row), from) != Ordering::Less);
        }
        let limit = request.limit.max(1);
        let by_id = |a: &RowRef, b: &RowRef| id_order(id(a), id(b));
        // Only the page and the next page's first id need ordering.
        if rows.len() > limit.saturating_add(1) {
            rows.select_nth_unstable_by(limit, by_id);
            rows.truncate(limit + 1);
        }
        rows.sort_by(by_id);
        let next = rows.get(limit).map(|row| id(row).to_string());
        rows.truncate(limit);
        // Records are built for the page alone.
        let records = rows
            .iter()
            .map(|&(v, s, r)| {
                let segment = &views[v].segments()[s];
                let vector = if request.include_vector { segment.vector(r).to_vec() } else { Vec::new() };
                let record = VectorRecord {
                    id: segment.id(r).to_string(),
                    vector,
                    metadata: segment.metadata(r).clone(),
                    expires_at: segment.expires_at(r),
                };
                StoredRecord { record, seq: segment.seq(r) }
            })
            .collect();
        Ok(ScanPage { records, next })
    }

    /// Live, unexpired records of `collection` that `filter` matches (all of them without one).
    pub async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64> {
        Ok(self.matching_rows(collection, filter).await?.1.len() as u64)
    }

    /// A view of every engine holding `collection`, and the live, unexpired
    /// rows in them that `filter` matches.
    async fn matching_rows(
        &self,
        collection: &str,
        filter: Option<&Filter>,
    ) -> Result<(Vec<Arc<dyn ReadView>>, Vec<RowRef>)> {
        let (holders, config) = self.holders(collection).await?;
        if let Some(filter) = filter {
            filter.validate(&config)?;
        }
        let now = now_unix_secs();
        let mut views = Vec::with_capacity(holders.len());
        let mut rows = Vec::new();
        for (v, (_, engine)) in holders.iter().enumerate() {
            let view = engine.read_view(collection).await?;
            for (s, segment) in view.segments().iter().enumerate() {
                let matching = segment
                    .live()
                    .ones()
                    .filter(|&r| segment.expires_at(r).is_none_or(|t| t > now))
                    .filter(|&r| filter.is_none_or(|f| f.matches(segment.metadata(r))));
                rows.extend(matching.map(|r| (v, s, r)));
            }
            views.push(view);
        }
        Ok((views, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::id_order;

    #[test]
    fn numbers_come_first_in_numeric_order() {
        let mut ids = vec!["b", "10", "9", "007", "a", "18446744073709551615"];
        ids.sort_by(|a, b| id_order(a, b));
        assert_eq!(ids, ["9", "10", "18446744073709551615", "007", "a", "b"]);
    }
}
