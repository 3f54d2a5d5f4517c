//! `GET /v1/cluster`: this node, its writer leases, every collection's lease,
//! and every live node with where it is in each collection.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use proxima::core::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::{ApiError, AppState};

/// How long another node gets to say where it is.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize)]
pub(super) struct Params {
    /// This node only: no other node is asked (how nodes ask each other).
    #[serde(default)]
    local: bool,
}

/// This node's view of the cluster; 404 on a node that runs alone. Each
/// live node in `nodes` carries its `positions`, asked of it (or an
/// `error` saying why it did not answer).
pub(super) async fn status(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let Some(status) = state.db.cluster_status().await? else {
        return Err(Error::not_found("this node runs alone: its config has no [cluster] section").into());
    };
    let mut answer = serde_json::to_value(&status).map_err(|e| Error::internal(format!("status to JSON: {e}")))?;
    if params.local {
        return Ok(Json(answer));
    }
    let now_ms = proxima::meta::now_millis();
    let credentials: Vec<(String, String)> = ["authorization", "x-api-key"]
        .iter()
        .filter_map(|name| Some((name.to_string(), headers.get(*name)?.to_str().ok()?.to_string())))
        .collect();
    let own_positions = answer["positions"].clone();
    if let Some(nodes) = answer["nodes"].as_array_mut() {
        for node in nodes {
            let live = node["expires_at_ms"].as_i64().is_some_and(|expiry| expiry > now_ms);
            let address = node["address"].as_str().unwrap_or_default().to_string();
            if !live {
                node["error"] = Value::from("its lease lapsed: the node is gone");
            } else if address == status.node.advertise {
                node["positions"] = own_positions.clone();
            } else {
                match ask(&address, &credentials).await {
                    Ok(positions) => node["positions"] = positions,
                    Err(why) => node["error"] = Value::from(why),
                }
            }
        }
    }
    Ok(Json(answer))
}

/// The positions the node at `address` reports.
async fn ask(address: &str, credentials: &[(String, String)]) -> Result<Value, String> {
    let host_port = address.strip_prefix("http://").unwrap_or(address).to_string();
    let credentials = credentials.to_vec();
    let asked = tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = credentials.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        proxima_client::request_within(&host_port, "GET", "/v1/cluster?local=true", &headers, None, ASK_TIMEOUT)
    })
    .await
    .map_err(|e| e.to_string())?;
    match asked {
        Ok(r) if r.status == 200 => Ok(r.json()["positions"].clone()),
        Ok(r) => Err(format!("it answered {}: {}", r.status, r.body)),
        Err(e) => Err(format!("it did not answer: {e}")),
    }
}
