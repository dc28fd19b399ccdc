//! The one mapping from failures to HTTP responses, in the reference's error shape (§1.3, §1.5).

use crate::request_meta;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use keyway_analytics::ErrorKind;
use keyway_core::{AnalyticsFailure, Conflict, CoreError, NotFound};
use serde::Serialize;

const TYPE_BASE: &str = "https://unkey.com/docs/errors/";

/// One schema violation of a request (`errors[]` of a 400).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub message: String,
    pub location: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    type_suffix: &'static str,
    detail: String,
    /// `Some` for 400-shaped errors, which always carry `errors` (possibly empty).
    errors: Option<Vec<Violation>>,
    /// Schema-validation 400s are always `application/json`.
    negotiate: bool,
}

impl ApiError {
    fn new(status: StatusCode, title: &'static str, type_suffix: &'static str, detail: impl Into<String>) -> Self {
        let errors = matches!(status.as_u16(), 400 | 408 | 413 | 499).then(Vec::new);
        ApiError { status, title, type_suffix, detail: detail.into(), errors, negotiate: true }
    }

    /// A request that does not fit the schema.
    pub fn invalid_body(path: &str, errors: Vec<Violation>) -> Self {
        ApiError {
            errors: Some(errors),
            negotiate: false,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "unkey/application/invalid_input",
                format!("POST request body for '{path}' failed to validate schema"),
            )
        }
    }

    pub fn missing_authorization() -> Self {
        ApiError {
            errors: Some(vec![Violation {
                message: "Authorization header for 'bearer' scheme".into(),
                location: "security".into(),
            }]),
            negotiate: false,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "unkey/application/invalid_input",
                "Authorization header for 'bearer' scheme",
            )
        }
    }

    pub fn malformed_authorization(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad Request", "unkey/authentication/malformed", detail)
    }

    /// A body declared as something other than JSON (reference §1.4: the OpenAPI validator
    /// refuses a content type the operation does not list; every operation lists only JSON).
    pub fn unsupported_content_type(path: &str, content_type: &str) -> Self {
        let message = format!("POST operation request content type '{content_type}' does not exist");
        ApiError {
            errors: Some(vec![Violation { message: message.clone(), location: "request/content-type".into() }]),
            negotiate: false,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "unkey/application/invalid_input",
                format!("{message}: send the body of '{path}' as application/json"),
            )
        }
    }

    /// No route has this path. Unkey answers with a plain-text 404; Keyway keeps its error shape
    /// so that every answer a client can get is one the SDKs can parse.
    pub fn route_not_found(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            "user/bad_request/route_not_found",
            format!(
                "There is no route {method} {path}. Every operation is POST /v2/<operation>, e.g. POST /v2/keys.verifyKey."
            ),
        )
    }

    /// The path exists for another method (the `Allow` header names it).
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            "user/bad_request/method_not_allowed",
            format!("{path} does not accept {method}; the Allow header lists the methods it accepts."),
        )
    }

    /// The body did not arrive in time (reference §1.1: 408 in the 400 shape).
    pub fn request_timeout(timeout: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "Request Timeout",
            "user/bad_request/request_timeout",
            format!("The request body was not received within {} ms.", timeout.as_millis()),
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            "user/bad_request/request_body_too_large",
            format!("The request body exceeds the maximum allowed size of {limit} bytes."),
        )
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::InvalidInput(d) => {
                Self::new(S::BAD_REQUEST, "Bad Request", "unkey/application/invalid_input", d)
            }
            CoreError::RootKeyNotFound(d) => {
                Self::new(S::UNAUTHORIZED, "Unauthorized", "unkey/authentication/key_not_found", d)
            }
            e @ CoreError::RootKeyDisabled => {
                Self::new(S::FORBIDDEN, "Key is disabled", "unkey/authorization/key_disabled", e.to_string())
            }
            CoreError::Forbidden(d) => Self::new(S::FORBIDDEN, "Forbidden", "unkey/authorization/forbidden", d),
            e @ CoreError::WorkspaceDisabled => Self::new(
                S::FORBIDDEN,
                "Workspace is disabled",
                "unkey/authorization/workspace_disabled",
                e.to_string(),
            ),
            CoreError::InsufficientPermissions(r) => Self::new(
                S::FORBIDDEN,
                "Insufficient Permissions",
                "unkey/authorization/insufficient_permissions",
                r.to_string(),
            ),
            CoreError::NotFound { what, detail } => {
                let suffix = match what {
                    NotFound::Key => "unkey/data/key_not_found",
                    NotFound::Api => "unkey/data/api_not_found",
                    NotFound::Workspace => "unkey/data/workspace_not_found",
                    NotFound::Identity => "unkey/data/identity_not_found",
                    NotFound::Namespace => "unkey/data/ratelimit_namespace_not_found",
                    NotFound::Override => "unkey/data/ratelimit_override_not_found",
                    NotFound::Permission => "unkey/data/permission_not_found",
                    NotFound::Role => "unkey/data/role_not_found",
                    NotFound::Migration => "unkey/data/migration_not_found",
                };
                Self::new(S::NOT_FOUND, "Not Found", suffix, detail)
            }
            CoreError::Conflict { what, detail } => {
                let suffix = match what {
                    Conflict::Identity => "unkey/data/identity_already_exists",
                    Conflict::Permission => "unkey/data/permission_already_exists",
                    Conflict::Role => "unkey/data/role_already_exists",
                };
                Self::new(S::CONFLICT, "Conflicting Resource", suffix, detail)
            }
            CoreError::PermissionQuerySyntax(d) => {
                Self::new(S::BAD_REQUEST, "Bad Request", "user/bad_request/permissions_query_syntax_error", d)
            }
            CoreError::MalformedKey(d) => Self::new(S::BAD_REQUEST, "Bad Request", "unkey/authentication/malformed", d),
            CoreError::Gone(d) => Self::new(S::GONE, "Resource Gone", "unkey/data/ratelimit_namespace_gone", d),
            CoreError::PreconditionFailed(d) => {
                Self::new(S::PRECONDITION_FAILED, "Precondition Failed", "unkey/application/precondition_failed", d)
            }
            // Unkey's catalogue has `service_unavailable` (which it answers as a 500); Keyway
            // answers it as a 503 so that clients and proxies see an overload, not a bug. Both are
            // retried by the SDKs.
            CoreError::Unavailable => {
                tracing::warn!("no database connection within the acquire timeout: answering 503");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "unkey/application/service_unavailable",
                    "The service is overloaded. Please retry shortly.",
                )
            }
            CoreError::Analytics { failure, detail } => match failure {
                AnalyticsFailure::Refused(kind) => Self::new(S::BAD_REQUEST, "Bad Request", refused_type(kind), detail),
                AnalyticsFailure::Timeout => Self::new(
                    S::UNPROCESSABLE_ENTITY,
                    "Unprocessable Entity",
                    "user/unprocessable_entity/query_execution_timeout",
                    detail,
                ),
                AnalyticsFailure::TooLarge => Self::new(
                    S::UNPROCESSABLE_ENTITY,
                    "Unprocessable Entity",
                    "user/unprocessable_entity/query_memory_limit_exceeded",
                    detail,
                ),
            },
            CoreError::Internal(d) => {
                tracing::error!(error = %d, "internal error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "unkey/application/unexpected_error",
                    "An unexpected error occurred. Please try again later.",
                )
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    title: &'a str,
    detail: &'a str,
    status: u16,
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [Violation]>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    meta: Meta,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
pub struct Meta {
    #[serde(rename = "requestId")]
    pub request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let meta = request_meta::current();
        let body = Envelope {
            meta: Meta { request_id: meta.request_id },
            error: ErrorBody {
                title: self.title,
                detail: &self.detail,
                status: self.status.as_u16(),
                kind: format!("{TYPE_BASE}{}", self.type_suffix),
                errors: self.errors.as_deref(),
            },
        };
        let content_type =
            if self.negotiate && meta.problem_json { "application/problem+json" } else { "application/json" };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (self.status, [(CONTENT_TYPE, content_type)], json).into_response()
    }
}

/// The `type` of an analytics query the sandbox refused.
fn refused_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidQuery | ErrorKind::UnsupportedOnBackend => "user/bad_request/invalid_analytics_query",
        ErrorKind::InvalidQueryType => "user/bad_request/invalid_analytics_query_type",
        ErrorKind::InvalidTable => "user/bad_request/invalid_analytics_table",
        ErrorKind::InvalidFunction => "user/bad_request/invalid_analytics_function",
        ErrorKind::RangeExceedsRetention => "user/bad_request/query_range_exceeds_retention",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_limits::LedgerError;
    use keyway_store::StoreError;

    /// A pool that gave no connection in time is a retryable 503 in the reference's shape, whether
    /// a read or a credit spend ran into it; any other storage failure stays a 500.
    #[test]
    fn overload_is_503_service_unavailable() {
        let from_store = ApiError::from(CoreError::from(StoreError::Unavailable));
        let from_ledger = ApiError::from(CoreError::from(LedgerError::Store(StoreError::Unavailable)));
        for e in [from_store, from_ledger] {
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(e.type_suffix, "unkey/application/service_unavailable");
            assert_eq!(e.title, "Service Unavailable");
            assert!(e.errors.is_none());
        }
        let failed = ApiError::from(CoreError::from(StoreError::Corrupt("x".into())));
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn analytics_refusals_answer_the_sandbox_type() {
        use keyway_analytics::ErrorKind as K;
        for kind in [
            K::InvalidQuery,
            K::InvalidQueryType,
            K::InvalidTable,
            K::InvalidFunction,
            K::RangeExceedsRetention,
            K::UnsupportedOnBackend,
        ] {
            assert_eq!(format!("https://unkey.com/docs/errors/{}", super::refused_type(kind)), kind.type_url());
        }
    }
}
