//! Reading a collection's live records in id order, a page at a time, and
//! counting those a filter matches: what listing APIs (the Qdrant-compatible
//! scroll and count) need.
//!
//! Each call reads every live row's id and tests the filter on its metadata,
//! so a page costs O(records); fine for paging through results, not for
//! serving hot paths.

use std::cmp::Ordering;

use proxima_core::{Filter, Result, VectorRecord, now_unix_secs};
use proxima_engine::StoredRecord;

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

impl Proxima {
    /// Live, unexpired records of `collection` in id order, from `request.from` on.
    pub async fn scan(&self, collection: &str, request: ScanRequest) -> Result<ScanPage> {
        let (holders, config) = self.holders(collection).await?;
        if let Some(filter) = &request.filter {
            filter.validate(&config)?;
        }
        let now = now_unix_secs();
        let mut found: Vec<StoredRecord> = Vec::new();
        for (_, engine) in &holders {
            let view = engine.read_view(collection).await?;
            for segment in view.segments() {
                for row in segment.live().ones() {
                    let id = segment.id(row);
                    if request.from.as_deref().is_some_and(|from| id_order(id, from) == Ordering::Less)
                        || segment.expires_at(row).is_some_and(|t| t <= now)
                        || request.filter.as_ref().is_some_and(|f| !f.matches(segment.metadata(row)))
                    {
                        continue;
                    }
                    let vector = if request.include_vector { segment.vector(row).to_vec() } else { Vec::new() };
                    let record = VectorRecord {
                        id: id.to_string(),
                        vector,
                        metadata: segment.metadata(row).clone(),
                        expires_at: segment.expires_at(row),
                    };
                    found.push(StoredRecord { record, seq: segment.seq(row) });
                }
            }
        }
        let limit = request.limit.max(1);
        let by_id = |a: &StoredRecord, b: &StoredRecord| id_order(&a.record.id, &b.record.id);
        // Only the page and the next page's first id need ordering.
        if found.len() > limit.saturating_add(1) {
            found.select_nth_unstable_by(limit, by_id);
            found.truncate(limit + 1);
        }
        found.sort_by(by_id);
        let next = found.get(limit).map(|r| r.record.id.clone());
        found.truncate(limit);
        Ok(ScanPage { records: found, next })
    }

    /// Live, unexpired records of `collection` that `filter` matches (all of them without one).
    pub async fn count(&self, collection: &str, filter: Option<&Filter>) -> Result<u64> {
        let (holders, config) = self.holders(collection).await?;
        if let Some(filter) = filter {
            filter.validate(&config)?;
        }
        let now = now_unix_secs();
        let mut count = 0u64;
        for (_, engine) in &holders {
            let view = engine.read_view(collection).await?;
            for segment in view.segments() {
                count += segment
                    .live()
                    .ones()
                    .filter(|&row| segment.expires_at(row).is_none_or(|t| t > now))
                    .filter(|&row| filter.is_none_or(|f| f.matches(segment.metadata(row))))
                    .count() as u64;
            }
        }
        Ok(count)
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
