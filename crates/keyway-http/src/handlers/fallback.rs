//! Answers for requests no operation takes: an unknown path (404) and a known path with the wrong
//! method (405), in the reference's error shape rather than an empty body.

use crate::error::ApiError;
use axum::http::{Method, Uri};

pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::route_not_found(method.as_str(), uri.path())
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}
