//! `/`, `/collections` and `/collections/{c}`: list, describe, create, drop.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use proxima::Proxima;
use proxima::core::{CollectionConfig, DistanceMetric, ErrorKind, FieldSpec, FieldType, IndexConfig};
use serde_json::{Map, Value, json};

use crate::COMPATIBLE_VERSION;
use crate::envelope::{Answer, Body, Failure, Reply};

/// `GET /`: who answers, in the shape `QdrantClient` checks.
pub(crate) async fn root() -> axum::Json<Value> {
    axum::Json(json!({"title": "qdrant - vector search engine (ProximaDB)", "version": COMPATIBLE_VERSION}))
}

pub(crate) async fn list(State(db): State<Arc<Proxima>>) -> Reply<Value> {
    let started = Instant::now();
    let names: Vec<Value> = db.list_collections().await?.into_iter().map(|c| json!({"name": c.name})).collect();
    Ok(Answer::new(json!({"collections": names}), started))
}

pub(crate) async fn exists(State(db): State<Arc<Proxima>>, Path(name): Path<String>) -> Reply<Value> {
    let started = Instant::now();
    let exists = match db.collection(&name).await {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::InvalidArgument => false,
        Err(e) => return Err(e.into()),
    };
    Ok(Answer::new(json!({"exists": exists}), started))
}

/// The collection described as Qdrant's `CollectionInfo`. Qdrant's required
/// tuning sections (optimizer, WAL) hold what is closest in ProximaDB; they
/// describe it, they do not tune it.
pub(crate) async fn info(State(db): State<Arc<Proxima>>, Path(name): Path<String>) -> Reply<Value> {
    let started = Instant::now();
    let config = db.collection(&name).await?;
    let stats = db.stats(&name).await?;
    let index = db.index_status(&name).await?;
    let (m, ef_construct) = match config.index {
        IndexConfig::Hnsw { m, ef_construction } => (m, ef_construction),
        _ => (0, 0),
    };
    let payload_schema: Map<String, Value> = config
        .fields
        .iter()
        .map(|f| {
            let data_type = match f.ty {
                FieldType::String => "keyword",
                FieldType::Int => "integer",
                FieldType::Float => "float",
                FieldType::Bool => "bool",
            };
            (f.name.clone(), json!({"data_type": data_type, "points": stats.live_records}))
        })
        .collect();
    let info = json!({
        // Yellow, as Qdrant while it optimises, until every segment large
        // enough for a graph has one: a client waiting for green then
        // measures the index, not exact scans.
        "status": if index.building { "yellow" } else { "green" },
        "optimizer_status": "ok",
        "points_count": stats.live_records,
        "indexed_vectors_count": index.indexed_rows,
        "segments_count": stats.segments,
        "config": {
            "params": {
                "vectors": {"size": config.dimension, "distance": distance_name(config.metric)},
                "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": true,
            },
            "hnsw_config": {"m": m, "ef_construct": ef_construct, "full_scan_threshold": proxima::search::FLAT_MAX_ROWS, "on_disk": false},
            "optimizer_config": {"deleted_threshold": 0.5, "vacuum_min_vector_number": 0, "default_segment_number": 0, "flush_interval_sec": 1},
            "wal_config": {"wal_capacity_mb": 64, "wal_segments_ahead": 0},
            "quantization_config": null,
        },
        "payload_schema": payload_schema,
    });
    Ok(Answer::new(info, started))
}

fn distance_name(metric: DistanceMetric) -> &'static str {
    match metric {
        DistanceMetric::Cosine => "Cosine",
        DistanceMetric::Dot => "Dot",
        DistanceMetric::Euclidean => "Euclid",
    }
}

/// Settings that only tune how Qdrant stores or optimises: accepted, and
/// left to ProximaDB's own storage (docs/qdrant.md lists them).
const STORAGE_HINTS: [&str; 5] = ["on_disk_payload", "optimizers_config", "wal_config", "timeout", "metadata"];

/// `PUT /collections/{c}`: one unnamed dense vector per point.
pub(crate) async fn create(
    State(db): State<Arc<Proxima>>,
    Path(name): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<bool> {
    let started = Instant::now();
    let mut hnsw = (16, 100);
    // Unsupported features are named before the vectors are read, whatever the key order.
    for (key, value) in &body {
        match key.as_str() {
            "vectors" => {}
            "hnsw_config" => hnsw = hnsw_params(value, hnsw)?,
            "shard_number" | "replication_factor" | "write_consistency_factor" => {
                if value.as_u64().is_some_and(|n| n > 1) {
                    return Err(Failure::unsupported(&format!("`{key}` above 1 (sharding and replication)")));
                }
            }
            "sparse_vectors" if !value.is_null() => return Err(Failure::unsupported("sparse vectors")),
            "quantization_config" if !value.is_null() => return Err(Failure::unsupported("quantization configs")),
            "sharding_method" if value.as_str().is_some_and(|m| m != "auto") => {
                return Err(Failure::unsupported("custom sharding"));
            }
            "init_from" if !value.is_null() => return Err(Failure::unsupported("`init_from`")),
            "strict_mode_config" if !value.is_null() => return Err(Failure::unsupported("strict mode")),
            "sparse_vectors" | "quantization_config" | "sharding_method" | "init_from" | "strict_mode_config" => {}
            hint if STORAGE_HINTS.contains(&hint) => {}
            other => return Err(Failure::bad(format!("Bad request: unknown collection setting `{other}`"))),
        }
    }
    let vectors_config =
        body.get("vectors").ok_or_else(|| Failure::bad("Bad request: `vectors` (size and distance) is required"))?;
    let mut config = vectors(&name, vectors_config)?;
    if let Some(value) = body.get("vectors").and_then(|v| v.get("hnsw_config")) {
        hnsw = hnsw_params(value, hnsw)?;
    }
    config.index = IndexConfig::Hnsw { m: hnsw.0, ef_construction: hnsw.1 };
    db.create_collection(config).await?;
    Ok(Answer::new(true, started))
}

fn vectors(name: &str, value: &Value) -> Result<CollectionConfig, Failure> {
    let object = value.as_object().ok_or_else(|| Failure::bad("Bad request: `vectors` is an object"))?;
    if !object.contains_key("size") {
        return Err(Failure::unsupported("named vectors"));
    }
    let size = object["size"].as_u64().and_then(|n| u32::try_from(n).ok());
    let size = size.ok_or_else(|| Failure::bad("Bad request: `vectors.size` is a positive integer"))?;
    let metric = match object.get("distance").and_then(Value::as_str) {
        Some("Cosine") => DistanceMetric::Cosine,
        Some("Dot") => DistanceMetric::Dot,
        Some("Euclid") => DistanceMetric::Euclidean,
        Some("Manhattan") => return Err(Failure::unsupported("the Manhattan distance")),
        other => return Err(Failure::bad(format!("Bad request: unknown distance {other:?}"))),
    };
    for (key, value) in object {
        match key.as_str() {
            "size" | "distance" | "hnsw_config" | "on_disk" => {}
            "multivector_config" if !value.is_null() => return Err(Failure::unsupported("multi-vectors")),
            "quantization_config" if !value.is_null() => return Err(Failure::unsupported("quantization configs")),
            "datatype" if value.as_str().is_some_and(|t| t != "float32") => {
                return Err(Failure::unsupported("vector datatypes other than float32"));
            }
            "multivector_config" | "quantization_config" | "datatype" => {}
            other => return Err(Failure::bad(format!("Bad request: unknown vector setting `{other}`"))),
        }
    }
    Ok(CollectionConfig::new(name, size).with_metric(metric))
}

fn hnsw_params(value: &Value, (m, ef): (u32, u32)) -> Result<(u32, u32), Failure> {
    let get = |key: &str, default: u32| -> Result<u32, Failure> {
        match value.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| Failure::bad(format!("Bad request: `{key}` is an integer"))),
        }
    };
    Ok((get("m", m)?, get("ef_construct", ef)?))
}

/// `DELETE /collections/{c}`: `true` when it existed.
pub(crate) async fn drop(State(db): State<Arc<Proxima>>, Path(name): Path<String>) -> Reply<bool> {
    let started = Instant::now();
    match db.drop_collection(&name).await {
        Ok(()) => Ok(Answer::new(true, started)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Answer::new(false, started)),
        Err(e) => Err(e.into()),
    }
}

/// `PUT /collections/{c}/index`: the field becomes a declared field (see
/// [`Proxima::declare_field`]); one declared already with this type is indexed already.
pub(crate) async fn payload_index(
    State(db): State<Arc<Proxima>>,
    Path(name): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    let config = db.collection(&name).await?;
    let field = body
        .get("field_name")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::bad("Bad request: `field_name` is required"))?;
    let schema = match body.get("field_schema") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).unwrap_or_default(),
        _ => return Err(Failure::bad("Bad request: `field_schema` is required")),
    };
    let wanted = match schema {
        "keyword" => FieldType::String,
        "integer" => FieldType::Int,
        "float" => FieldType::Float,
        "bool" => FieldType::Bool,
        other => return Err(Failure::unsupported(&format!("`{other}` payload indexes"))),
    };
    if let Some(ty) = config.field_type(field).filter(|ty| *ty != wanted) {
        return Err(Failure::bad(format!("Bad request: field `{field}` is declared {ty:?}, not {schema}")));
    }
    // Records are checked before the field is declared, and writes wait: the
    // index exists when this answers, whatever `wait` says.
    db.declare_field(&name, FieldSpec { name: field.to_string(), ty: wanted }).await?;
    Ok(Answer::new(json!({"operation_id": null, "status": "completed"}), started))
}
