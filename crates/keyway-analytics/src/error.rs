//! The sandbox's rejections. Each one names the Unkey error `type` the endpoint answers with, so the
//! HTTP layer maps them without knowing why a query was refused.

/// Every rejection is a 400 in Unkey's `BadRequestErrorDetails` shape; [`ErrorKind`] picks the `type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SandboxError {
    pub kind: ErrorKind,
    /// Public text for the error's `detail`: safe to show to the caller.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Syntax errors, size limits, unsupported syntax, `SETTINGS`, `IN <table>`, placeholders.
    InvalidQuery,
    /// A statement other than `SELECT`.
    InvalidQueryType,
    /// A table outside the endpoint's public tables, a table function, a CTE shadowing a public table.
    InvalidTable,
    /// A function outside the allow-list.
    InvalidFunction,
    /// A literal time bound older than the table's retention.
    RangeExceedsRetention,
    /// Valid ClickHouse that the chosen backend cannot run (e.g. `quantile` on SQLite).
    /// Answered as `invalid_analytics_query`: Unkey has no slug for it.
    UnsupportedOnBackend,
}

impl ErrorKind {
    /// The last segment of the `type` URL.
    pub fn slug(self) -> &'static str {
        match self {
            ErrorKind::InvalidQuery | ErrorKind::UnsupportedOnBackend => "invalid_analytics_query",
            ErrorKind::InvalidQueryType => "invalid_analytics_query_type",
            ErrorKind::InvalidTable => "invalid_analytics_table",
            ErrorKind::InvalidFunction => "invalid_analytics_function",
            ErrorKind::RangeExceedsRetention => "query_range_exceeds_retention",
        }
    }

    /// The full `type` URL of Unkey's error catalogue.
    pub fn type_url(self) -> String {
        format!("https://unkey.com/docs/errors/user/bad_request/{}", self.slug())
    }

    /// Every sandbox rejection is a client error of the same status.
    pub fn status(self) -> u16 {
        400
    }
}

impl SandboxError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SandboxError { kind, message: message.into() }
    }

    pub(crate) fn query(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidQuery, message)
    }

    pub(crate) fn table(name: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidTable, format!("Access to table '{name}' is not allowed"))
    }

    pub(crate) fn function(name: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidFunction, format!("Function '{name}' is not allowed"))
    }

    pub(crate) fn unsupported(what: impl std::fmt::Display, backend: crate::Backend) -> Self {
        Self::new(
            ErrorKind::UnsupportedOnBackend,
            format!("{what} is not supported on Keyway's {backend} analytics backend"),
        )
    }
}
