//! rmcp's Streamable HTTP client side, spoken over Berth's egress-policed reqwest client.
//!
//! rmcp ships this for reqwest 0.13 with a client of its own; Berth's connections to hosts a
//! tenant chooses must go through [`EgressPolicy::client_builder`] (reqwest 0.12), whose resolver
//! refuses private addresses. So this module implements rmcp's [`StreamableHttpClient`] itself:
//! JSON-RPC messages are POSTed and answered with 202, a JSON body or an SSE stream; the
//! `Mcp-Session-Id` header carries the session; GET opens the server's own event stream and DELETE
//! ends the session.
//!
//! Credentials are not fixed at connect time: every request asks the [`Authorizer`] for the token
//! to send, and a 401 gets one retry with a refreshed token, so a rotated secret or a refreshed
//! OAuth token takes effect in the middle of a session. rmcp's own `auth_header` is ignored.
//!
//! The two requests of the older HTTP+SSE transport, on the same client and credentials, are in
//! the submodule `legacy`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_net::EgressPolicy;
use bytes::Bytes;
use futures::stream::BoxStream;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, StatusCode};
use reqwest::{RequestBuilder, Response};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::{AuthError, Authorizer};

mod body;
mod legacy;
mod refusal;

use body::{content_type, media_type_is, read_bounded, sse_events};
use refusal::{auth_required, check_forbidden, failed_post, status_error};

const SESSION_ID: &str = "mcp-session-id";
const LAST_EVENT_ID: &str = "last-event-id";
const JSON_TYPE: &str = "application/json";
const EVENT_STREAM_TYPE: &str = "text/event-stream";
/// A POST may be answered either way; the server picks.
const POST_ACCEPT: &str = "application/json, text/event-stream";

/// How long to wait for a TCP (and TLS) connection. Callers bound whole exchanges with their own
/// timeouts; this only makes a blackholed host fail as "cannot connect" rather than as a timeout
/// of whatever was being done.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// What can go wrong inside this client (rmcp wraps it in [`StreamableHttpError::Client`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("{0}")]
    Request(#[source] reqwest::Error),
    #[error("cannot obtain credentials: {0}")]
    Authorizer(#[source] AuthError),
    #[error("the bearer token contains characters not allowed in an HTTP header")]
    InvalidToken,
    #[error("cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    /// The server answered with a status this client gives no special meaning (a redirect it
    /// does not follow, a 4xx other than 401, 429 and a 403 with a challenge). Kept apart
    /// because a 4xx to the first POST means the server does not speak Streamable HTTP.
    #[error("HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status { status: StatusCode, body: String },
}

pub(super) type Failure = StreamableHttpError<HttpError>;

/// rmcp's HTTP backend: a policed reqwest client plus the server's [`Authorizer`].
#[derive(Clone)]
pub(crate) struct PolicedHttpClient {
    client: reqwest::Client,
    auth: Arc<dyn Authorizer>,
}

impl PolicedHttpClient {
    pub(crate) fn new(
        policy: &EgressPolicy,
        auth: Arc<dyn Authorizer>,
    ) -> Result<Self, reqwest::Error> {
        let redirect_policy = policy.clone();
        let client = policy
            .client_builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // Replaces berth-net's redirect policy, so it checks the egress policy again itself.
            // Only same-origin 307/308 are followed: 301-303 would turn the POST into a GET and
            // lose the message, and another origin must not receive the session id.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let keeps_body = matches!(
                    attempt.status(),
                    StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
                );
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if !keeps_body || !same_origin {
                    attempt.stop()
                } else if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if let Err(e) = redirect_policy.check_url(attempt.url().as_str()) {
                    attempt.error(e)
                } else {
                    attempt.follow()
                }
            }))
            .build()?;
        Ok(Self { client, auth })
    }

    /// Sends the request built by `build` with the current bearer token; on 401, asks the
    /// authorizer for a fresh token and sends it once more. `build` is called per attempt, so
    /// the request body must be cheap to rebuild (it is: a serialised message in [`Bytes`]).
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Response, Failure> {
        let token = self
            .auth
            .token()
            .await
            .map_err(|e| Failure::Client(HttpError::Authorizer(e)))?;
        let response = send_with_token(build(), token.as_deref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(refused) = token else {
            tracing::warn!("MCP server requires authorization and no credential is configured");
            return Err(auth_required(&response));
        };
        let fresh = self
            .auth
            .refresh(&refused)
            .await
            .map_err(|e| Failure::Client(HttpError::Authorizer(e)))?
            .filter(|fresh| *fresh != refused);
        let Some(fresh) = fresh else {
            tracing::warn!("MCP server refused the bearer token and no fresh one is available");
            return Err(auth_required(&response));
        };
        let response = send_with_token(build(), Some(&fresh)).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            tracing::warn!("MCP server refused the refreshed bearer token too");
            return Err(auth_required(&response));
        }
        Ok(response)
    }

    async fn post(
        &self,
        uri: &str,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        headers: &HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let body = Bytes::from(
            serde_json::to_vec(&message).map_err(|e| Failure::Client(HttpError::Encode(e)))?,
        );
        let response = self
            .send(|| {
                let mut request = self
                    .client
                    .post(uri)
                    .header(ACCEPT, POST_ACCEPT)
                    .header(CONTENT_TYPE, JSON_TYPE)
                    .body(body.clone());
                if let Some(session_id) = &session_id {
                    request = request.header(SESSION_ID, session_id.as_ref());
                }
                with_protocol_headers(request, headers)
            })
            .await?;

        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(Failure::SessionExpired);
        }
        check_forbidden(&response)?;
        let content_type = content_type(&response);
        let is_json = content_type
            .as_deref()
            .is_some_and(|ct| media_type_is(ct, JSON_TYPE));
        let new_session_id = response
            .headers()
            .get(SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !status.is_success() {
            return failed_post(response, is_json, new_session_id, limits).await;
        }

        // Notifications and replies leave nothing outstanding, so whatever the body holds
        // (servers answer them with an empty 200 as often as with the 202 the spec asks for)
        // is not needed.
        let awaits_nothing = !matches!(message, ClientJsonRpcMessage::Request(_));
        if awaits_nothing && response.content_length() == Some(0) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        match content_type.as_deref() {
            Some(ct) if media_type_is(ct, EVENT_STREAM_TYPE) => {
                Ok(StreamableHttpPostResponse::Sse(
                    sse_events(response, limits.max_sse_event_size),
                    new_session_id,
                ))
            }
            Some(_) if is_json => {
                let body = read_bounded(response, limits.max_json_response_size).await?;
                match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                    Ok(message) => Ok(StreamableHttpPostResponse::Json(message, new_session_id)),
                    Err(_) if awaits_nothing => Ok(StreamableHttpPostResponse::Accepted),
                    Err(e) => Err(Failure::UnexpectedServerResponse(
                        format!("the response is not a JSON-RPC message: {e}").into(),
                    )),
                }
            }
            _ if awaits_nothing => Ok(StreamableHttpPostResponse::Accepted),
            _ => Err(Failure::UnexpectedContentType(content_type)),
        }
    }

    async fn get(
        &self,
        uri: &str,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        headers: &HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failure> {
        let response = self
            .send(|| {
                let mut request = self.client.get(uri).header(ACCEPT, EVENT_STREAM_TYPE);
                if let Some(session_id) = &session_id {
                    request = request.header(SESSION_ID, session_id.as_ref());
                }
                if let Some(last_event_id) = &last_event_id {
                    request = request.header(LAST_EVENT_ID, last_event_id);
                }
                with_protocol_headers(request, headers)
            })
            .await?;
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(Failure::ServerDoesNotSupportSse);
        }
        check_forbidden(&response)?;
        if let Some(error) = status_error(&response) {
            return Err(error);
        }
        if !status.is_success() {
            return Err(Failure::UnexpectedServerResponse(
                format!("HTTP {status} to the event-stream GET").into(),
            ));
        }
        match content_type(&response) {
            Some(ct) if media_type_is(&ct, EVENT_STREAM_TYPE) => {
                Ok(sse_events(response, max_sse_event_size))
            }
            other => Err(Failure::UnexpectedContentType(other)),
        }
    }

    async fn delete(
        &self,
        uri: &str,
        session_id: &str,
        headers: &HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failure> {
        let response = self
            .send(|| {
                let request = self.client.delete(uri).header(SESSION_ID, session_id);
                with_protocol_headers(request, headers)
            })
            .await?;
        let status = response.status();
        // 405: the server keeps sessions until they expire; 404: it already forgot this one.
        if status.is_success()
            || matches!(
                status,
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
            )
        {
            return Ok(());
        }
        Err(Failure::UnexpectedServerResponse(
            format!("HTTP {status} to the session DELETE").into(),
        ))
    }
}

impl StreamableHttpClient for PolicedHttpClient {
    type Error = HttpError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let limits = StreamableHttpResponseLimits::default();
        self.post(&uri, message, session_id, &custom_headers, limits)
            .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post(&uri, message, session_id, &custom_headers, limits)
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, Failure> {
        self.post(&uri, message, session_id, &custom_headers, limits)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), Failure> {
        self.delete(&uri, &session_id, &custom_headers).await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failure> {
        let max = StreamableHttpResponseLimits::default().max_sse_event_size;
        self.get(&uri, session_id, last_event_id, &custom_headers, max)
            .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failure> {
        self.get(
            &uri,
            session_id,
            last_event_id,
            &custom_headers,
            max_sse_event_size,
        )
        .await
    }
}

async fn send_with_token(
    request: RequestBuilder,
    token: Option<&str>,
) -> Result<Response, Failure> {
    let request = match token {
        Some(token) => {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Failure::Client(HttpError::InvalidToken))?;
            value.set_sensitive(true);
            request.header(http::header::AUTHORIZATION, value)
        }
        None => request,
    };
    request.send().await.map_err(request_failed)
}

/// Adds rmcp's per-request headers (`MCP-Protocol-Version` and the like), leaving out any that
/// this client sets itself.
fn with_protocol_headers(
    mut request: RequestBuilder,
    headers: &HashMap<HeaderName, HeaderValue>,
) -> RequestBuilder {
    for (name, value) in headers {
        let own = matches!(
            name.as_str(),
            "accept" | "authorization" | "content-type" | SESSION_ID | LAST_EVENT_ID
        );
        if !own {
            request = request.header(name, value);
        }
    }
    request
}

/// URLs are left out of the message: some MCP servers take an API key in the query string.
pub(super) fn request_failed(error: reqwest::Error) -> Failure {
    Failure::Client(HttpError::Request(error.without_url()))
}

/// Whether the server refused the request with a plain 4xx (not 403): it does not speak this
/// transport, rather than refusing us.
pub(crate) fn is_plain_refusal(failure: &Failure) -> bool {
    matches!(failure, StreamableHttpError::Client(refusal) if is_plain_refusal_status(refusal))
}

pub(crate) fn is_plain_refusal_status(error: &HttpError) -> bool {
    matches!(
        error,
        HttpError::Status { status, .. }
            if status.is_client_error() && *status != http::StatusCode::FORBIDDEN
    )
}
