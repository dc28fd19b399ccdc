//! Keyway's HTTP API, wire-compatible with Unkey's v2 API (`../shared/reference/unkey-v2-api.md`).
//! Handlers are thin: parse and validate the body ([`extract::Call`]), call one `keyway-core`
//! operation, map the result. All error responses come from [`error::ApiError`].

mod error;
mod extract;
mod handlers;
mod request_meta;
mod validate;
mod wire;

use axum::Router;
use keyway_core::Keyway;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The request body cap (reference §1.1).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub type AppState = Arc<Keyway>;

/// The whole API.
pub fn router(keyway: Arc<Keyway>) -> Router {
    handlers::routes().layer(axum::middleware::from_fn(request_meta::scope)).with_state(keyway)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    keyway: Arc<Keyway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(keyway)).with_graceful_shutdown(shutdown).await
}
