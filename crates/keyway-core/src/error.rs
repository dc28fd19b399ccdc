use keyway_domain::credits::CreditsError;
use keyway_domain::root_permissions::Requirement;
use keyway_limits::LedgerError;
use keyway_store::StoreError;
use std::borrow::Cow;
use thiserror::Error;

/// What was not found, for the `type` of a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    Key,
    Api,
    Workspace,
    Identity,
    Namespace,
    Override,
    Permission,
    Role,
    Migration,
}

/// What already exists, for the `type` of a 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Identity,
    Permission,
    Role,
}

/// Every way an operation can fail. `keyway-http` maps each variant to one status and error type.
#[derive(Debug, Error)]
pub enum CoreError {
    /// The request is well-formed but breaks a rule (400 `invalid_input`).
    #[error("{0}")]
    InvalidInput(String),
    /// The root key is unknown (401).
    #[error("{0}")]
    RootKeyNotFound(&'static str),
    /// The root key is disabled (403 `key_disabled`).
    #[error("The provided root key is invalid. The key is disabled.")]
    RootKeyDisabled,
    /// The root key has expired, or an action is refused outright (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// The root key's workspace is disabled (403 `workspace_disabled`).
    #[error("The workspace is disabled.")]
    WorkspaceDisabled,
    /// The root key lacks a permission (403 `insufficient_permissions`).
    #[error("{0}")]
    InsufficientPermissions(Requirement),
    #[error("{detail}")]
    NotFound { what: NotFound, detail: Cow<'static, str> },
    /// The resource exists already (409).
    #[error("{detail}")]
    Conflict { what: Conflict, detail: String },
    /// A verification's permission query does not parse (400 `permissions_query_syntax_error`).
    #[error("{0}")]
    PermissionQuerySyntax(String),
    /// A presented key does not have the shape its migration needs (400 `authentication/malformed`).
    #[error("{0}")]
    MalformedKey(String),
    /// The resource was deleted and cannot be used (410).
    #[error("{0}")]
    Gone(String),
    /// 412 `precondition_failed`.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The database is overloaded: no connection became free in time (503, retryable). Nothing
    /// was written by the operation that failed this way at its start.
    #[error("no database connection available in time")]
    Unavailable,
    /// An analytics query was refused or could not finish (400, 422: the failure names the `type`).
    #[error("{detail}")]
    Analytics { failure: crate::AnalyticsFailure, detail: String },
    /// Storage or an internal component failed; the text goes to logs, not to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn key_not_found() -> Self {
        CoreError::NotFound { what: NotFound::Key, detail: "The specified key was not found.".into() }
    }

    pub fn api_not_found() -> Self {
        CoreError::NotFound {
            what: NotFound::Api,
            detail: "The requested API does not exist or has been deleted.".into(),
        }
    }

    /// createKey's 404 (reference §3.1): the same answer whether the API is missing, deleted, of
    /// another workspace, or the caller may not create keys in it, so that a caller without
    /// permission cannot tell which API ids exist.
    pub fn specified_api_not_found() -> Self {
        CoreError::NotFound { what: NotFound::Api, detail: "The specified API was not found.".into() }
    }
}

/// An error with its whole chain of causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable => CoreError::Unavailable,
            e => CoreError::Internal(chain(&e)),
        }
    }
}

impl From<LedgerError> for CoreError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(e) => e.into(),
            e => CoreError::Internal(chain(&e)),
        }
    }
}

impl From<CreditsError> for CoreError {
    fn from(e: CreditsError) -> Self {
        CoreError::InvalidInput(e.to_string())
    }
}
