//! How refusals are told apart: a 401 (credentials), a 403 with a challenge (scope), rate limits
//! and server failures (status and `Retry-After`, as rmcp reports them), a JSON-RPC error in the
//! body of a refused POST (passed on to the request it answers), and every other refusal
//! ([`HttpError::Status`], with a prefix of the body for the diagnostic).

use http::StatusCode;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::Response;
use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, HttpStatusError, InsufficientScopeError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};

use super::body::{preview, read_bounded, read_prefix};
use super::{Failure, HttpError};

pub(super) fn auth_required(response: &Response) -> Failure {
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Failure::AuthRequired(AuthRequiredError::new(challenge.to_owned()))
}

/// A 403 with a challenge means the token lacks a scope the request needs.
pub(super) fn check_forbidden(response: &Response) -> Result<(), Failure> {
    if response.status() != StatusCode::FORBIDDEN {
        return Ok(());
    }
    match response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
    {
        Some(challenge) => Err(Failure::InsufficientScope(InsufficientScopeError::new(
            challenge.to_owned(),
            None,
        ))),
        None => Ok(()),
    }
}

/// Rate limits and server failures, as rmcp reports them (status and `Retry-After` only).
pub(super) fn status_error(response: &Response) -> Option<Failure> {
    let status = response.status();
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return None;
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Some(Failure::HttpStatus(HttpStatusError::new(
        status.as_u16(),
        retry_after,
    )))
}

/// The answer to a POST the server did not accept. A JSON-RPC error in the body is passed on
/// (rmcp routes it to the request it answers); otherwise the status, with a prefix of the body
/// for anything but rate limits and server failures.
pub(super) async fn failed_post(
    response: Response,
    is_json: bool,
    session_id: Option<String>,
    limits: StreamableHttpResponseLimits,
) -> Result<StreamableHttpPostResponse, Failure> {
    let status = response.status();
    let status_failure = status_error(&response);
    if is_json && status != StatusCode::TOO_MANY_REQUESTS {
        let body = read_bounded(response, limits.max_json_response_size).await;
        if let Ok(message @ ServerJsonRpcMessage::Error(_)) = body
            .as_deref()
            .map_err(|_| ())
            .and_then(|body| serde_json::from_slice(body).map_err(|_| ()))
        {
            return Ok(StreamableHttpPostResponse::Json(message, session_id));
        }
        return Err(status_failure.unwrap_or_else(|| {
            let body = body.unwrap_or_default();
            Failure::Client(HttpError::Status {
                status,
                body: preview(&body, limits),
            })
        }));
    }
    if let Some(failure) = status_failure {
        return Err(failure);
    }
    Err(refused(response, limits).await)
}

/// A refusal without special meaning, with a prefix of the body for the diagnostic.
pub(super) async fn refused(response: Response, limits: StreamableHttpResponseLimits) -> Failure {
    let status = response.status();
    let body = read_prefix(response, limits.max_error_response_size).await;
    Failure::Client(HttpError::Status {
        status,
        body: preview(&body, limits),
    })
}
