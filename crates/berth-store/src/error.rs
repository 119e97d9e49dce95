//! The one error type every storage call returns.

/// What went wrong in the storage layer, phrased as what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint failed: the caller asked for something that already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is shutting down; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data is not what this version of Berth expects (a bug or a bad migration).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
