//! Filters answered from payload indexes: which rows of a segment a filter
//! matches, exactly when its fields are declared, before any vector is read.

use std::sync::Arc;

use proxima_core::filter::lookup;
use proxima_core::{CollectionConfig, Filter, Metadata};
use proxima_engine::{EarlierIndex, Segment};
use proxima_index::IndexParts;
use proxima_payload::{Answer, PayloadIndex};
use roaring::RoaringBitmap;
use serde::Serialize;

use crate::cache::{FilterCache, PayloadCache, PayloadKey, trailing_checksum};

/// How a segment's rows are tested against the filter.
#[derive(Debug, Clone)]
pub(crate) enum RowFilter {
    /// There is no filter.
    Unfiltered,
    /// Exactly these rows match (liveness and expiry still apply).
    Rows(Arc<RoaringBitmap>),
    /// Only these rows can match; the filter is evaluated on them.
    Candidates(Arc<RoaringBitmap>),
    /// The filter is evaluated on every row it reaches.
    Evaluate,
}

/// Where a segment's filter answer came from, as plans report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FilterSource {
    /// No filter.
    None,
    /// The payload index answered it exactly.
    PayloadIndex,
    /// The payload index narrowed the rows; the rest of the filter was evaluated on them.
    PayloadIndexThenEvaluation,
    /// Evaluated on the rows' metadata (undeclared fields, or unsealed rows).
    Evaluation,
}

impl RowFilter {
    /// The rows of `segment` `filter` leaves to check, from its payload index
    /// when it has one. Answers are kept per segment and filter: a filter
    /// repeated over many queries (a tenant, a category) costs its bitmap
    /// operations once.
    /// `filter` comes with its JSON text, the answers' key (made once per query).
    pub(crate) fn resolve(
        (indexes, answers): (&PayloadCache, &FilterCache),
        config: &CollectionConfig,
        segment: &dyn Segment,
        filter: Option<(&Filter, &str)>,
    ) -> Self {
        let Some((filter, text)) = filter else { return RowFilter::Unfiltered };
        if let Some(earlier) = segment.earlier_index() {
            return RowFilter::resolve_grown((indexes, answers), config, segment, earlier, (filter, text));
        }
        let Some((key, index)) = payload_index(indexes, config, segment) else { return RowFilter::Evaluate };
        RowFilter::answer(answers, key, &index, (filter, text))
    }

    fn answer(answers: &FilterCache, key: PayloadKey, index: &PayloadIndex, (filter, text): (&Filter, &str)) -> Self {
        let answer = answers.get_or_load((key, text.to_string()), RowFilter::memory_bytes, || {
            Ok(match index.evaluate(filter) {
                Answer::Exact(rows) => RowFilter::Rows(Arc::new(rows)),
                Answer::Candidates(rows) => RowFilter::Candidates(Arc::new(rows)),
                Answer::Unknown => RowFilter::Evaluate,
            })
        });
        answer.map_or(RowFilter::Evaluate, |a| (*a).clone())
    }

    /// A segment grown in place from a sealed one: the sealed state's answer
    /// with the rows changed or added since evaluated on their metadata. It is
    /// kept per state of the segment (its id changes with every write), so a
    /// filter costs one pass over the changed rows per write, not per query.
    fn resolve_grown(
        (indexes, answers): (&PayloadCache, &FilterCache),
        config: &CollectionConfig,
        segment: &dyn Segment,
        earlier: EarlierIndex<'_>,
        (filter, text): (&Filter, &str),
    ) -> Self {
        let Some((key, index)) = earlier_payload_index(indexes, config, &earlier) else { return RowFilter::Evaluate };
        let grown = (key.0.clone(), segment.segment_id(), segment.len(), key.3 ^ GROWN);
        let answer = answers.get_or_load((grown, text.to_string()), RowFilter::memory_bytes, || {
            let mut changed: RoaringBitmap = earlier.changed.ones().map(|r| r as u32).collect();
            changed.insert_range(earlier.rows as u32..segment.len() as u32);
            Ok(match RowFilter::answer(answers, key, &index, (filter, text)) {
                RowFilter::Rows(rows) => {
                    let mut rows = &*rows - &changed;
                    rows.extend(changed.iter().filter(|&r| filter.matches(segment.metadata(r as usize))));
                    RowFilter::Rows(Arc::new(rows))
                }
                RowFilter::Candidates(rows) => RowFilter::Candidates(Arc::new(&*rows | &changed)),
                other => other,
            })
        });
        answer.map_or(RowFilter::Evaluate, |a| (*a).clone())
    }

    fn memory_bytes(&self) -> usize {
        match self {
            RowFilter::Rows(rows) | RowFilter::Candidates(rows) => rows.serialized_size() + 64,
            RowFilter::Unfiltered | RowFilter::Evaluate => 64,
        }
    }

    /// Where the answer came from.
    pub(crate) fn source(&self) -> FilterSource {
        match self {
            RowFilter::Unfiltered => FilterSource::None,
            RowFilter::Rows(_) => FilterSource::PayloadIndex,
            RowFilter::Candidates(_) => FilterSource::PayloadIndexThenEvaluation,
            RowFilter::Evaluate => FilterSource::Evaluation,
        }
    }

    /// Live rows matching exactly, when the index knows them (expiry aside:
    /// expired rows count until compaction removes them).
    /// `live` is the segment's count of live rows.
    pub(crate) fn live_matches(&self, segment: &dyn Segment, live: usize) -> Option<u64> {
        let RowFilter::Rows(rows) = self else { return None };
        if live == segment.len() {
            return Some(rows.len());
        }
        let dead = segment.live().zeros().filter(|&r| rows.contains(r as u32)).count() as u64;
        Some(rows.len() - dead)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One FNV-1a step over a whole value: enough to tell keys apart, not a checksum.
fn fnv(h: u64, value: u64) -> u64 {
    (h ^ value).wrapping_mul(0x0100_0000_01b3)
}

/// The payload index of a sealed segment of a collection with declared
/// fields: loaded from the segment's index bytes, or built from its metadata
/// when it was stored without one (small or not yet indexed). A damaged
/// stored index is rebuilt the same way, never trusted.
fn payload_index(
    cache: &PayloadCache,
    config: &CollectionConfig,
    segment: &dyn Segment,
) -> Option<(PayloadKey, Arc<PayloadIndex>)> {
    if config.fields.is_empty() || !segment.sealed() || segment.is_empty() {
        return None;
    }
    let len = segment.len();
    let stored = segment.index_bytes().and_then(stored_payload);
    let fingerprint = match stored {
        Some(bytes) => u64::from(trailing_checksum(bytes)),
        None => [0, len / 2, len - 1].iter().fold(FNV_OFFSET, |h, &row| fnv(h, segment.seq(row))) | 1 << 63,
    };
    let key = payload_key(config, segment.segment_id(), len, fingerprint);
    let (live, nothing) = (segment.live(), Metadata::new());
    // A dead row may hold another type than declared (written before the
    // declaration, which refuses only live and soft-deleted ones); dead rows
    // never come back, so it is indexed as holding nothing rather than
    // leaving the field unindexed.
    let fits = |metadata: &Metadata| {
        config.fields.iter().all(|f| lookup(metadata, &f.name).is_none_or(|v| v.is_null() || f.ty.accepts(v)))
    };
    let rows = (0..len).map(|row| match segment.metadata(row) {
        metadata if live.get(row) || fits(metadata) => metadata,
        _ => &nothing,
    });
    let build = || PayloadIndex::build(&config.fields, rows.clone());
    let load = || {
        Ok(match stored.map(PayloadIndex::from_bytes) {
            Some(Ok(index)) if index.rows() == len && covers(config, &index) => index,
            _ => build(),
        })
    };
    cache.get_or_load(key.clone(), PayloadIndex::memory_bytes, load).ok().map(|index| (key, index))
}

/// The stored payload index of the sealed state a segment grew out of. Its
/// rows have changed since, so one that is damaged or lacks a declared field
/// cannot be rebuilt from them: an index of no fields is kept in its place,
/// which answers every filter "unknown" (evaluated) without parsing the
/// stored bytes again on every query.
fn earlier_payload_index(
    cache: &PayloadCache,
    config: &CollectionConfig,
    earlier: &EarlierIndex<'_>,
) -> Option<(PayloadKey, Arc<PayloadIndex>)> {
    if config.fields.is_empty() {
        return None;
    }
    let stored = stored_payload(earlier.bytes)?;
    let key = payload_key(config, earlier.segment_id, earlier.rows, u64::from(trailing_checksum(stored)));
    let load = || {
        Ok(match PayloadIndex::from_bytes(stored) {
            Ok(index) if index.rows() == earlier.rows && covers(config, &index) => index,
            _ => PayloadIndex::default(),
        })
    };
    cache.get_or_load(key.clone(), PayloadIndex::memory_bytes, load).ok().map(|index| (key, index))
}

/// Marks the key of an answer for a grown segment's state, apart from its sealed state's.
const GROWN: u64 = 1 << 62;

fn stored_payload(index_bytes: &[u8]) -> Option<&[u8]> {
    IndexParts::of(index_bytes).ok().and_then(|parts| parts.payload)
}

/// Sealed rows never change, but a segment id can be reused after a
/// compaction or a restore: the key also names what the rows are, and which
/// fields are declared (one declared after the segment was indexed is indexed
/// from its metadata).
fn payload_key(config: &CollectionConfig, segment_id: u64, rows: usize, fingerprint: u64) -> PayloadKey {
    let declared = config
        .fields
        .iter()
        .fold(fingerprint, |h, f| f.name.bytes().chain([f.ty as u8, 0]).fold(h, |h, b| fnv(h, u64::from(b))));
    (config.name.clone(), segment_id, rows, declared)
}

fn covers(config: &CollectionConfig, index: &PayloadIndex) -> bool {
    config.fields.iter().all(|f| index.fields().any(|name| name == f.name))
}
