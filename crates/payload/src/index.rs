//! A segment's payload index, and filters answered with it.

use std::collections::BTreeMap;

use proxima_core::filter::lookup;
use proxima_core::{FieldSpec, Filter, Metadata};
use roaring::RoaringBitmap;

use crate::field::{self, FieldIndex, Op};

/// The declared fields of one segment, by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PayloadIndex {
    pub(crate) rows: u32,
    pub(crate) fields: BTreeMap<String, FieldIndex>,
}

/// What the index knows of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Exactly the rows the filter matches.
    Exact(RoaringBitmap),
    /// A superset of them: the filter must still be evaluated on these rows,
    /// and on no others.
    Candidates(RoaringBitmap),
    /// Nothing: the filter must be evaluated on every row.
    Unknown,
}

impl PayloadIndex {
    /// Indexes `fields` over `rows` (row `i` is the `i`-th metadata). A field
    /// whose values the index cannot hold exactly is left out.
    pub fn build<'a>(fields: &[FieldSpec], rows: impl ExactSizeIterator<Item = &'a Metadata> + Clone) -> Self {
        let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        let fields = fields
            .iter()
            .filter_map(|spec| {
                let values = rows.clone().map(|metadata| lookup(metadata, &spec.name));
                Some((spec.name.clone(), field::build(spec.ty, values)?))
            })
            .collect();
        PayloadIndex { rows: count, fields }
    }

    /// Rows indexed.
    pub fn rows(&self) -> usize {
        self.rows as usize
    }

    /// The fields indexed.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// Bytes held in memory, roughly.
    pub fn memory_bytes(&self) -> usize {
        self.fields.iter().map(|(name, f)| name.len() + f.memory_bytes()).sum()
    }

    /// The rows `filter` matches, as far as the index can tell; agrees with
    /// [`Filter::matches`] on every row.
    pub fn evaluate(&self, filter: &Filter) -> Answer {
        match filter {
            Filter::Eq(fv) => self.leaf(&fv.field, |f| f.compare(Op::Eq, &fv.value)),
            // `ne` holds where `eq` does not, the path's absence included.
            Filter::Ne(fv) => self.leaf(&fv.field, |f| Some(self.all() - f.compare(Op::Eq, &fv.value)?)),
            Filter::In(fv) => self.leaf(&fv.field, |f| {
                fv.values.iter().try_fold(RoaringBitmap::new(), |rows, v| Some(rows | f.compare(Op::Eq, v)?))
            }),
            Filter::Gt(fv) => self.leaf(&fv.field, |f| f.compare(Op::Gt, &fv.value)),
            Filter::Gte(fv) => self.leaf(&fv.field, |f| f.compare(Op::Gte, &fv.value)),
            Filter::Lt(fv) => self.leaf(&fv.field, |f| f.compare(Op::Lt, &fv.value)),
            Filter::Lte(fv) => self.leaf(&fv.field, |f| f.compare(Op::Lte, &fv.value)),
            Filter::Exists(f) => self.leaf(&f.field, |f| Some(f.present.clone())),
            Filter::And(filters) => self.and(filters),
            Filter::Or(filters) => self.or(filters),
            Filter::Not(inner) => match self.evaluate(inner) {
                Answer::Exact(rows) => Answer::Exact(self.all() - rows),
                _ => Answer::Unknown,
            },
        }
    }

    fn all(&self) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.rows);
        all
    }

    fn leaf(&self, field: &str, answer: impl FnOnce(&FieldIndex) -> Option<RoaringBitmap>) -> Answer {
        self.fields.get(field).and_then(answer).map_or(Answer::Unknown, Answer::Exact)
    }

    /// Known parts intersect; unknown parts leave candidates to evaluate.
    fn and(&self, filters: &[Filter]) -> Answer {
        let mut rows: Option<RoaringBitmap> = None;
        let mut exact = true;
        for filter in filters {
            let part = match self.evaluate(filter) {
                Answer::Exact(part) => part,
                Answer::Candidates(part) => {
                    exact = false;
                    part
                }
                Answer::Unknown => {
                    exact = false;
                    continue;
                }
            };
            rows = Some(match rows {
                Some(rows) => rows & part,
                None => part,
            });
        }
        match rows {
            None if exact => Answer::Exact(self.all()),
            None => Answer::Unknown,
            Some(rows) if exact => Answer::Exact(rows),
            Some(rows) => Answer::Candidates(rows),
        }
    }

    /// Any unknown part may match any row; otherwise the union.
    fn or(&self, filters: &[Filter]) -> Answer {
        let mut rows = RoaringBitmap::new();
        let mut exact = true;
        for filter in filters {
            match self.evaluate(filter) {
                Answer::Exact(part) => rows |= part,
                Answer::Candidates(part) => {
                    exact = false;
                    rows |= part;
                }
                Answer::Unknown => return Answer::Unknown,
            }
        }
        if exact { Answer::Exact(rows) } else { Answer::Candidates(rows) }
    }
}
