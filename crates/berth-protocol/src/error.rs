//! The error envelope every non-2xx JSON response carries (contract §1.4):
//! `{"type":"error","error":{"type","message","details"?},"request_id"}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::wire_tag!(
    /// The literal `"error"`.
    ErrorTag = "error"
);

/// The machine-readable `error.type`; the SDKs pick an exception class from the HTTP status and
/// expose this string as `.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    BillingError,
    PermissionError,
    NotFoundError,
    ConflictError,
    RequestTooLarge,
    RateLimitError,
    TimeoutError,
    ApiError,
    OverloadedError,
    MemoryPreconditionFailedError,
    MemoryPathConflictError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetails {
    /// A stable code for the SDK's `error_code`, e.g. `invalid_config_type_change`.
    pub error_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub details: Option<ErrorDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: ErrorTag,
    pub error: ErrorDetail,
    pub request_id: Option<String>,
}
