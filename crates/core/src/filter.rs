//! The metadata filter AST: its JSON form, type checking and evaluation.
//!
//! See the crate README for the JSON form.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CollectionConfig, Error, Metadata, Result};

/// Deepest nesting of `and`/`or`/`not` accepted; deeper filters are rejected, not recursed.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most values in one `in` list.
pub const MAX_IN_VALUES: usize = 1024;

/// A comparison of the value at a dotted path with a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldValue {
    /// Dotted path into the metadata object, e.g. `"author.name"`.
    pub field: String,
    /// The constant.
    pub value: Value,
}

/// Membership of the value at a path in a set of constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldValues {
    /// Dotted path into the metadata object.
    pub field: String,
    /// The constants.
    pub values: Vec<Value>,
}

/// Presence of a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldRef {
    /// Dotted path into the metadata object.
    pub field: String,
}

/// A metadata predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Equal (an array matches when any element is equal).
    Eq(FieldValue),
    /// Not equal; true when the field is missing.
    Ne(FieldValue),
    /// Equal to one of the values.
    In(FieldValues),
    /// Greater than.
    Gt(FieldValue),
    /// Greater than or equal.
    Gte(FieldValue),
    /// Less than.
    Lt(FieldValue),
    /// Less than or equal.
    Lte(FieldValue),
    /// The path is present.
    Exists(FieldRef),
    /// All match (`[]` matches everything).
    And(Vec<Filter>),
    /// Any matches (`[]` matches nothing).
    Or(Vec<Filter>),
    /// Negation.
    Not(Box<Filter>),
}

impl Filter {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Eq(FieldValue { field: field.into(), value: value.into() })
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Gt(FieldValue { field: field.into(), value: value.into() })
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Lt(FieldValue { field: field.into(), value: value.into() })
    }

    /// `field in values`.
    pub fn is_in(field: impl Into<String>, values: Vec<Value>) -> Self {
        Filter::In(FieldValues { field: field.into(), values })
    }

    /// Parses the JSON form, rejecting malformed or over-deep filters.
    pub fn from_json(value: &Value) -> Result<Self> {
        let filter: Filter =
            serde_json::from_value(value.clone()).map_err(|e| Error::invalid(format!("malformed filter: {e}")))?;
        filter.check_shape(0)?;
        Ok(filter)
    }

    /// Checks nesting depth, list sizes and — for fields the collection declares — value types.
    pub fn validate(&self, config: &CollectionConfig) -> Result<()> {
        self.check_shape(0)?;
        self.check_types(config)
    }

    fn check_shape(&self, depth: usize) -> Result<()> {
        if depth > MAX_FILTER_DEPTH {
            return Err(Error::invalid(format!("filter nests deeper than {MAX_FILTER_DEPTH} levels")));
        }
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().try_for_each(|f| f.check_shape(depth + 1)),
            Filter::Not(f) => f.check_shape(depth + 1),
            Filter::In(fv) if fv.values.len() > MAX_IN_VALUES => {
                Err(Error::invalid(format!("`in` lists at most {MAX_IN_VALUES} values")))
            }
            _ => {
                let field = self.field().unwrap_or_default();
                if field.is_empty() || field.split('.').any(str::is_empty) {
                    return Err(Error::invalid(format!("filter field `{field}` is not a dotted path")));
                }
                Ok(())
            }
        }
    }

    fn check_types(&self, config: &CollectionConfig) -> Result<()> {
        // Numbers compare by value, so an integer field compares with any
        // number; `null` finds the rows that hold `null`, whatever the type.
        let check = |field: &str, value: &Value| match config.field_type(field) {
            Some(crate::FieldType::Int) if value.is_number() => Ok(()),
            Some(_) if value.is_null() => Ok(()),
            Some(ty) if !ty.accepts(value) => {
                Err(Error::invalid(format!("filter compares field `{field}` (declared {ty:?}) with {value}"))
                    .with_context("field", field))
            }
            _ => Ok(()),
        };
        match self {
            Filter::Eq(fv) | Filter::Ne(fv) | Filter::Gt(fv) | Filter::Gte(fv) | Filter::Lt(fv) | Filter::Lte(fv) => {
                check(&fv.field, &fv.value)
            }
            Filter::In(fv) => fv.values.iter().try_for_each(|v| check(&fv.field, v)),
            Filter::Exists(_) => Ok(()),
            Filter::And(fs) | Filter::Or(fs) => fs.iter().try_for_each(|f| f.check_types(config)),
            Filter::Not(f) => f.check_types(config),
        }
    }

    /// The path a leaf compares, `None` for `and`/`or`/`not`.
    pub fn field(&self) -> Option<&str> {
        match self {
            Filter::Eq(fv) | Filter::Ne(fv) | Filter::Gt(fv) | Filter::Gte(fv) | Filter::Lt(fv) | Filter::Lte(fv) => {
                Some(&fv.field)
            }
            Filter::In(fv) => Some(&fv.field),
            Filter::Exists(f) => Some(&f.field),
            Filter::And(_) | Filter::Or(_) | Filter::Not(_) => None,
        }
    }

    /// Evaluates the filter against a record's metadata.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        match self {
            Filter::Eq(fv) => any_element(lookup(metadata, &fv.field), |v| json_eq(v, &fv.value)),
            Filter::Ne(fv) => !any_element(lookup(metadata, &fv.field), |v| json_eq(v, &fv.value)),
            Filter::In(fv) => any_element(lookup(metadata, &fv.field), |v| fv.values.iter().any(|c| json_eq(v, c))),
            Filter::Gt(fv) => compare(metadata, fv, |o| o == Ordering::Greater),
            Filter::Gte(fv) => compare(metadata, fv, |o| o != Ordering::Less),
            Filter::Lt(fv) => compare(metadata, fv, |o| o == Ordering::Less),
            Filter::Lte(fv) => compare(metadata, fv, |o| o != Ordering::Greater),
            Filter::Exists(f) => lookup(metadata, &f.field).is_some(),
            Filter::And(fs) => fs.iter().all(|f| f.matches(metadata)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(metadata)),
            Filter::Not(f) => !f.matches(metadata),
        }
    }
}

/// The value at a dotted path.
pub fn lookup<'a>(metadata: &'a Metadata, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = metadata.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Applies `pred` to a scalar, or to each element of an array.
fn any_element(value: Option<&Value>, pred: impl Fn(&Value) -> bool) -> bool {
    match value {
        None => false,
        Some(Value::Array(items)) => items.iter().any(&pred),
        Some(v) => pred(v),
    }
}

fn compare(metadata: &Metadata, fv: &FieldValue, accept: impl Fn(Ordering) -> bool) -> bool {
    any_element(lookup(metadata, &fv.field), |v| json_cmp(v, &fv.value).is_some_and(&accept))
}

/// Numbers compare by value whatever their JSON representation (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => json_cmp(a, b) == Some(Ordering::Equal),
        _ => a == b,
    }
}

fn json_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::FieldType;

    fn meta(v: Value) -> Metadata {
        v.as_object().unwrap().clone()
    }

    fn parse(v: Value) -> Filter {
        Filter::from_json(&v).unwrap()
    }

    #[test]
    fn json_form_round_trips() {
        let text = json!({"and": [
            {"eq": {"field": "genre", "value": "jazz"}},
            {"not": {"lt": {"field": "year", "value": 1960}}},
            {"in": {"field": "label", "values": ["blue note", "impulse"]}},
            {"exists": {"field": "artist.name"}}
        ]});
        let filter = parse(text.clone());
        assert_eq!(serde_json::to_value(&filter).unwrap(), text);
    }

    #[test]
    fn evaluates_operators_over_dotted_paths_and_arrays() {
        let m = meta(json!({"genre": "jazz", "year": 1959, "tags": ["modal", "cool"], "artist": {"name": "Miles"}}));
        assert!(parse(json!({"eq": {"field": "artist.name", "value": "Miles"}})).matches(&m));
        assert!(parse(json!({"eq": {"field": "tags", "value": "cool"}})).matches(&m));
        assert!(parse(json!({"eq": {"field": "year", "value": 1959.0}})).matches(&m));
        assert!(!parse(json!({"eq": {"field": "genre", "value": "rock"}})).matches(&m));
        assert!(parse(json!({"ne": {"field": "missing", "value": 1}})).matches(&m));
        assert!(parse(json!({"gte": {"field": "year", "value": 1959}})).matches(&m));
        assert!(!parse(json!({"gt": {"field": "year", "value": 1959}})).matches(&m));
        assert!(parse(json!({"lt": {"field": "genre", "value": "k"}})).matches(&m));
        assert!(!parse(json!({"lt": {"field": "genre", "value": 5}})).matches(&m), "mixed types never match");
        assert!(parse(json!({"in": {"field": "year", "values": [1, 1959]}})).matches(&m));
        assert!(!parse(json!({"exists": {"field": "artist.age"}})).matches(&m));
        assert!(parse(json!({"and": []})).matches(&m));
        assert!(!parse(json!({"or": []})).matches(&m));
        assert!(
            parse(json!({"or": [{"eq": {"field": "genre", "value": "x"}}, {"not": {"exists": {"field": "zz"}}}]}))
                .matches(&m)
        );
    }

    #[test]
    fn rejects_malformed_and_mistyped_filters() {
        for bad in [
            json!({"eq": {"field": "a"}}),
            json!({"between": {"field": "a", "value": 1}}),
            json!({"eq": {"field": "", "value": 1}}),
            json!({"eq": {"field": "a..b", "value": 1}}),
            json!(["eq"]),
        ] {
            let err = Filter::from_json(&bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
        let mut deep = json!({"exists": {"field": "a"}});
        for _ in 0..=MAX_FILTER_DEPTH {
            deep = json!({"not": deep});
        }
        assert!(Filter::from_json(&deep).is_err());

        let config = CollectionConfig::new("c", 2).with_field("year", FieldType::Int);
        assert!(parse(json!({"gt": {"field": "year", "value": 3}})).validate(&config).is_ok());
        assert!(parse(json!({"lt": {"field": "year", "value": 1990.5}})).validate(&config).is_ok(), "any number");
        assert!(parse(json!({"eq": {"field": "year", "value": null}})).validate(&config).is_ok(), "null");
        let err = parse(json!({"gt": {"field": "year", "value": "1990"}})).validate(&config).unwrap_err();
        assert_eq!(err.context("field"), Some("year"));
        assert!(parse(json!({"eq": {"field": "undeclared", "value": "x"}})).validate(&config).is_ok());
    }
}
