#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
mod extract;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use proxima::Proxima;

pub use error::ApiError;

/// Largest request body accepted (a batch of ~5,000 768-d vectors as JSON).
pub const DEFAULT_BODY_LIMIT: usize = 64 << 20;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Arc<Proxima>,
}

/// The API's routes over `db`, with a body limit of `body_limit` bytes.
pub fn router(db: Arc<Proxima>, body_limit: usize) -> Router {
    routes::all().layer(DefaultBodyLimit::max(body_limit)).with_state(AppState { db })
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish and flushes every collection, so a restart replays little.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Arc<Proxima>,
    body_limit: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "proximadb listening");
    axum::serve(listener, router(db.clone(), body_limit)).with_graceful_shutdown(shutdown).await?;
    tracing::info!("stopped accepting; flushing collections");
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
