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
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
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
