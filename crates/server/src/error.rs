//! Errors as HTTP: `{"error": {"code": ..., "message": ...}}` with a status that fits.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proxima::core::{Error, ErrorKind};
use serde_json::json;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// In cluster mode, the node that writes the collection this write was for.
    writer: Option<String>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), writer: None }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let writer = e.context(proxima::WRITER_CONTEXT).map(str::to_string);
        // A write for another node's collection is forwarded, not failed.
        if status.is_server_error() && writer.is_none() {
            tracing::error!(error = %e, "request failed");
        }
        Self { status, code: e.kind().as_str(), message: e.to_string(), writer }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(writer) = self.writer.and_then(|w| HeaderValue::from_str(&w).ok()) {
            response.headers_mut().insert(proxima::WRITER_HEADER, writer);
        }
        response
    }
}
