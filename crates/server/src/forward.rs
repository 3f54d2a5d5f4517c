//! Cluster mode: a write that reaches a node other than its collection's
//! writer is sent on to the writer, and the client gets the writer's answer.
//!
//! The database refuses such a write naming the writer
//! ([`proxima::WRITER_CONTEXT`]); the error becomes a response carrying the
//! writer's address in [`WRITER_HEADER`], and this layer replays the
//! request, body and all, at that address. A forwarded request is marked
//! ([`FORWARDED_HEADER`]) and never forwarded again, so two nodes that
//! disagree about the writer answer 503 instead of passing it around.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

pub use proxima::WRITER_HEADER;
/// The header marking a request one node sent another.
pub const FORWARDED_HEADER: &str = "x-proxima-forwarded";

/// How long forwarded requests may take, and the largest body forwarded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forwarding {
    pub(crate) body_limit: usize,
    /// Three leases (ten seconds at least): a writer that stopped answering
    /// has lost its lease by then, and the client's retry finds the next one.
    pub(crate) timeout: Duration,
}

impl Forwarding {
    pub(crate) fn new(body_limit: usize, lease: Duration) -> Self {
        Self { body_limit, timeout: (lease * 3).max(Duration::from_secs(10)) }
    }
}

/// Sends a request the database refused for want of the writer lease to the writer.
pub(crate) async fn to_writer(State(forwarding): State<Forwarding>, request: Request, next: Next) -> Response {
    let Forwarding { body_limit, timeout } = forwarding;
    if request.headers().contains_key(FORWARDED_HEADER) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, body_limit).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = format!("request body over {body_limit} bytes or unreadable: {e}");
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message).into_response();
        }
    };
    let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let Some(writer) = response.headers().get(WRITER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return response;
    };
    let address = writer.strip_prefix("http://").unwrap_or(&writer).to_string();
    let path = uri.path_and_query().map_or(uri.path().to_string(), |p| p.to_string());
    let passed: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| ![header::HOST, header::CONTENT_LENGTH, header::CONNECTION].contains(name))
        .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let sent = tokio::task::spawn_blocking(move || {
        let mut headers: Vec<(&str, &str)> = passed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        headers.push((FORWARDED_HEADER, "1"));
        let body = (!bytes.is_empty()).then_some(&bytes[..]);
        proxima_client::request_within(&address, method.as_str(), &path, &headers, body, timeout)
    })
    .await;
    match sent {
        Ok(Ok(answer)) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = (status, answer.body).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Ok(Err(e)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the collection's writer at {writer} did not answer ({e}); retry: another node takes over once its lease lapses"),
        )
        .into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("forwarding failed: {e}"))
            .into_response(),
    }
}
