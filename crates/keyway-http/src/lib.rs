//! Keyway's HTTP API, wire-compatible with Unkey's v2 API (`../shared/reference/unkey-v2-api.md`).
//! Handlers are thin: parse and validate the body ([`extract::Call`]), call one `keyway-core`
//! operation, map the result. All error responses come from [`error::ApiError`].

mod client_addr;
mod error;
mod extract;
mod handlers;
mod metrics_header;
mod request_meta;
mod server;
mod validate;
mod wire;

use axum::{Extension, Router};
use keyway_core::Keyway;
use keyway_domain::ip_allowlist::IpRanges;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use server::ConnectionLimits;
/// The audit event as `auditLogs.list` answers it, which `keyway audit` prints too.
pub use wire::audit::AuditLogData;

/// The request body cap (reference §1.1).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub type AppState = Arc<Keyway>;

/// Settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Peers whose `X-Forwarded-For` is believed (see `client_addr`); none by default.
    pub trusted_proxies: IpRanges,
    /// Timeouts and the connection cap.
    pub connections: ConnectionLimits,
}

/// The whole API.
pub fn router(keyway: Arc<Keyway>, config: &HttpConfig) -> Router {
    let trusted = Arc::new(config.trusted_proxies.clone());
    handlers::routes()
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            client_addr::scope(trusted.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(request_meta::scope))
        .layer(Extension(extract::BodyTimeout(config.connections.body_timeout)))
        .with_state(keyway)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    keyway: Arc<Keyway>,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::run(listener, router(keyway, config), &config.connections, shutdown).await
}
