#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod auth;
mod error;
mod extract;
mod forward;
mod metrics;
mod openapi;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use proxima::Proxima;

pub use auth::{ApiKey, Keys, Role};
pub use error::ApiError;
pub use forward::{FORWARDED_HEADER, WRITER_HEADER};
pub use metrics::Metrics;

/// Largest request body accepted (a batch of ~5,000 768-d vectors as JSON).
pub const DEFAULT_BODY_LIMIT: usize = 64 << 20;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Arc<Proxima>,
}

/// How the server guards and limits requests.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// API keys; none means no authentication.
    pub keys: Keys,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { body_limit: DEFAULT_BODY_LIMIT, keys: Keys::default() }
    }
}

/// The API's routes over `db`, with metrics, authentication and a body limit.
pub fn router(db: Arc<Proxima>, options: ServerOptions) -> Router {
    let metrics = Metrics::default();
    let (exposition, cache_of) = (metrics.clone(), db.clone());
    let render = move || {
        let (exposition, db) = (exposition.clone(), cache_of.clone());
        async move {
            let mut text = exposition.render();
            text.push_str(&metrics::render_cache(&db.cache_report().await));
            text.push_str(&metrics::render_strategies(&db.query_summaries()));
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
        }
    };
    let (routes, document) = routes::all();
    let document = Arc::new(document);
    let lease = db.cluster_lease();
    let router = routes
        .with_state(AppState { db: db.clone() })
        .merge(proxima_qdrant::router(db))
        .route("/metrics", get(render))
        .route("/openapi.json", get(move || async move { axum::Json(document.as_ref().clone()) }));
    // Inside authentication: only a request this node accepts is sent on.
    let router = match lease {
        Some(lease) => {
            router.layer(from_fn_with_state(forward::Forwarding::new(options.body_limit, lease), forward::to_writer))
        }
        None => router,
    };
    router
        .layer(from_fn_with_state(metrics, metrics::record))
        .layer(from_fn_with_state(options.keys, auth::require_key))
        .layer(DefaultBodyLimit::max(options.body_limit))
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish and flushes every collection, so a restart replays little.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Arc<Proxima>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, authentication = options.keys.enabled(), "proximadb listening");
    axum::serve(listener, router(db.clone(), options)).with_graceful_shutdown(shutdown).await?;
    tracing::info!("stopped accepting; flushing collections");
    if let Err(e) = db.shutdown().await {
        tracing::warn!(error = %e, "the cache did not shut down cleanly; it holds nothing that must be kept");
    }
    if let Err(e) = db.flush_all().await {
        tracing::warn!(error = %e, "flush at shutdown failed; the write-ahead logs still hold every acknowledged write");
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
