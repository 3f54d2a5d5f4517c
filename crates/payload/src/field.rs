//! One declared field's index: its values as typed keys, and which rows hold
//! the path at all.

use std::cmp::Ordering;
use std::ops::Bound;

use proxima_core::FieldType;
use roaring::RoaringBitmap;
use serde_json::Value;

use crate::postings::Postings;

/// Integers beyond this are not exact as `f64`: a `float` field holding one
/// is left to evaluation, which compares integers as integers.
const EXACT_F64_INT: u64 = 1 << 53;

/// An `f64` ordered totally, with -0 stored as 0 (JSON compares them equal).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Float(pub(crate) f64);

impl Float {
    fn new(x: f64) -> Self {
        Float(if x == 0.0 { 0.0 } else { x })
    }
}

impl PartialEq for Float {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Float {}
impl PartialOrd for Float {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Float {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A field's postings, typed by its declaration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Str(Postings<String>),
    Int(Postings<i64>),
    Float(Postings<Float>),
    Bool(Postings<bool>),
}

/// A comparison the index answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// One field of one segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldIndex {
    /// Rows where the path is present, `null` included (what `exists` asks).
    pub(crate) present: RoaringBitmap,
    /// Rows by non-null value.
    pub(crate) values: Values,
}

/// Builds the index of one field from each row's value at its path; `None`
/// when some value is one the index cannot hold exactly.
pub(crate) fn build<'a>(ty: FieldType, values: impl Iterator<Item = Option<&'a Value>>) -> Option<FieldIndex> {
    let mut present = RoaringBitmap::new();
    let mut pairs = Pairs::new(ty);
    for (row, value) in values.enumerate() {
        let row = u32::try_from(row).ok()?;
        let Some(value) = value else { continue };
        present.push(row);
        if !value.is_null() {
            pairs.push(value, row)?;
        }
    }
    Some(FieldIndex { present, values: pairs.finish() })
}

enum Pairs {
    Str(Vec<(String, u32)>),
    Int(Vec<(i64, u32)>),
    Float(Vec<(Float, u32)>),
    Bool(Vec<(bool, u32)>),
}

impl Pairs {
    fn new(ty: FieldType) -> Self {
        match ty {
            FieldType::String => Pairs::Str(Vec::new()),
            FieldType::Int => Pairs::Int(Vec::new()),
            FieldType::Float => Pairs::Float(Vec::new()),
            FieldType::Bool => Pairs::Bool(Vec::new()),
        }
    }

    fn push(&mut self, value: &Value, row: u32) -> Option<()> {
        match self {
            Pairs::Str(p) => p.push((value.as_str()?.to_string(), row)),
            Pairs::Int(p) => p.push((value.as_i64()?, row)),
            Pairs::Float(p) => p.push((float_key(value)?, row)),
            Pairs::Bool(p) => p.push((value.as_bool()?, row)),
        }
        Some(())
    }

    fn finish(self) -> Values {
        match self {
            Pairs::Str(p) => Values::Str(Postings::build(p)),
            Pairs::Int(p) => Values::Int(Postings::build(p)),
            Pairs::Float(p) => Values::Float(Postings::build(p)),
            Pairs::Bool(p) => Values::Bool(Postings::build(p)),
        }
    }
}

/// A number as an exact `f64` key.
fn float_key(value: &Value) -> Option<Float> {
    let exact_int = |n: u64| n <= EXACT_F64_INT;
    let n = value.as_number()?;
    let fits = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => exact_int(i.unsigned_abs()),
        (None, Some(u)) => exact_int(u),
        _ => true,
    };
    fits.then(|| Float::new(n.as_f64().expect("a JSON number")))
}

impl FieldIndex {
    /// Rows whose value compares with `constant` as `op` says; `None` when
    /// the constant is not of the field's type (evaluation decides then).
    pub(crate) fn compare(&self, op: Op, constant: &Value) -> Option<RoaringBitmap> {
        fn answer<K: Ord + Clone>(postings: &Postings<K>, op: Op, key: &K) -> RoaringBitmap {
            let (lo, hi) = match op {
                Op::Eq => return postings.eq(key),
                Op::Gt => (Bound::Excluded(key), Bound::Unbounded),
                Op::Gte => (Bound::Included(key), Bound::Unbounded),
                Op::Lt => (Bound::Unbounded, Bound::Excluded(key)),
                Op::Lte => (Bound::Unbounded, Bound::Included(key)),
            };
            postings.range((lo, hi))
        }
        Some(match &self.values {
            Values::Str(p) => answer(p, op, &constant.as_str()?.to_string()),
            Values::Int(p) => match constant.as_i64() {
                Some(key) => answer(p, op, &key),
                // A fraction against integers is the integer comparison that
                // keeps the same values (x > 2.5 is x > 2, x < 2.5 is x < 3);
                // past 2^53 evaluation compares rounded floats, so it decides.
                None => {
                    let c = constant.as_f64().filter(|c| c.abs() < EXACT_F64_INT as f64)?;
                    let key = match op {
                        Op::Eq if c.fract() != 0.0 => return Some(RoaringBitmap::new()),
                        Op::Eq | Op::Gte | Op::Lt => c.ceil(),
                        Op::Gt | Op::Lte => c.floor(),
                    };
                    answer(p, op, &(key as i64))
                }
            },
            Values::Float(p) => answer(p, op, &float_key(constant)?),
            // Booleans have no order: a comparison other than equality matches no row.
            Values::Bool(_) if !matches!(op, Op::Eq) => constant.as_bool().map(|_| RoaringBitmap::new())?,
            Values::Bool(p) => answer(p, op, &constant.as_bool()?),
        })
    }

    /// Bytes held, roughly.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.present.serialized_size()
            + match &self.values {
                Values::Str(p) => p.memory_bytes(|k| k.len() + 24),
                Values::Int(p) => p.memory_bytes(|_| 8),
                Values::Float(p) => p.memory_bytes(|_| 8),
                Values::Bool(p) => p.memory_bytes(|_| 1),
            }
    }
}
