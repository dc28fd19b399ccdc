//! The one extractor of every authenticated endpoint: the body is read, deserialized and validated
//! first (a bad request is a 400 before its credentials are looked at, as in the reference §1.1),
//! then the root key is authenticated.

use crate::AppState;
use crate::error::{ApiError, Violation};
use crate::request_meta;
use crate::validate::{Validate, Violations, schema_location};
use crate::{ConnectionLimits, MAX_BODY_BYTES};
use axum::extract::{FromRequest, Request};
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use keyway_core::Ctx;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long a request may take to deliver its body (set by the router from its configuration).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// An authenticated call with a validated body.
pub struct Call<T> {
    pub ctx: Ctx,
    pub body: T,
}

impl<T> FromRequest<AppState> for Call<T>
where
    T: DeserializeOwned + Validate + Send,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let path = request.uri().path().to_string();
        if let Some(content_type) = request.headers().get(CONTENT_TYPE).filter(|v| !is_json(v)) {
            return Err(ApiError::unsupported_content_type(&path, &String::from_utf8_lossy(content_type.as_bytes())));
        }
        let authorization = request.headers().get(AUTHORIZATION).cloned();
        let timeout =
            request.extensions().get::<BodyTimeout>().map_or(ConnectionLimits::default().body_timeout, |t| t.0);
        // A body that stalls, or never reaches its Content-Length, must not hold the request
        // (and its connection) forever: 408, after which the connection is closed.
        let bytes = tokio::time::timeout(timeout, axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES))
            .await
            .map_err(|_| ApiError::request_timeout(timeout))?
            .map_err(|_| ApiError::body_too_large(MAX_BODY_BYTES))?;
        let body = parse_body::<T>(&path, &bytes)?;
        let token = bearer_token(authorization.as_ref().map(|v| v.to_str().unwrap_or("")))?;
        let principal = state.authenticate(token).await?;
        Ok(Call { ctx: Ctx { principal, request_id: request_meta::current().request_id }, body })
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case. A request
/// without a `Content-Type` is read as JSON too: the body is the same either way, and clients such
/// as scripts often leave the header out.
fn is_json(content_type: &HeaderValue) -> bool {
    let essence = content_type.to_str().unwrap_or("").split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Deserializes and validates a JSON body, naming every problem.
pub fn parse_body<T: DeserializeOwned + Validate>(path: &str, bytes: &[u8]) -> Result<T, ApiError> {
    // PostgreSQL cannot store NUL in text, and no field has a use for it: refuse it up front
    // rather than fail half-way through a write.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        let violation = Violation {
            message: "strings must not contain the NUL character (\\u0000)".into(),
            location: String::new(),
        };
        return Err(ApiError::invalid_body(path, vec![violation]));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let body: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        let message = e.inner().to_string();
        let violation = if let Some(rest) = message.strip_prefix("unknown field ") {
            let name = rest.split(',').next().unwrap_or(rest);
            Violation {
                message: format!("additionalProperties {name} not allowed"),
                location: format!("{}/additionalProperties", schema_location(parent(&field))),
            }
        } else if let Some(rest) = message.strip_prefix("missing field ") {
            let name = rest.split(' ').next().unwrap_or(rest);
            Violation {
                message: format!("missing properties: {}", name.replace('`', "'")),
                location: format!("{}/required", schema_location(&field)),
            }
        } else {
            Violation { message, location: format!("{}/type", schema_location(&field)) }
        };
        ApiError::invalid_body(path, vec![violation])
    })?;
    let mut violations = Violations::default();
    body.validate(&mut violations);
    if violations.0.is_empty() { Ok(body) } else { Err(ApiError::invalid_body(path, violations.0)) }
}

/// serde_path_to_error reports an unknown field at the path of the field itself.
fn parent(field: &str) -> &str {
    field.rsplit_once('.').map_or("", |(p, _)| p)
}

/// `Authorization: Bearer <token>`, trimmed (reference §1.2).
fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let Some(value) = header else {
        return Err(ApiError::missing_authorization());
    };
    let Some(token) = value.trim().strip_prefix("Bearer ") else {
        return Err(ApiError::malformed_authorization(
            "You must provide a valid root key in the Authorization header in the format 'Bearer ROOT_KEY'. Your authorization header is missing the 'Bearer ' prefix.",
        ));
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::malformed_authorization(
            "You must provide a valid root key in the Authorization header in the format 'Bearer ROOT_KEY'.",
        ));
    }
    Ok(token)
}
