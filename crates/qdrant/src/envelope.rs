//! Qdrant's response envelope (`{"result", "status": "ok", "time"}`), its
//! error shape (`{"status": {"error": "..."}, "time"}`) and a JSON body
//! extractor whose rejections use it.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proxima::core::{Error, ErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A successful answer, timed from when the handler started.
pub(crate) struct Answer<T> {
    result: T,
    started: Instant,
}

impl<T> Answer<T> {
    pub(crate) fn new(result: T, started: Instant) -> Self {
        Self { result, started }
    }
}

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let time = self.started.elapsed().as_secs_f64();
        Json(json!({"result": self.result, "status": "ok", "time": time})).into_response()
    }
}

/// An error in Qdrant's shape.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
    /// In cluster mode, the node that writes the collection this write was for.
    writer: Option<String>,
}

impl Failure {
    /// A 400 naming what is wrong or not supported.
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), writer: None }
    }

    /// A 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into(), writer: None }
    }

    /// The message, as the client will see it.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// A 400 for a Qdrant feature ProximaDB does not serve.
    pub(crate) fn unsupported(feature: &str) -> Self {
        Self::bad(format!("Bad request: {feature} is not supported by ProximaDB's Qdrant-compatible API"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidArgument | ErrorKind::Unsupported => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let prefix = match status {
            StatusCode::BAD_REQUEST => "Bad request: ",
            StatusCode::NOT_FOUND => "Not found: ",
            _ => "",
        };
        let writer = e.context(proxima::WRITER_CONTEXT).map(str::to_string);
        Self { status, message: format!("{prefix}{e}"), writer }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"status": {"error": self.message}, "time": 0.0}))).into_response();
        // In a cluster, the server sends the request on to this node.
        if let Some(writer) = self.writer.and_then(|w| HeaderValue::from_str(&w).ok()) {
            response.headers_mut().insert(proxima::WRITER_HEADER, writer);
        }
        response
    }
}

/// What a handler returns.
pub(crate) type Reply<T> = Result<Answer<T>, Failure>;

/// A JSON body; malformed ones are a 400 in Qdrant's shape. An empty body is `{}`.
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| Failure::bad(format!("Bad request: cannot read the body: {e}")))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        serde_json::from_slice(bytes).map(Body).map_err(|e| Failure::bad(format!("Format error in JSON body: {e}")))
    }
}
