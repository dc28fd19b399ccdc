//! `X-Unkey-Metrics: disabled`: the caller asks that its request leave no analytics event. Unkey
//! honours it on `ratelimit.limit` only (reference §5.3 step 1, §8.2), and so does Keyway.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

const HEADER: &str = "x-unkey-metrics";

/// Whether the request allows its analytics events.
#[derive(Debug, Clone, Copy)]
pub struct Metrics(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Metrics {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let disabled = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("disabled"));
        Ok(Metrics(!disabled))
    }
}
