//! Qdrant's filter language onto ProximaDB's filter AST.
//!
//! `must` → `and`, `should` → `or`, `must_not` → `not(or)`; `match` `value`
//! / `any` / `except` → `eq` / `in` / present and `not in`; `range` →
//! `gt`/`gte`/`lt`/`lte`; `is_null` → `eq null`; `is_empty` → absent or
//! `null`; nested keys are dotted paths, as in Qdrant. Two differences on
//! array values: `except` matches when no element is listed (Qdrant: when
//! some element is not), and `is_empty` does not match `[]`. Point ids are not metadata: `has_id` is
//! answered apart, in the top-level `must` (only these ids) and `must_not`
//! (never these ids). Anything else names itself in a 400.

use std::collections::BTreeSet;

use proxima::core::Filter;
use proxima::core::filter::{FieldRef, FieldValue, FieldValues};
use serde_json::{Map, Value};

use crate::envelope::Failure;
use crate::ids;

/// A Qdrant filter, translated.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Translated {
    /// The metadata part.
    pub(crate) filter: Option<Filter>,
    /// `has_id` in the top-level `must`: only these ids can match.
    pub(crate) only: Option<BTreeSet<String>>,
    /// `has_id` in the top-level `must_not`: these ids never match.
    pub(crate) except: BTreeSet<String>,
}

impl Translated {
    /// Whether a stored id passes the id conditions.
    pub(crate) fn admits(&self, id: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(id)) && !self.except.contains(id)
    }
}

/// Translates an optional filter (`null` or absent is no filter).
pub(crate) fn translate(filter: Option<&Value>) -> Result<Translated, Failure> {
    let Some(filter) = filter.filter(|f| !f.is_null()) else { return Ok(Translated::default()) };
    let object = filter.as_object().ok_or_else(|| Failure::bad("Bad request: a filter is an object"))?;
    let mut out = Translated::default();
    let mut parts = Vec::new();
    for (clause, value) in object {
        let conditions = as_list(value);
        match clause.as_str() {
            "must" => {
                for condition in conditions {
                    match has_id(condition)? {
                        Some(set) => {
                            out.only = Some(match out.only.take() {
                                Some(only) => only.intersection(&set).cloned().collect(),
                                None => set,
                            })
                        }
                        None => parts.push(self::condition(condition)?),
                    }
                }
            }
            "must_not" => {
                let mut negated = Vec::new();
                for condition in conditions {
                    match has_id(condition)? {
                        Some(set) => out.except.extend(set),
                        None => negated.push(self::condition(condition)?),
                    }
                }
                if !negated.is_empty() {
                    parts.push(Filter::Not(Box::new(Filter::Or(negated))));
                }
            }
            _ => parts.extend(clause_filter(clause, value)?),
        }
    }
    out.filter = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Filter::And(parts)),
    };
    Ok(out)
}

/// A nested filter (no `has_id` allowed inside).
fn nested(object: &Map<String, Value>) -> Result<Filter, Failure> {
    let mut parts = Vec::new();
    for (clause, value) in object {
        parts.extend(clause_filter(clause, value)?);
    }
    Ok(Filter::And(parts))
}

/// One clause of a filter object, as a filter (`None` for an empty `should`).
fn clause_filter(clause: &str, value: &Value) -> Result<Option<Filter>, Failure> {
    match clause {
        "must" | "should" | "must_not" => {}
        "min_should" => return Err(Failure::unsupported("`min_should` in filters")),
        other => return Err(Failure::bad(format!("Bad request: unknown filter clause `{other}`"))),
    }
    let conditions: Vec<Filter> = as_list(value).into_iter().map(condition).collect::<Result<_, _>>()?;
    Ok(match clause {
        "must" => Some(Filter::And(conditions)),
        // Qdrant: an empty `should` places no condition.
        "should" if conditions.is_empty() => None,
        "should" => Some(Filter::Or(conditions)),
        "must_not" if conditions.is_empty() => None,
        _ => Some(Filter::Not(Box::new(Filter::Or(conditions)))),
    })
}

/// A clause's conditions: a list, or one condition on its own.
fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    }
}

/// The ids of a `has_id` condition, or `None` for any other condition.
fn has_id(condition: &Value) -> Result<Option<BTreeSet<String>>, Failure> {
    let Some(list) = condition.get("has_id") else { return Ok(None) };
    let list = list.as_array().ok_or_else(|| Failure::bad("Bad request: `has_id` takes a list of point ids"))?;
    list.iter().map(ids::to_stored).collect::<Result<_, _>>().map(Some)
}

fn condition(condition: &Value) -> Result<Filter, Failure> {
    let object = condition.as_object().ok_or_else(|| Failure::bad("Bad request: a condition is an object"))?;
    if object.contains_key("has_id") {
        return Err(Failure::unsupported("`has_id` outside the top-level `must` and `must_not`"));
    }
    if ["must", "should", "must_not", "min_should"].iter().any(|k| object.contains_key(*k)) {
        return nested(object);
    }
    if let Some(target) = object.get("is_null") {
        return Ok(Filter::Eq(FieldValue { field: key_of(target)?, value: Value::Null }));
    }
    if let Some(target) = object.get("is_empty") {
        let field = key_of(target)?;
        let absent = Filter::Not(Box::new(Filter::Exists(FieldRef { field: field.clone() })));
        return Ok(Filter::Or(vec![absent, Filter::Eq(FieldValue { field, value: Value::Null })]));
    }
    for feature in ["nested", "has_vector"] {
        if object.contains_key(feature) {
            return Err(Failure::unsupported(&format!("the `{feature}` condition")));
        }
    }
    let field =
        key(object.get("key").ok_or_else(|| Failure::bad(format!("Bad request: unknown condition {condition}")))?)?;
    let mut parts = Vec::new();
    for (name, value) in object {
        match name.as_str() {
            "key" => {}
            "match" => parts.push(matching(&field, value)?),
            "range" => parts.extend(range(&field, value)?),
            "geo_bounding_box" | "geo_radius" | "geo_polygon" | "values_count" => {
                return Err(Failure::unsupported(&format!("the `{name}` condition")));
            }
            other => return Err(Failure::bad(format!("Bad request: unknown field condition `{other}`"))),
        }
    }
    match parts.len() {
        0 => Err(Failure::bad(format!("Bad request: the condition on `{field}` names no test"))),
        1 => Ok(parts.remove(0)),
        _ => Ok(Filter::And(parts)),
    }
}

fn key_of(target: &Value) -> Result<String, Failure> {
    key(target.get("key").ok_or_else(|| Failure::bad("Bad request: the condition needs a `key`"))?)
}

fn key(value: &Value) -> Result<String, Failure> {
    let key = value.as_str().ok_or_else(|| Failure::bad("Bad request: a condition's `key` is a string"))?;
    if key.contains('[') {
        return Err(Failure::unsupported("array projection in keys (`key[]`)"));
    }
    Ok(key.to_string())
}

fn matching(field: &str, value: &Value) -> Result<Filter, Failure> {
    let object = value.as_object().ok_or_else(|| Failure::bad("Bad request: `match` is an object"))?;
    let scalar = |v: &Value| match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
        other => Err(Failure::bad(format!("Bad request: cannot match {other}"))),
    };
    let list = |v: &Value| -> Result<Vec<Value>, Failure> {
        v.as_array()
            .ok_or_else(|| Failure::bad("Bad request: `any` and `except` take lists"))?
            .iter()
            .map(scalar)
            .collect()
    };
    if let Some(v) = object.get("value") {
        return Ok(Filter::Eq(FieldValue { field: field.into(), value: scalar(v)? }));
    }
    if let Some(v) = object.get("any") {
        return Ok(Filter::In(FieldValues { field: field.into(), values: list(v)? }));
    }
    // Present and not one of them (on an array: no element is one of them).
    if let Some(v) = object.get("except") {
        let present = Filter::Exists(FieldRef { field: field.into() });
        let listed = Filter::In(FieldValues { field: field.into(), values: list(v)? });
        return Ok(Filter::And(vec![present, Filter::Not(Box::new(listed))]));
    }
    if object.contains_key("text") || object.contains_key("phrase") || object.contains_key("text_any") {
        return Err(Failure::unsupported("full-text `match`"));
    }
    Err(Failure::bad(format!("Bad request: unknown match {value}")))
}

fn range(field: &str, value: &Value) -> Result<Vec<Filter>, Failure> {
    let object = value.as_object().ok_or_else(|| Failure::bad("Bad request: `range` is an object"))?;
    let mut parts = Vec::new();
    for (bound, limit) in object {
        if limit.is_null() {
            continue;
        }
        if !limit.is_number() {
            return Err(Failure::unsupported("datetime ranges"));
        }
        let fv = FieldValue { field: field.into(), value: limit.clone() };
        parts.push(match bound.as_str() {
            "gt" => Filter::Gt(fv),
            "gte" => Filter::Gte(fv),
            "lt" => Filter::Lt(fv),
            "lte" => Filter::Lte(fv),
            other => return Err(Failure::bad(format!("Bad request: unknown range bound `{other}`"))),
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(v: Value) -> proxima::core::Metadata {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn qdrant_filters_mean_what_qdrant_says() {
        let f = translate(Some(&json!({
            "must": [{"key": "city", "match": {"value": "London"}}, {"key": "n", "range": {"gte": 2, "lt": 5}}],
            "should": [{"key": "tag", "match": {"any": ["a", "b"]}}, {"is_null": {"key": "x"}}],
            "must_not": [{"key": "color", "match": {"except": ["red"]}}, {"has_id": [7]}]
        })))
        .unwrap();
        let filter = f.filter.clone().unwrap();
        assert!(filter.matches(&meta(json!({"city": "London", "n": 3, "tag": "b", "color": "red"}))));
        assert!(!filter.matches(&meta(json!({"city": "London", "n": 5, "tag": "b", "color": "red"}))));
        assert!(!filter.matches(&meta(json!({"city": "London", "n": 3, "tag": "c", "color": "red"}))));
        assert!(filter.matches(&meta(json!({"city": "London", "n": 3, "x": null, "color": "red"}))));
        assert!(!filter.matches(&meta(json!({"city": "London", "n": 3, "tag": "a", "color": "blue"}))));
        assert!(!f.admits("7") && f.admits("8"));
        let only = translate(Some(&json!({"must": {"has_id": [1, 2]}}))).unwrap();
        assert!(only.filter.is_none() && only.admits("1") && !only.admits("3"));
        let empty = translate(Some(&json!({"must": [{"is_empty": {"key": "a.b"}}]}))).unwrap().filter.unwrap();
        assert!(empty.matches(&meta(json!({"a": {}}))) && empty.matches(&meta(json!({"a": {"b": null}}))));
        assert!(!empty.matches(&meta(json!({"a": {"b": 1}}))));
        assert_eq!(translate(Some(&json!({"should": []}))).unwrap().filter, None);
    }

    #[test]
    fn what_is_not_served_is_named() {
        for (filter, says) in [
            (json!({"must": [{"key": "t", "match": {"text": "x"}}]}), "full-text"),
            (json!({"must": [{"key": "g", "geo_radius": {}}]}), "geo_radius"),
            (json!({"must": [{"nested": {"key": "a", "filter": {}}}]}), "nested"),
            (json!({"should": [{"has_id": [1]}]}), "has_id"),
            (json!({"must": [{"key": "d", "range": {"gt": "2020-01-01"}}]}), "datetime"),
            (json!({"min_should": {"conditions": [], "min_count": 1}}), "min_should"),
            (json!({"must": [{"key": "a[].b", "match": {"value": 1}}]}), "array projection"),
            (json!({"must": [{"key": "a", "match": {"value": 1}}], "oops": []}), "unknown filter clause"),
        ] {
            let err = translate(Some(&filter)).unwrap_err();
            assert!(err.message().contains(says), "{filter}: {}", err.message());
        }
    }
}
