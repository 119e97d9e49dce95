//! `ApiError`: the one error type handlers return, rendered as the contract's envelope.
//!
//! Handlers never build error JSON themselves. An `ApiError` becomes a response carrying the
//! error in its extensions; the request-id middleware then renders the envelope with the
//! request's id (see [`crate::request_id`]). Internal detail is logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_protocol::{ErrorType, ValidationError};
use berth_store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub message: String,
    pub error_code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            error_code: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            message,
        )
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::NotFoundError,
            format!("{what} {id} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorType::ConflictError, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::AuthenticationError,
            message,
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorType::PermissionError, message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::RequestTooLarge,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// A spent rate limit (the caller adds `retry-after`).
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::RateLimitError,
            message,
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::ApiError,
            message,
        )
    }

    /// A failure that is our fault: logged in full, reported without detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "internal server error",
        )
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let mut error = ApiError::bad_request(e.to_string());
        error.error_code = e.error_code;
        error
    }
}

impl From<berth_runtime::log::EncodeError> for ApiError {
    fn from(e: berth_runtime::log::EncodeError) -> Self {
        ApiError::internal(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => {
                tracing::debug!(%message, "store conflict");
                ApiError::conflict("the request conflicts with the current state of the resource")
            }
            StoreError::Unavailable(message) => {
                tracing::warn!(%message, "database unavailable");
                ApiError::unavailable("the database is temporarily unavailable; retry shortly")
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A multipart body that could not be read: too large (413), or malformed (400).
pub fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::RequestTooLarge,
            e.body_text(),
        );
    }
    ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
}
