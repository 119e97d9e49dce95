//! Errors of MCP calls, sorted by what the caller should do about them.
//!
//! rmcp reports transport failures as boxed errors several layers deep; this module digs out the
//! HTTP-level cause so a refused credential reads as [`McpError::Authentication`] and an
//! unreachable host as [`McpError::Connection`], rather than both as "transport send error".

use rmcp::service::{ClientInitializeError, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpError;

use crate::http::{Failure, HttpError, is_plain_refusal_status};
use crate::legacy_sse::SseConnectError;

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

pub(crate) fn from_sse_connect(error: SseConnectError) -> McpError {
    match error {
        SseConnectError::Http(failure) => from_http(&failure),
        SseConnectError::Stream(_)
        | SseConnectError::ForeignEndpoint(_)
        | SseConnectError::RefusedEndpoint(_) => McpError::Connection(chain(&error)),
        SseConnectError::NoEndpoint | SseConnectError::InvalidEndpoint(_) => {
            McpError::Protocol(chain(&error))
        }
    }
}

/// How the server refused the Streamable HTTP `initialize` POST, if it did so with a 4xx that is
/// not about credentials or rate: by the spec's backwards-compatibility rule, it may speak only
/// the older HTTP+SSE transport.
pub(crate) fn streamable_http_refusal(error: &ClientInitializeError) -> Option<String> {
    let ClientInitializeError::TransportError { error, .. } = error else {
        return None;
    };
    match http_failure(error.error.as_ref())? {
        StreamableHttpError::Client(refusal) if is_plain_refusal_status(refusal) => {
            Some(refusal.to_string())
        }
        _ => None,
    }
}

/// The server answered at its URL, but with neither transport.
pub(crate) fn neither_transport(post_refusal: &str, sse: &SseConnectError) -> McpError {
    let get_refusal = match sse {
        SseConnectError::Http(StreamableHttpError::Client(refusal)) => refusal.to_string(),
        other => other.to_string(),
    };
    McpError::Protocol(format!(
        "the server speaks neither Streamable HTTP nor HTTP+SSE at this URL \
         (POST: {post_refusal}; GET: {get_refusal})"
    ))
}

/// A 4xx without a meaning of its own to this client (not 401, 429, or 403 with a challenge;
/// a bare 403 counts as about credentials too).
/// Classifies the first error from our HTTP client found in `error`'s source chain.
fn from_transport(error: &(dyn std::error::Error + 'static)) -> McpError {
    match http_failure(error) {
        Some(http) => from_http(http),
        None => McpError::Protocol(chain(error)),
    }
}

fn http_failure<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Failure> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(http) = e.downcast_ref::<Failure>() {
            return Some(http);
        }
        current = e.source();
    }
    None
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
        StreamableHttpError::Client(status @ HttpError::Status { .. }) => {
            McpError::Protocol(format!("unexpected server response: {status}"))
        }
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
