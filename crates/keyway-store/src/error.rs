use thiserror::Error;

/// What can go wrong in a storage adapter. Core maps these; none of their text reaches a client.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. a key hash that already exists).
    #[error("conflict: {0}")]
    Conflict(String),
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
