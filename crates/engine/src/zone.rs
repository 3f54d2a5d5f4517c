//! Zone maps: per-range min/max of declared fields (VIPER fills them from
//! Parquet row-group statistics), used to skip rows a filter cannot match.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use proxima_core::Filter;
use proxima_core::filter::FieldValue;
use serde_json::Value;

use crate::Bitmap;

/// Bounds of declared fields over a range of rows. A field without bounds is unknown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Zone {
    /// The rows the bounds cover.
    pub rows: Range<usize>,
    /// Field name → (min, max), both numbers or both strings.
    pub bounds: BTreeMap<String, (Value, Value)>,
}

fn cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Zone {
    /// `(min, max, constant)` for a comparison on a field with bounds.
    fn bounds<'a>(&'a self, fv: &'a FieldValue) -> Option<(&'a Value, &'a Value, &'a Value)> {
        self.bounds.get(&fv.field).map(|(lo, hi)| (lo, hi, &fv.value))
    }

    /// Whether some row in the zone may match `filter` (`true` when unsure).
    pub fn may_match(&self, filter: &Filter) -> bool {
        let bounds = |fv| self.bounds(fv);
        let within = |lo: &Value, hi: &Value, v: &Value| {
            cmp(lo, v).is_none_or(|o| o != Ordering::Greater) && cmp(hi, v).is_none_or(|o| o != Ordering::Less)
        };
        match filter {
            Filter::Eq(fv) => bounds(fv).is_none_or(|(lo, hi, v)| within(lo, hi, v)),
            Filter::In(fv) => match self.bounds.get(&fv.field) {
                Some((lo, hi)) => fv.values.iter().any(|v| within(lo, hi, v)),
                None => true,
            },
            Filter::Gt(fv) => bounds(fv).is_none_or(|(_, hi, v)| cmp(hi, v).is_none_or(|o| o == Ordering::Greater)),
            Filter::Gte(fv) => bounds(fv).is_none_or(|(_, hi, v)| cmp(hi, v).is_none_or(|o| o != Ordering::Less)),
            Filter::Lt(fv) => bounds(fv).is_none_or(|(lo, _, v)| cmp(lo, v).is_none_or(|o| o == Ordering::Less)),
            Filter::Lte(fv) => bounds(fv).is_none_or(|(lo, _, v)| cmp(lo, v).is_none_or(|o| o != Ordering::Greater)),
            Filter::And(fs) => fs.iter().all(|f| self.may_match(f)),
            Filter::Or(fs) => fs.iter().any(|f| self.may_match(f)),
            // Negations and presence cannot be decided from bounds.
            Filter::Ne(_) | Filter::Exists(_) | Filter::Not(_) => true,
        }
    }
}

/// The rows of a segment of `len` rows that `filter` may match, judged by its
/// zones; `None` when the zones rule nothing out (or there are none).
pub fn candidate_rows(zones: &[Zone], len: usize, filter: &Filter) -> Option<Bitmap> {
    if zones.is_empty() || zones.iter().all(|z| z.may_match(filter)) {
        return None;
    }
    let mut rows = Bitmap::all_set(len);
    for zone in zones.iter().filter(|z| !z.may_match(filter)) {
        zone.rows.clone().filter(|r| *r < len).for_each(|r| rows.set(r, false));
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn zone(rows: Range<usize>, lo: i64, hi: i64) -> Zone {
        Zone { rows, bounds: [("year".to_string(), (json!(lo), json!(hi)))].into() }
    }

    #[test]
    fn prunes_zones_outside_the_range_and_keeps_unknowns() {
        let zones = [zone(0..10, 1990, 1999), zone(10..20, 2000, 2009), zone(20..25, 2010, 2019)];
        let after_2005 = Filter::gt("year", 2005);
        let rows = candidate_rows(&zones, 25, &after_2005).unwrap();
        assert_eq!(rows.ones().collect::<Vec<_>>(), (10..25).collect::<Vec<_>>());
        assert!(candidate_rows(&zones, 25, &Filter::eq("year", 1995)).unwrap().get(5));
        assert!(candidate_rows(&zones, 25, &Filter::eq("other", 1)).is_none(), "unknown fields prune nothing");
        assert!(candidate_rows(&zones, 25, &Filter::Not(Box::new(after_2005))).is_none());
        let or = Filter::Or(vec![Filter::lt("year", 1991), Filter::gt("year", 2018)]);
        assert_eq!(candidate_rows(&zones, 25, &or).unwrap().count_ones(), 15);
    }
}
