//! `/collections/{c}/points...`: upsert, retrieve, delete, payload changes,
//! count and scroll.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use proxima::core::{Metadata, VectorRecord};
use proxima::engine::{StoredRecord, WriteBatch};
use proxima::{Proxima, ScanRequest};
use serde_json::{Map, Value, json};

use crate::envelope::{Answer, Body, Failure, Reply};
use crate::filter::{self, Translated};
use crate::ids;

/// Every change is durable when it is acknowledged, so it is reported completed whatever `wait` says.
fn completed(started: Instant) -> Answer<Value> {
    Answer::new(json!({"operation_id": null, "status": "completed"}), started)
}

/// Which payload keys an answer carries.
#[derive(Debug, Clone)]
pub(crate) enum PayloadSelection {
    None,
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl PayloadSelection {
    pub(crate) fn parse(value: Option<&Value>, default: bool) -> Result<Self, Failure> {
        let keys = |v: &Value| -> Result<Vec<String>, Failure> {
            v.as_array()
                .and_then(|a| a.iter().map(|k| k.as_str().map(str::to_string)).collect())
                .ok_or_else(|| Failure::bad("Bad request: payload selectors are lists of keys"))
        };
        Ok(match value {
            None | Some(Value::Null) => {
                if default {
                    Self::All
                } else {
                    Self::None
                }
            }
            Some(Value::Bool(true)) => Self::All,
            Some(Value::Bool(false)) => Self::None,
            Some(list @ Value::Array(_)) => Self::Only(keys(list)?),
            Some(Value::Object(o)) if o.contains_key("include") => Self::Only(keys(&o["include"])?),
            Some(Value::Object(o)) if o.contains_key("exclude") => Self::Except(keys(&o["exclude"])?),
            Some(other) => return Err(Failure::bad(format!("Bad request: unknown payload selector {other}"))),
        })
    }

    pub(crate) fn apply(&self, metadata: &Metadata) -> Value {
        match self {
            Self::None => Value::Null,
            Self::All => Value::Object(metadata.clone()),
            Self::Only(keys) => Value::Object(
                metadata.iter().filter(|(k, _)| keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
            ),
            Self::Except(keys) => Value::Object(
                metadata.iter().filter(|(k, _)| !keys.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
            ),
        }
    }
}

/// Whether answers carry vectors (`true`/`false`; names of vectors are not served).
pub(crate) fn with_vector(value: Option<&Value>) -> Result<bool, Failure> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Failure::unsupported("named vectors")),
    }
}

/// A stored record as Qdrant's `Record`.
pub(crate) fn record(stored: &StoredRecord, payload: &PayloadSelection, vector: bool) -> Value {
    json!({
        "id": ids::to_qdrant(&stored.record.id),
        "payload": payload.apply(&stored.record.metadata),
        "vector": if vector { json!(stored.record.vector) } else { Value::Null },
    })
}

/// A point's dense vector (named, sparse or multi-vectors are refused by name).
pub(crate) fn dense(value: &Value) -> Result<Vec<f32>, Failure> {
    match value {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => Err(Failure::unsupported("multi-vectors")),
        Value::Array(items) => items
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32).ok_or_else(|| Failure::bad("Bad request: a vector holds numbers")))
            .collect(),
        Value::Object(o) if o.contains_key("indices") => Err(Failure::unsupported("sparse vectors")),
        Value::Object(_) => Err(Failure::unsupported("named vectors")),
        _ => Err(Failure::bad("Bad request: a vector is a list of numbers")),
    }
}

fn payload_of(value: Option<&Value>) -> Result<Metadata, Failure> {
    match value {
        None | Some(Value::Null) => Ok(Metadata::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(_) => Err(Failure::bad("Bad request: a payload is an object")),
    }
}

fn refuse_unknown(body: &Map<String, Value>, known: &[&str]) -> Result<(), Failure> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) if key == "shard_key" => Err(Failure::unsupported("shard keys")),
        Some(key) => Err(Failure::bad(format!("Bad request: unknown field `{key}`"))),
        None => Ok(()),
    }
}

/// `PUT /collections/{c}/points`: `{"points": [...]}` or `{"batch": {"ids", "vectors", "payloads"}}`.
pub(crate) async fn upsert(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(&body, &["points", "batch", "update_filter"])?;
    if body.get("update_filter").is_some_and(|f| !f.is_null()) {
        return Err(Failure::unsupported("`update_filter`"));
    }
    let mut records = Vec::new();
    if let Some(points) = body.get("points") {
        for point in points.as_array().ok_or_else(|| Failure::bad("Bad request: `points` is a list"))? {
            let id = ids::to_stored(point.get("id").unwrap_or(&Value::Null))?;
            let vector =
                dense(point.get("vector").ok_or_else(|| Failure::bad("Bad request: a point needs a `vector`"))?)?;
            records.push(VectorRecord::new(id, vector).with_metadata(Value::Object(payload_of(point.get("payload"))?)));
        }
    } else if let Some(batch) = body.get("batch") {
        let list = |key: &str| batch.get(key).and_then(Value::as_array);
        let point_ids = list("ids").ok_or_else(|| Failure::bad("Bad request: `batch.ids` is a list"))?;
        let vectors = list("vectors").ok_or_else(|| Failure::bad("Bad request: `batch.vectors` is a list"))?;
        let payloads = list("payloads");
        if vectors.len() != point_ids.len() || payloads.is_some_and(|p| p.len() != point_ids.len()) {
            return Err(Failure::bad("Bad request: `batch` lists differ in length"));
        }
        for (i, id) in point_ids.iter().enumerate() {
            let payload = payload_of(payloads.and_then(|p| p.get(i)))?;
            records.push(
                VectorRecord::new(ids::to_stored(id)?, dense(&vectors[i])?).with_metadata(Value::Object(payload)),
            );
        }
    } else {
        return Err(Failure::bad("Bad request: `points` or `batch` is required"));
    }
    db.upsert(&collection, records).await?;
    Ok(completed(started))
}

/// `POST /collections/{c}/points`: the points with these ids that exist.
pub(crate) async fn retrieve(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Vec<Value>> {
    let started = Instant::now();
    refuse_unknown(&body, &["ids", "with_payload", "with_vector", "consistency"])?;
    let wanted =
        body.get("ids").and_then(Value::as_array).ok_or_else(|| Failure::bad("Bad request: `ids` is a list"))?;
    let wanted: Vec<String> = wanted.iter().map(ids::to_stored).collect::<Result<_, _>>()?;
    let payload = PayloadSelection::parse(body.get("with_payload"), true)?;
    let vector = with_vector(body.get("with_vector"))?;
    let found = db.get(&collection, &wanted).await?;
    Ok(Answer::new(found.iter().flatten().map(|r| record(r, &payload, vector)).collect(), started))
}

/// `GET /collections/{c}/points/{id}`.
pub(crate) async fn retrieve_one(
    State(db): State<Arc<Proxima>>,
    Path((collection, id)): Path<(String, String)>,
) -> Reply<Value> {
    let started = Instant::now();
    let numeric = id.parse::<u64>().ok().filter(|n| n.to_string() == id);
    let stored = ids::to_stored(&numeric.map_or_else(|| Value::from(id.clone()), Value::from))?;
    match db.get(&collection, std::slice::from_ref(&stored)).await?.pop().flatten() {
        Some(found) => Ok(Answer::new(record(&found, &PayloadSelection::All, true), started)),
        None => Err(Failure::not_found(format!("Not found: No point with id {id} found"))),
    }
}

/// The ids a `{"points": [...]}` or `{"filter": ...}` selector names.
async fn selected(db: &Proxima, collection: &str, body: &Map<String, Value>) -> Result<Vec<String>, Failure> {
    if let Some(points) = body.get("points") {
        let points = points.as_array().ok_or_else(|| Failure::bad("Bad request: `points` is a list"))?;
        return points.iter().map(ids::to_stored).collect();
    }
    let Some(filter) = body.get("filter") else {
        return Err(Failure::bad("Bad request: name the points by `points` or `filter`"));
    };
    Ok(matching(db, collection, &filter::translate(Some(filter))?, false)
        .await?
        .into_iter()
        .map(|r| r.record.id)
        .collect())
}

/// Every live record a translated filter matches, in id order.
pub(crate) async fn matching(
    db: &Proxima,
    collection: &str,
    filter: &Translated,
    include_vector: bool,
) -> Result<Vec<StoredRecord>, Failure> {
    let request = ScanRequest { filter: filter.filter.clone(), from: None, limit: usize::MAX, include_vector };
    let mut records = db.scan(collection, request).await?.records;
    records.retain(|r| filter.admits(&r.record.id));
    Ok(records)
}

/// `POST /collections/{c}/points/delete`.
pub(crate) async fn delete(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(&body, &["points", "filter"])?;
    let doomed = selected(&db, &collection, &body).await?;
    // Qdrant deletes absent ids silently; ProximaDB refuses them, so only present ones are sent.
    let present: Vec<String> = db.get(&collection, &doomed).await?.into_iter().flatten().map(|r| r.record.id).collect();
    if !present.is_empty() {
        db.delete(&collection, present).await?;
    }
    Ok(completed(started))
}

/// What a payload change does to each point's payload.
enum PayloadChange {
    Merge(Metadata),
    Replace(Metadata),
    Remove(Vec<String>),
}

async fn change_payload(
    db: &Proxima,
    collection: &str,
    body: &Map<String, Value>,
    change: PayloadChange,
) -> Result<(), Failure> {
    if body.get("key").is_some_and(|k| !k.is_null()) {
        return Err(Failure::unsupported("setting a payload under a nested `key`"));
    }
    let targets = selected(db, collection, body).await?;
    let current = db.get(collection, &targets).await?;
    let mut batch = WriteBatch::new();
    for (id, found) in targets.iter().zip(current) {
        let Some(found) = found else {
            return Err(Failure::not_found(format!("Not found: No point with id {} found", ids::to_qdrant(id))));
        };
        let mut metadata = found.record.metadata;
        match &change {
            PayloadChange::Merge(new) => metadata.extend(new.clone()),
            PayloadChange::Replace(new) => metadata = new.clone(),
            PayloadChange::Remove(keys) => keys.iter().for_each(|k| drop(metadata.remove(k))),
        }
        batch = batch.update_metadata(id.clone(), metadata);
    }
    if !batch.is_empty() {
        db.write(collection, batch).await?;
    }
    Ok(())
}

/// `POST /collections/{c}/points/payload`: sets these keys, keeps the others.
pub(crate) async fn set_payload(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    write_payload(&db, &collection, &body, PayloadChange::Merge).await
}

/// `PUT /collections/{c}/points/payload`: replaces the whole payload.
pub(crate) async fn overwrite_payload(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    write_payload(&db, &collection, &body, PayloadChange::Replace).await
}

/// Set or overwrite: `change` says which, given the body's `payload`.
async fn write_payload(
    db: &Proxima,
    collection: &str,
    body: &Map<String, Value>,
    change: fn(Metadata) -> PayloadChange,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(body, &["payload", "points", "filter", "key"])?;
    let payload = payload_of(body.get("payload"))?;
    change_payload(db, collection, body, change(payload)).await?;
    Ok(completed(started))
}

/// `POST /collections/{c}/points/payload/delete`: removes these keys.
pub(crate) async fn delete_payload(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(&body, &["keys", "points", "filter"])?;
    let keys =
        body.get("keys").and_then(Value::as_array).ok_or_else(|| Failure::bad("Bad request: `keys` is a list"))?;
    let keys = keys.iter().map(|k| k.as_str().map(str::to_string)).collect::<Option<Vec<_>>>();
    let keys = keys.ok_or_else(|| Failure::bad("Bad request: `keys` holds strings"))?;
    change_payload(&db, &collection, &body, PayloadChange::Remove(keys)).await?;
    Ok(completed(started))
}

/// `POST /collections/{c}/points/count`: always exact.
pub(crate) async fn count(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(&body, &["filter", "exact"])?;
    let filter = filter::translate(body.get("filter"))?;
    let count = if filter.only.is_none() && filter.except.is_empty() {
        db.count(&collection, filter.filter.as_ref()).await?
    } else {
        matching(&db, &collection, &filter, false).await?.len() as u64
    };
    Ok(Answer::new(json!({"count": count}), started))
}

/// `POST /collections/{c}/points/scroll`: points in id order from `offset`,
/// or ordered by a payload key (`order_by`, one page, no `next_page_offset`).
pub(crate) async fn scroll(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    refuse_unknown(&body, &["offset", "limit", "filter", "with_payload", "with_vector", "order_by", "consistency"])?;
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => {
            v.as_u64().filter(|n| *n > 0).ok_or_else(|| Failure::bad("Bad request: `limit` is a positive integer"))?
                as usize
        }
    };
    let payload = PayloadSelection::parse(body.get("with_payload"), true)?;
    let vector = with_vector(body.get("with_vector"))?;
    let filter = filter::translate(body.get("filter"))?;
    if let Some(order) = body.get("order_by").filter(|o| !o.is_null()) {
        return Ok(Answer::new(ordered(&db, &collection, &filter, order, limit, &payload, vector).await?, started));
    }
    // `offset` is the first id of the page, as Qdrant's `next_page_offset` is.
    let from = match body.get("offset") {
        None | Some(Value::Null) => None,
        Some(offset) => Some(ids::to_stored(offset)?),
    };
    let (records, next) = if filter.only.is_none() && filter.except.is_empty() {
        let request = ScanRequest { filter: filter.filter.clone(), from, limit, include_vector: vector };
        let page = db.scan(&collection, request).await?;
        (page.records, page.next)
    } else {
        let mut records = matching(&db, &collection, &filter, vector).await?;
        if let Some(first) = &from {
            records.retain(|r| proxima::id_order(&r.record.id, first) != std::cmp::Ordering::Less);
        }
        let next = records.get(limit).map(|r| r.record.id.clone());
        records.truncate(limit);
        (records, next)
    };
    let next = next.map(|id| ids::to_qdrant(&id));
    let points: Vec<Value> = records.iter().map(|r| record(r, &payload, vector)).collect();
    Ok(Answer::new(json!({"points": points, "next_page_offset": next}), started))
}

async fn ordered(
    db: &Proxima,
    collection: &str,
    filter: &Translated,
    order: &Value,
    limit: usize,
    payload: &PayloadSelection,
    vector: bool,
) -> Result<Value, Failure> {
    let (key, descending) = match order {
        Value::String(key) => (key.clone(), false),
        Value::Object(o) => {
            if o.get("start_from").is_some_and(|s| !s.is_null()) {
                return Err(Failure::unsupported("`order_by.start_from`"));
            }
            let key = o
                .get("key")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::bad("Bad request: `order_by.key` is required"))?;
            (key.to_string(), o.get("direction").and_then(Value::as_str) == Some("desc"))
        }
        _ => return Err(Failure::bad("Bad request: `order_by` is a key or an object")),
    };
    let mut keyed: Vec<(f64, StoredRecord)> = matching(db, collection, filter, vector)
        .await?
        .into_iter()
        .filter_map(|r| Some((proxima::core::filter::lookup(&r.record.metadata, &key)?.as_f64()?, r)))
        .collect();
    keyed.sort_by(|a, b| if descending { b.0.total_cmp(&a.0) } else { a.0.total_cmp(&b.0) });
    let points: Vec<Value> = keyed
        .iter()
        .take(limit)
        .map(|(value, r)| {
            let mut point = record(r, payload, vector);
            point["order_value"] = json!(value);
            point
        })
        .collect();
    Ok(json!({"points": points, "next_page_offset": null}))
}
