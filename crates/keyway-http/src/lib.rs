//! Keyway's HTTP API, wire-compatible with Unkey's v2 API (`../shared/reference/unkey-v2-api.md`).
//! Handlers are thin: parse and validate the body ([`extract::Call`]), call one `keyway-core`
//! operation, map the result. All error responses come from [`error::ApiError`].

mod client_addr;
mod error;
mod extract;
mod handlers;
mod request_meta;
mod validate;
mod wire;

use axum::Router;
use keyway_core::Keyway;
use keyway_domain::ip_allowlist::IpRanges;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The request body cap (reference §1.1).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub type AppState = Arc<Keyway>;

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Peers whose `X-Forwarded-For` is believed (see `client_addr`); none by default.
    pub trusted_proxies: IpRanges,
}

/// The whole API.
pub fn router(keyway: Arc<Keyway>, config: &HttpConfig) -> Router {
    let trusted = Arc::new(config.trusted_proxies.clone());
    handlers::routes()
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            client_addr::scope(trusted.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(request_meta::scope))
        .with_state(keyway)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    keyway: Arc<Keyway>,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Connection info carries the peer address that the IP allowlist is checked against.
    let app = router(keyway, config).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
