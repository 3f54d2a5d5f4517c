//! `CollectionMetadata` as a BSON document and back.

use mongodb::bson::{Bson, DateTime, Document, doc};
use proxima_core::{Error, Result};
use proxima_meta::{AccessPattern, CollectionMetadata};

fn metric_name(m: &CollectionMetadata) -> String {
    serde_json::to_value(m.distance_metric).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The stored document: `_id` is the name.
pub(crate) fn to_document(m: &CollectionMetadata) -> Result<Document> {
    let config = mongodb::bson::to_bson(&m.config)
        .map_err(|e| Error::invalid("config cannot be stored as BSON").with_source(e))?;
    let mut d = doc! {
        "_id": &m.name,
        "collection_id": &m.id,
        "dimension": i64::from(m.dimension),
        "distance_metric": metric_name(m),
        "indexing_algorithm": &m.indexing_algorithm,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "vector_count": m.vector_count as i64,
        "total_size_bytes": m.total_size_bytes as i64,
        "config": config,
        "access_pattern": m.access_pattern.as_str(),
        "description": m.description.clone().map_or(Bson::Null, Bson::String),
        "tags": m.tags.clone(),
        "tags_lc": m.tags.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>(),
        "owner": m.owner.clone().map_or(Bson::Null, Bson::String),
        "version": m.version as i64,
        "expires_at": m.expires_at.map_or(Bson::Null, |v| Bson::Int64(v as i64)),
        "search_text": m.search_words().join(" "),
        "search_words": m.search_words(),
    };
    if let Some(secs) = m.expires_at {
        d.insert("expires_at_date", DateTime::from_millis((secs as i64).saturating_mul(1000)));
    }
    Ok(d)
}

fn bad(field: &str) -> Error {
    Error::corrupted(format!("stored collection document has a bad `{field}`"))
}

fn int(d: &Document, field: &str) -> Result<i64> {
    match d.get(field) {
        Some(Bson::Int64(v)) => Ok(*v),
        Some(Bson::Int32(v)) => Ok(i64::from(*v)),
        _ => Err(bad(field)),
    }
}

fn string(d: &Document, field: &str) -> Result<String> {
    d.get_str(field).map(str::to_string).map_err(|_| bad(field))
}

fn optional_string(d: &Document, field: &str) -> Result<Option<String>> {
    match d.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        _ => Err(bad(field)),
    }
}

pub(crate) fn from_document(d: &Document) -> Result<CollectionMetadata> {
    let config: serde_json::Value = match d.get("config") {
        Some(b) => b.clone().into_relaxed_extjson(),
        None => return Err(bad("config")),
    };
    let tags = d
        .get_array("tags")
        .map_err(|_| bad("tags"))?
        .iter()
        .map(|t| t.as_str().map(str::to_string).ok_or_else(|| bad("tags")))
        .collect::<Result<Vec<_>>>()?;
    Ok(CollectionMetadata {
        name: string(d, "_id")?,
        id: string(d, "collection_id")?,
        dimension: u32::try_from(int(d, "dimension")?).map_err(|_| bad("dimension"))?,
        distance_metric: serde_json::from_value(serde_json::Value::String(string(d, "distance_metric")?))
            .map_err(|_| bad("distance_metric"))?,
        indexing_algorithm: string(d, "indexing_algorithm")?,
        created_at: int(d, "created_at")?,
        updated_at: int(d, "updated_at")?,
        vector_count: int(d, "vector_count")? as u64,
        total_size_bytes: int(d, "total_size_bytes")? as u64,
        config,
        access_pattern: AccessPattern::parse(&string(d, "access_pattern")?)?,
        description: optional_string(d, "description")?,
        tags,
        owner: optional_string(d, "owner")?,
        version: int(d, "version")? as u64,
        expires_at: match d.get("expires_at") {
            None | Some(Bson::Null) => None,
            Some(_) => Some(int(d, "expires_at")? as u64),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let mut m = CollectionMetadata::new("id-1", "docs", 8);
        m.config = serde_json::json!({"index": {"m": 16, "ratio": 0.5, "on": true, "list": [1, "x", null]}});
        m.tags = vec!["Red".into(), "big".into()];
        m.description = Some("d".into());
        m.owner = None;
        m.expires_at = Some(1_900_000_000);
        m.version = 7;
        m.created_at = 1_700_000_000_123;
        let d = to_document(&m).unwrap();
        assert_eq!(d.get_array("tags_lc").unwrap()[0].as_str(), Some("red"));
        assert_eq!(from_document(&d).unwrap(), m);
    }
}
