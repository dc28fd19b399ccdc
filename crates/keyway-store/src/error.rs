use std::sync::Arc;
use thiserror::Error;

/// What can go wrong in a storage adapter. Core maps these; none of their text reaches a client.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. a key hash that already exists).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A write referred to a permission (by slug) or role (by name) that does not exist and
    /// may not be created; nothing was written.
    #[error("missing {0:?}")]
    Missing(Missing),
    /// The database could not be reached or failed.
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be decoded (corrupt JSON, impossible values).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// No database connection became free within the pool's acquire timeout: the database is
    /// overloaded, and the request may be retried.
    #[error("no database connection available in time")]
    Unavailable,
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }

    /// This failure once more, for another caller that waited on the same operation: overload
    /// stays `Unavailable` (retryable), anything else is a backend failure that wraps it.
    pub fn shared(e: &Arc<StoreError>) -> Self {
        match **e {
            StoreError::Unavailable => StoreError::Unavailable,
            _ => StoreError::Backend(Box::new(Shared(e.clone()))),
        }
    }
}

/// A failure shared by several callers: its message and causes are the original's.
#[derive(Debug)]
struct Shared(Arc<StoreError>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// What a write referred to that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// A permission slug, as given in the request.
    Permission(String),
    /// A role name, as given in the request.
    Role(String),
}
