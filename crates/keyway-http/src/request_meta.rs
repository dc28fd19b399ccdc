//! Per-request facts that every response needs (its request id, and whether the client accepts
//! `application/problem+json` errors), available to error rendering without threading them through.

use axum::extract::Request;
use axum::http::header::ACCEPT;
use axum::middleware::Next;
use axum::response::Response;
use keyway_domain::ids::{IdKind, new_id};

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    /// Errors use `application/problem+json` only when the client asks for it (reference §1.3).
    pub problem_json: bool,
}

tokio::task_local! {
    static META: RequestMeta;
}

pub async fn scope(request: Request, next: Next) -> Response {
    let problem_json = request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/problem+json") || v.contains("application/*") || v.contains("*/*"));
    let meta = RequestMeta { request_id: new_id(IdKind::Request), problem_json };
    META.scope(meta, next.run(request)).await
}

/// The current request's meta; outside a request (never in practice) a fresh id.
pub fn current() -> RequestMeta {
    META.try_with(Clone::clone)
        .unwrap_or_else(|_| RequestMeta { request_id: new_id(IdKind::Request), problem_json: false })
}
