//! Errors of MCP calls, sorted by what the caller should do about them.
//!
//! rmcp reports transport failures as boxed errors several layers deep; this module digs out the
//! HTTP-level cause so a refused credential reads as [`McpError::Authentication`] and an
//! unreachable host as [`McpError::Connection`], rather than both as "transport send error".

use rmcp::service::{ClientInitializeError, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::http::HttpError;

/// Why an MCP server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The server cannot be reached or is failing (refused URL, DNS, TCP, TLS, HTTP 5xx).
    #[error("cannot reach MCP server: {0}")]
    Connection(String),
    /// The server refused the credentials and no fresh ones cured it.
    #[error("MCP server refused the credentials: {0}")]
    Authentication(String),
    /// The named step did not finish in time.
    #[error("MCP {0} timed out")]
    Timeout(&'static str),
    /// The server answered, but not with what MCP says it should (including JSON-RPC errors).
    #[error("MCP protocol error: {0}")]
    Protocol(String),
}

/// Supplies of credentials that failed (a vault read, an OAuth refresh request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub message: String,
}

impl AuthError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

pub(crate) fn from_initialize(error: ClientInitializeError) -> McpError {
    match error {
        ClientInitializeError::TransportError { error, .. } => from_transport(error.error.as_ref()),
        ClientInitializeError::ConnectionClosed(when) => {
            McpError::Connection(format!("the connection closed during {when}"))
        }
        other => McpError::Protocol(chain(&other)),
    }
}

pub(crate) fn from_service(error: ServiceError) -> McpError {
    match error {
        ServiceError::TransportSend(error) => from_transport(error.error.as_ref()),
        ServiceError::TransportClosed => {
            McpError::Connection("the connection to the server is closed".to_owned())
        }
        ServiceError::Timeout { .. } => McpError::Timeout("request"),
        ServiceError::McpError(error) => McpError::Protocol(error.message.into_owned()),
        other => McpError::Protocol(chain(&other)),
    }
}

/// Classifies the first error from our HTTP client found in `error`'s source chain.
fn from_transport(error: &(dyn std::error::Error + 'static)) -> McpError {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(http) = e.downcast_ref::<StreamableHttpError<HttpError>>() {
            return from_http(http);
        }
        current = e.source();
    }
    McpError::Protocol(chain(error))
}

fn from_http(error: &StreamableHttpError<HttpError>) -> McpError {
    match error {
        StreamableHttpError::AuthRequired(challenge) => McpError::Authentication(format!(
            "HTTP 401 (WWW-Authenticate: {})",
            challenge.www_authenticate_header
        )),
        StreamableHttpError::InsufficientScope(challenge) => McpError::Authentication(format!(
            "HTTP 403, insufficient scope (WWW-Authenticate: {})",
            challenge.www_authenticate_header
        )),
        StreamableHttpError::Client(HttpError::Authorizer(e)) => {
            McpError::Authentication(format!("cannot obtain credentials: {e}"))
        }
        StreamableHttpError::Client(HttpError::Request(e)) if e.is_timeout() => {
            McpError::Timeout("HTTP request")
        }
        StreamableHttpError::Client(HttpError::Request(e)) => McpError::Connection(chain(e)),
        StreamableHttpError::HttpStatus(status) => {
            McpError::Connection(format!("the server answered HTTP {}", status.status))
        }
        other => McpError::Protocol(chain(other)),
    }
}

/// An error and its causes as one line; reqwest's own message leaves out the cause (e.g.
/// "connection refused") that a user needs.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        current = cause.source();
    }
    text
}
