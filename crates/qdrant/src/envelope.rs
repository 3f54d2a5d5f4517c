//! Qdrant's response envelope (`{"result", "status": "ok", "time"}`), its
//! error shape (`{"status": {"error": "..."}, "time"}`) and a JSON body
//! extractor whose rejections use it.

use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
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
}

impl Failure {
    /// A 400 naming what is wrong or not supported.
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    /// A 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into() }
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
        Self { status, message: format!("{prefix}{e}") }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"status": {"error": self.message}, "time": 0.0}))).into_response()
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
