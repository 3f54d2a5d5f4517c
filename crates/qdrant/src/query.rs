//! Nearest-neighbour queries: `/points/query` (and `/batch`) and the older
//! `/points/search` (and `/batch`), on ProximaDB's search.
//!
//! Scores are Qdrant's: cosine similarity and dot product as ProximaDB
//! scores them, Euclidean as the distance (ProximaDB ranks by the negated
//! squared distance), so `score_threshold` means what it means in Qdrant.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use proxima::Proxima;
use proxima::core::{DistanceMetric, SearchHit, SearchRequest};
use serde_json::{Map, Value, json};

use crate::envelope::{Answer, Body, Failure, Reply};
use crate::filter::{self, Translated};
use crate::ids;
use crate::points::{self, PayloadSelection};

/// One nearest-neighbour query, parsed.
struct Nearest {
    vector: Option<Vec<f32>>,
    /// The query names a point: its vector is the query, and it is not an answer.
    by_id: Option<String>,
    filter: Translated,
    limit: usize,
    offset: usize,
    ef: Option<u32>,
    exact: bool,
    threshold: Option<f32>,
    payload: PayloadSelection,
    vector_out: bool,
}

/// Qdrant query kinds other than nearest, named in the 400.
const OTHER_QUERIES: [&str; 8] = ["recommend", "discover", "context", "order_by", "fusion", "rrf", "sample", "formula"];

fn parse(body: &Map<String, Value>, query_key: &str) -> Result<Nearest, Failure> {
    for key in body.keys() {
        let known = [
            query_key,
            "filter",
            "params",
            "limit",
            "top",
            "offset",
            "with_payload",
            "with_vector",
            "score_threshold",
            "using",
            "consistency",
            "timeout",
        ];
        match key.as_str() {
            "prefetch" | "lookup_from" | "shard_key" => return Err(Failure::unsupported(&format!("`{key}`"))),
            k if known.contains(&k) => {}
            other => return Err(Failure::bad(format!("Bad request: unknown field `{other}`"))),
        }
    }
    if body.get("using").is_some_and(|u| !u.is_null()) {
        return Err(Failure::unsupported("named vectors (`using`)"));
    }
    let (vector, by_id) = match body.get(query_key) {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(o)) if o.contains_key("nearest") => target(&o["nearest"])?,
        Some(Value::Object(o)) => {
            let kind = o.keys().next().map_or("an empty query", String::as_str);
            let named =
                if OTHER_QUERIES.contains(&kind) { format!("`{kind}` queries") } else { format!("the query `{kind}`") };
            return Err(Failure::unsupported(&named));
        }
        Some(other) => target(other)?,
    };
    let count = |key: &str, default: usize| -> Result<usize, Failure> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| Failure::bad(format!("Bad request: `{key}` is an unsigned integer"))),
        }
    };
    let limit = count(if body.contains_key("top") { "top" } else { "limit" }, 10)?;
    let params = body.get("params").filter(|p| !p.is_null());
    if let Some(params) = params.and_then(Value::as_object) {
        for key in params.keys() {
            if !["hnsw_ef", "exact", "indexed_only"].contains(&key.as_str()) {
                return Err(Failure::unsupported(&format!("the search parameter `{key}`")));
            }
        }
    }
    let ef = params.and_then(|p| p.get("hnsw_ef")).and_then(Value::as_u64).map(|n| n.min(u64::from(u32::MAX)) as u32);
    Ok(Nearest {
        vector,
        by_id,
        filter: filter::translate(body.get("filter"))?,
        limit,
        offset: count("offset", 0)?,
        ef,
        exact: params.and_then(|p| p.get("exact")).and_then(Value::as_bool).unwrap_or(false),
        threshold: body.get("score_threshold").and_then(Value::as_f64).map(|t| t as f32),
        payload: PayloadSelection::parse(body.get("with_payload"), query_key == "vector")?,
        vector_out: points::with_vector(body.get("with_vector"))?,
    })
}

/// A query vector, or the id of a point whose vector is the query.
fn target(value: &Value) -> Result<(Option<Vec<f32>>, Option<String>), Failure> {
    match value {
        Value::Array(_) | Value::Object(_) => Ok((Some(points::dense(value)?), None)),
        id => Ok((None, Some(ids::to_stored(id)?))),
    }
}

/// Qdrant's score from ProximaDB's.
fn qdrant_score(metric: DistanceMetric, score: f32) -> f32 {
    match metric {
        DistanceMetric::Euclidean => (-score).max(0.0).sqrt(),
        DistanceMetric::Cosine | DistanceMetric::Dot => score,
    }
}

/// Whether a Qdrant score passes `score_threshold`.
fn passes(metric: DistanceMetric, score: f32, threshold: Option<f32>) -> bool {
    threshold.is_none_or(|t| match metric {
        DistanceMetric::Euclidean => score <= t,
        DistanceMetric::Cosine | DistanceMetric::Dot => score >= t,
    })
}

async fn run(db: &Proxima, collection: &str, q: Nearest) -> Result<Vec<Value>, Failure> {
    let config = db.collection(collection).await?;
    let vector = match (&q.vector, &q.by_id) {
        (Some(v), _) => v.clone(),
        (None, Some(id)) => {
            let found = db.get(collection, std::slice::from_ref(id)).await?.pop().flatten();
            found
                .ok_or_else(|| Failure::not_found(format!("Not found: No point with id {} found", ids::to_qdrant(id))))?
                .record
                .vector
        }
        (None, None) => return listing(db, collection, &q).await,
    };
    let hits: Vec<SearchHit> = match &q.filter.only {
        // Only named points can match: rank them exactly.
        Some(only) => {
            let only: Vec<String> = only.iter().cloned().collect();
            let mut query = vector.clone();
            config.metric.prepare(&mut query)?;
            let mut hits: Vec<SearchHit> = db
                .get(collection, &only)
                .await?
                .into_iter()
                .flatten()
                .filter(|r| q.filter.filter.as_ref().is_none_or(|f| f.matches(&r.record.metadata)))
                .map(|r| SearchHit {
                    score: config.metric.score(&query, &r.record.vector),
                    id: r.record.id,
                    seq: r.seq,
                    vector: Some(r.record.vector),
                    metadata: Some(r.record.metadata),
                })
                .collect();
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
            hits
        }
        None => db.search(collection, as_search(&q, vector)).await?.hits,
    };
    Ok(points_of(config.metric, &q, hits))
}

/// The search a query with a vector and no `has_id` list runs.
fn as_search(q: &Nearest, vector: Vec<f32>) -> SearchRequest {
    let wanted = q.limit + q.offset + usize::from(q.by_id.is_some());
    let mut request = SearchRequest::new(vector, (wanted + q.filter.except.len()).clamp(1, 10_000));
    request.filter = q.filter.filter.clone();
    request.ef = q.ef;
    if q.exact {
        request.accuracy = Some(1.0);
    }
    request.include_metadata = true;
    request.include_vector = q.vector_out;
    request
}

/// The queries of a batch, in order: those that are plain searches run as
/// one [`Proxima::search_batch`] (exact scans shared), the rest one by one.
async fn run_all(db: &Proxima, collection: &str, queries: Vec<Nearest>) -> Result<Vec<Vec<Value>>, Failure> {
    let config = db.collection(collection).await?;
    let (searched, requests): (Vec<usize>, Vec<SearchRequest>) = queries
        .iter()
        .enumerate()
        .filter_map(|(i, q)| match (&q.vector, &q.filter.only) {
            (Some(vector), None) => Some((i, as_search(q, vector.clone()))),
            _ => None,
        })
        .unzip();
    let mut hits: Vec<Option<Vec<SearchHit>>> = vec![None; queries.len()];
    if !requests.is_empty() {
        for (i, answer) in searched.into_iter().zip(db.search_batch(collection, requests).await?) {
            hits[i] = Some(answer.hits);
        }
    }
    let mut answers = Vec::with_capacity(queries.len());
    for (q, hits) in queries.into_iter().zip(hits) {
        answers.push(match hits {
            Some(hits) => points_of(config.metric, &q, hits),
            None => run(db, collection, q).await?,
        });
    }
    Ok(answers)
}

/// Qdrant's points from ProximaDB's hits: the query's own point, excluded
/// ids and scores past the threshold left out, then `offset` and `limit`.
fn points_of(metric: DistanceMetric, q: &Nearest, hits: Vec<SearchHit>) -> Vec<Value> {
    hits.into_iter()
        .filter(|h| q.filter.admits(&h.id) && q.by_id.as_ref() != Some(&h.id))
        .map(|h| (qdrant_score(metric, h.score), h))
        .filter(|(score, _)| passes(metric, *score, q.threshold))
        .skip(q.offset)
        .take(q.limit)
        .map(|(score, h)| {
            json!({
                "id": ids::to_qdrant(&h.id),
                "version": h.seq,
                "score": score,
                "payload": h.metadata.as_ref().map_or(Value::Null, |m| q.payload.apply(m)),
                "vector": if q.vector_out { json!(h.vector) } else { Value::Null },
            })
        })
        .collect()
}

/// A query without a vector: points in id order, scored 0 (as Qdrant answers it).
async fn listing(db: &Proxima, collection: &str, q: &Nearest) -> Result<Vec<Value>, Failure> {
    let records = points::matching(db, collection, &q.filter, q.vector_out).await?;
    Ok(records
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|r| {
            let mut point = points::record(r, &q.payload, q.vector_out);
            point["score"] = json!(0.0);
            point["version"] = json!(r.seq);
            point
        })
        .collect())
}

/// `POST /collections/{c}/points/query`.
pub(crate) async fn query(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Value> {
    let started = Instant::now();
    let found = run(&db, &collection, parse(&body, "query")?).await?;
    Ok(Answer::new(json!({"points": found}), started))
}

/// `POST /collections/{c}/points/query/batch`.
pub(crate) async fn query_batch(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Vec<Value>> {
    let started = Instant::now();
    let queries = searches(&body)?.into_iter().map(|s| parse(s, "query")).collect::<Result<Vec<_>, _>>()?;
    let answers = run_all(&db, &collection, queries).await?;
    Ok(Answer::new(answers.into_iter().map(|points| json!({"points": points})).collect(), started))
}

/// `POST /collections/{c}/points/search` (the API before `query`).
pub(crate) async fn search(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Vec<Value>> {
    let started = Instant::now();
    let q = parse(&body, "vector")?;
    if q.vector.is_none() {
        return Err(Failure::bad("Bad request: `vector` is required"));
    }
    Ok(Answer::new(run(&db, &collection, q).await?, started))
}

/// `POST /collections/{c}/points/search/batch`.
pub(crate) async fn search_batch(
    State(db): State<Arc<Proxima>>,
    Path(collection): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Reply<Vec<Vec<Value>>> {
    let started = Instant::now();
    let mut queries = Vec::new();
    for search in searches(&body)? {
        let q = parse(search, "vector")?;
        if q.vector.is_none() {
            return Err(Failure::bad("Bad request: `vector` is required"));
        }
        queries.push(q);
    }
    Ok(Answer::new(run_all(&db, &collection, queries).await?, started))
}

fn searches(body: &Map<String, Value>) -> Result<Vec<&Map<String, Value>>, Failure> {
    let list = body
        .get("searches")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::bad("Bad request: `searches` is a list"))?;
    list.iter().map(|s| s.as_object().ok_or_else(|| Failure::bad("Bad request: each search is an object"))).collect()
}

/// Recommend and discover are not served.
pub(crate) async fn refused(uri: axum::http::Uri) -> Failure {
    let what = if uri.path().ends_with("recommend") { "recommend" } else { "discover" };
    Failure::unsupported(&format!("`{what}`"))
}
