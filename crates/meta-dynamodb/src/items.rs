//! `CollectionMetadata` as DynamoDB items and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use proxima_core::{Error, Result};
use proxima_meta::{AccessPattern, CollectionMetadata};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const METADATA: &str = "METADATA";
pub(crate) const ENTITY: &str = "COLLECTION";

pub(crate) fn entry_pk(id: &str) -> String {
    format!("COLLECTION#{id}")
}

pub(crate) fn name_pk(name: &str) -> String {
    format!("NAME#{name}")
}

pub(crate) fn tag_sk(tag: &str) -> String {
    format!("TAG#{tag}")
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The key of an item.
pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn metric_name(m: &CollectionMetadata) -> String {
    serde_json::to_value(m.distance_metric).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The entry item.
pub(crate) fn entry_item(m: &CollectionMetadata) -> Item {
    let mut item = key(entry_pk(&m.id), METADATA.into());
    let mut put = |k: &str, v: AttributeValue| {
        item.insert(k.to_string(), v);
    };
    put("entity", s(ENTITY));
    put("name", s(&m.name));
    put("collection_id", s(&m.id));
    put("dimension", n(m.dimension));
    put("distance_metric", s(metric_name(m)));
    put("indexing_algorithm", s(&m.indexing_algorithm));
    put("created_at", n(m.created_at));
    put("updated_at", n(m.updated_at));
    put("vector_count", n(m.vector_count));
    put("total_size_bytes", n(m.total_size_bytes));
    put("config", s(m.config.to_string()));
    put("access_pattern", s(m.access_pattern.as_str()));
    put("tags", AttributeValue::L(m.tags.iter().map(s).collect()));
    put("version", n(m.version));
    if let Some(d) = &m.description {
        put("description", s(d));
    }
    if let Some(o) = &m.owner {
        put("owner", s(o));
    }
    if let Some(at) = m.expires_at {
        put("expires_at", n(at));
        put("ttl", n(at)); // DynamoDB's own (lazy) expiry
    }
    item
}

/// The name claim: makes names unique and points at the entry.
pub(crate) fn name_item(m: &CollectionMetadata) -> Item {
    let mut item = key(name_pk(&m.name), METADATA.into());
    item.insert("collection_id".into(), s(&m.id));
    item
}

/// One item per tag, for the sparse `by_tag` index.
pub(crate) fn tag_items(m: &CollectionMetadata) -> Vec<Item> {
    let mut tags = m.tags.clone();
    tags.sort();
    tags.dedup();
    tags.iter()
        .map(|t| {
            let mut item = key(entry_pk(&m.id), tag_sk(t));
            item.insert("tag".into(), s(t));
            item.insert("name".into(), s(&m.name));
            item.insert("collection_id".into(), s(&m.id));
            item
        })
        .collect()
}

fn bad(field: &str) -> Error {
    Error::corrupted(format!("stored collection item has a bad `{field}`"))
}

pub(crate) fn get_s(item: &Item, field: &str) -> Result<String> {
    item.get(field).and_then(|v| v.as_s().ok()).cloned().ok_or_else(|| bad(field))
}

fn get_opt_s(item: &Item, field: &str) -> Option<String> {
    item.get(field).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n<T: std::str::FromStr>(item: &Item, field: &str) -> Result<T> {
    item.get(field).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or_else(|| bad(field))
}

pub(crate) fn from_entry(item: &Item) -> Result<CollectionMetadata> {
    let tags = match item.get("tags") {
        Some(AttributeValue::L(list)) => {
            list.iter().map(|v| v.as_s().cloned().map_err(|_| bad("tags"))).collect::<Result<Vec<_>>>()?
        }
        _ => return Err(bad("tags")),
    };
    Ok(CollectionMetadata {
        id: get_s(item, "collection_id")?,
        name: get_s(item, "name")?,
        dimension: get_n(item, "dimension")?,
        distance_metric: serde_json::from_value(serde_json::Value::String(get_s(item, "distance_metric")?))
            .map_err(|_| bad("distance_metric"))?,
        indexing_algorithm: get_s(item, "indexing_algorithm")?,
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
        vector_count: get_n(item, "vector_count")?,
        total_size_bytes: get_n(item, "total_size_bytes")?,
        config: serde_json::from_str(&get_s(item, "config")?).map_err(|_| bad("config"))?,
        access_pattern: AccessPattern::parse(&get_s(item, "access_pattern")?)?,
        description: get_opt_s(item, "description"),
        tags,
        owner: get_opt_s(item, "owner"),
        version: get_n(item, "version")?,
        expires_at: match item.get("expires_at") {
            Some(_) => Some(get_n(item, "expires_at")?),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let mut m = CollectionMetadata::new("id-1", "docs", 8);
        m.config = serde_json::json!({"a": [1, 2.5, "x", null], "b": {"c": true}});
        m.tags = vec!["b".into(), "a".into(), "b".into()];
        m.description = Some("d".into());
        m.expires_at = Some(1_900_000_000);
        m.version = 3;
        assert_eq!(from_entry(&entry_item(&m)).unwrap(), m);
        assert_eq!(tag_items(&m).len(), 2, "one item per distinct tag");
    }
}
