//! Optional API keys with roles. With keys configured, every route but
//! `/healthz` needs `Authorization: Bearer <key>` (or `x-api-key: <key>`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ApiError;

/// What a key may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read collections, get vectors, search, estimate, metrics.
    Read,
    /// Also upsert and delete vectors, flush, compact.
    Write,
    /// Also create and drop collections.
    Admin,
}

/// A key and its role.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKey {
    /// The secret.
    pub key: String,
    /// What it may do.
    pub role: Role,
}

/// The configured keys; empty means no authentication.
#[derive(Debug, Clone, Default)]
pub struct Keys(Arc<Vec<ApiKey>>);

impl Keys {
    /// Keys from a list.
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self(Arc::new(keys))
    }

    /// Parses `key:role,key:role` (the `PROXIMADB_API_KEYS` format).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, role) = item.rsplit_once(':').ok_or_else(|| format!("API key entry `{item}` is not key:role"))?;
            let role = match role {
                "read" => Role::Read,
                "write" => Role::Write,
                "admin" => Role::Admin,
                other => return Err(format!("unknown role `{other}`; use read, write or admin")),
            };
            if key.len() < 16 {
                return Err("API keys must be at least 16 characters".to_string());
            }
            keys.push(ApiKey { key: key.to_string(), role });
        }
        Ok(Self::new(keys))
    }

    /// Whether authentication is on.
    pub fn enabled(&self) -> bool {
        !self.0.is_empty()
    }

    /// The role of `presented`, comparing against every key in constant time.
    fn role_of(&self, presented: &[u8]) -> Option<Role> {
        let mut found = None;
        for k in self.0.iter() {
            if constant_time_eq(k.key.as_bytes(), presented) {
                found = Some(k.role);
            }
        }
        found
    }
}

/// Equality whose running time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// The role a request needs.
fn required_role(method: &Method, path: &str) -> Role {
    // Creating and dropping collections, and restoring snapshots (which can replace one), are admin work.
    // The Qdrant-compatible routes (`/collections/...`) follow the same rules.
    let qdrant = path.strip_prefix("/collections");
    let collection_level =
        path.strip_prefix("/v1/collections").or(qdrant).is_some_and(|rest| rest.matches('/').count() <= 1)
            || qdrant.is_some_and(|rest| rest.ends_with("/index"))
            || path.ends_with("/restore")
            || path.ends_with("/move")
            || path
                .strip_prefix("/v1/collections")
                .is_some_and(|rest| rest.matches('/').count() == 2 && rest.ends_with("/fields"))
            || path == "/v1/rebalance"
            || path == "/v1/cache";
    let reading = *method == Method::GET
        || path.ends_with("/search")
        || path.ends_with("/search/batch")
        || path.ends_with("/query")
        || path.ends_with("/query-estimate")
        || qdrant.is_some_and(|rest| {
            ["/points", "/points/scroll", "/points/count", "/search/batch", "/query/batch"]
                .iter()
                .any(|end| rest.ends_with(end))
                && *method == Method::POST
        });
    match () {
        _ if reading => Role::Read,
        _ if collection_level => Role::Admin,
        _ => Role::Write,
    }
}

/// The middleware: 401 without a known key, 403 when its role is too low.
pub(crate) async fn require_key(State(keys): State<Keys>, request: Request, next: Next) -> Response {
    if !keys.enabled() || request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let headers = request.headers();
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        // Qdrant's clients send their key as `api-key`.
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()));
    let Some(role) = presented.and_then(|p| keys.role_of(p.as_bytes())) else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "Unauthenticated", "a valid API key is required")
            .into_response();
    };
    let needed = required_role(request.method(), request.uri().path());
    if role < needed {
        let message = format!("this key's role ({role:?}) cannot do this; it needs {needed:?}");
        return ApiError::new(StatusCode::FORBIDDEN, "PermissionDenied", message).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_route_and_key_parsing() {
        assert_eq!(required_role(&Method::GET, "/v1/collections"), Role::Read);
        assert_eq!(required_role(&Method::PUT, "/collections/docs"), Role::Admin);
        assert_eq!(required_role(&Method::PUT, "/collections/docs/index"), Role::Admin);
        assert_eq!(required_role(&Method::PUT, "/collections/docs/points"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/collections/docs/points"), Role::Read);
        assert_eq!(required_role(&Method::POST, "/collections/docs/points/scroll"), Role::Read);
        assert_eq!(required_role(&Method::POST, "/collections/docs/points/delete"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/search"), Role::Read);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/search/batch"), Role::Read);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/vectors"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/v1/collections"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/fields"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/v1/collections/docs/vectors/fields"), Role::Write);
        assert_eq!(required_role(&Method::DELETE, "/v1/collections/docs"), Role::Admin);
        assert_eq!(required_role(&Method::DELETE, "/v1/collections/docs/vectors/a"), Role::Write);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/snapshots/s1/restore"), Role::Admin);
        assert_eq!(required_role(&Method::POST, "/v1/collections/docs/batch-execute"), Role::Write);
        assert_eq!(required_role(&Method::GET, "/v1/analytics"), Role::Read);
        assert_eq!(required_role(&Method::GET, "/v1/cache"), Role::Read);
        assert_eq!(required_role(&Method::DELETE, "/v1/cache"), Role::Admin);
        let keys = Keys::parse("reader-key-0123456789:read, admin-key-0123456789:admin").unwrap();
        assert_eq!(keys.role_of(b"admin-key-0123456789"), Some(Role::Admin));
        assert_eq!(keys.role_of(b"admin-key-012345678"), None);
        assert!(Keys::parse("short:read").is_err());
        assert!(Keys::parse("reader-key-0123456789:root").is_err());
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc")
        );
    }
}
