//! Request ids, the tracing span of each request, and rendering of error envelopes.
//!
//! Every response gets a `request-id` header. Error responses (an [`ApiError`] in the response
//! extensions, or a 4xx/5xx from the framework such as a 405 or an extractor's plain-text
//! rejection, whose text becomes the message) get the contract's JSON body
//! carrying the same id, plus `x-should-retry: false` where the SDKs would otherwise retry a
//! request that can never succeed (409, 412).

use std::time::Instant;

use axum::body::Body;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use berth_protocol::ErrorType;
use berth_protocol::error::{ErrorBody, ErrorDetail, ErrorDetails, ErrorTag};
use berth_protocol::ids::{new_id, prefix};
use tracing::Instrument;

use crate::error::ApiError;
use berth_runtime::metrics::Metrics;

/// The request's id, available to handlers through the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn middleware(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = new_id(prefix::REQUEST);
    request.extensions_mut().insert(RequestId(id.clone()));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", method = %request.method(), route, request_id = %id);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let response = finish(response, &id).await;
    let status = response.status();
    let _entered = span.enter();
    let took = started.elapsed();
    metrics.request(&route, &method, status.as_u16(), took);
    let micros = took.as_micros() as u64;
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), micros, "request failed");
    } else {
        tracing::debug!(status = status.as_u16(), micros, "request done");
    }
    response
}

/// The most of a framework error's text that becomes the message.
const FRAMEWORK_MESSAGE_BYTES: usize = 4096;

async fn finish(mut response: Response, id: &str) -> Response {
    let status = response.status();
    let mut error = response.extensions_mut().remove::<ApiError>();
    let failed = status.is_client_error() || status.is_server_error();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if error.is_none() && failed && !is_json {
        // The framework's own answer (no body, or an extractor's plain text).
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, FRAMEWORK_MESSAGE_BYTES)
            .await
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
            .unwrap_or_default();
        response = Response::from_parts(parts, Body::empty());
        error = Some(framework_error(status, &text));
    }
    if let Some(error) = error {
        // Headers set along with the error (`retry-after`, rate-limit figures) stay.
        let kept = std::mem::take(response.headers_mut());
        response = render(&error, id);
        for (name, value) in &kept {
            if !response.headers().contains_key(name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("request-id", value);
    }
    // Downloads carry tenant-chosen bytes and types: browsers must not guess another type.
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The envelope for errors raised by the framework rather than a handler; `text` is what the
/// framework said, if anything.
fn framework_error(status: StatusCode, text: &str) -> ApiError {
    if status.is_client_error() && !text.is_empty() {
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorType::NotFoundError,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorType::RequestTooLarge,
            _ => ErrorType::InvalidRequestError,
        };
        return ApiError::new(status, kind, text);
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            ErrorType::InvalidRequestError,
            "this method is not allowed on this path",
        ),
        StatusCode::NOT_FOUND => ApiError::new(status, ErrorType::NotFoundError, "not found"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, ErrorType::RequestTooLarge, "request body too large")
        }
        s if s.is_client_error() => {
            ApiError::new(status, ErrorType::InvalidRequestError, "invalid request")
        }
        _ => ApiError::new(status, ErrorType::ApiError, "internal server error"),
    }
}

/// What a client gets if an error body itself cannot be encoded.
const UNENCODABLE_ERROR: &str =
    r#"{"type":"error","error":{"type":"api_error","message":"internal server error"}}"#;

fn render(error: &ApiError, id: &str) -> Response {
    let body = ErrorBody {
        kind: ErrorTag,
        error: ErrorDetail {
            kind: error.kind,
            message: error.message.clone(),
            details: error.error_code.map(|code| ErrorDetails {
                error_code: code.to_owned(),
            }),
        },
        request_id: Some(id.to_owned()),
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode an error body");
        UNENCODABLE_ERROR.as_bytes().to_vec()
    });
    let mut response = Response::new(Body::from(json));
    *response.status_mut() = error.status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if matches!(
        error.status,
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED
    ) {
        response
            .headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    if error.status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the oversized body is not read, so the connection cannot carry another
        // request; say so, or clients reuse it and see it closed under them.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
