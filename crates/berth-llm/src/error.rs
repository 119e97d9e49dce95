//! Model errors, classified by what the caller should do about them.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// 529 or an `overloaded_error`: retry later.
    Overloaded,
    /// 429: retry after the indicated delay.
    RateLimited,
    /// 5xx: retry.
    Server,
    /// No response or a stalled stream: retry.
    Timeout,
    /// The connection failed: retry.
    Connection,
    /// 401/403: the credentials are wrong; retrying will not help.
    Authentication,
    /// 402 or a billing error.
    Billing,
    /// 400/404/422: the request itself is wrong.
    InvalidRequest,
    /// The provider answered something this client cannot parse.
    Protocol,
    /// The request was cancelled by us.
    Cancelled,
}

/// A failed model request. `message` carries the provider's own explanation and never a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ModelError {
    pub kind: ModelErrorKind,
    pub status: Option<u16>,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ModelError {
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ModelErrorKind::Overloaded
                | ModelErrorKind::RateLimited
                | ModelErrorKind::Server
                | ModelErrorKind::Timeout
                | ModelErrorKind::Connection
        )
    }

    /// The contract's `session.error` type for this failure.
    pub fn session_error_type(&self) -> &'static str {
        match self.kind {
            ModelErrorKind::Overloaded => "model_overloaded_error",
            ModelErrorKind::RateLimited => "model_rate_limited_error",
            ModelErrorKind::Billing => "billing_error",
            ModelErrorKind::Cancelled => "unknown_error",
            _ => "model_request_failed_error",
        }
    }

    /// Classifies an HTTP error status.
    pub fn from_status(status: u16, message: String, retry_after: Option<Duration>) -> Self {
        let kind = match status {
            401 | 403 => ModelErrorKind::Authentication,
            402 => ModelErrorKind::Billing,
            408 => ModelErrorKind::Timeout,
            429 => ModelErrorKind::RateLimited,
            529 => ModelErrorKind::Overloaded,
            500..=599 => ModelErrorKind::Server,
            _ => ModelErrorKind::InvalidRequest,
        };
        Self {
            kind,
            status: Some(status),
            message,
            retry_after,
        }
    }
}
