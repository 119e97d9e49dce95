//! The older HTTP+SSE transport (MCP 2024-11-05) as an rmcp [`Transport`], for servers that do
//! not speak Streamable HTTP.
//!
//! The client GETs the server URL and keeps that event stream open for the whole session. The
//! server's first `endpoint` event names the URI (relative to the server URL) to POST client
//! messages to; every server message (responses, notifications, requests) then arrives as a
//! `message` event on the stream. The endpoint must stay on the server's origin, since every
//! POST carries the server's bearer token, and pass the egress policy.
//!
//! The stream cannot be resumed: reopening it starts a new session with a new endpoint. So once
//! it ends, the transport ends and the session with it.

use std::sync::Arc;

use berth_net::EgressPolicy;
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::Url;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleClient;
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpError, StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::http::{Failure, PolicedHttpClient};

/// The event that announces where to POST messages.
const ENDPOINT_EVENT: &str = "endpoint";
/// The event that carries a server message (also an event without a name, per the SSE spec).
const MESSAGE_EVENT: &str = "message";

type EventStream = BoxStream<'static, Result<Sse, SseError>>;

/// Why the old transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseConnectError {
    #[error("{0}")]
    Http(#[source] Failure),
    #[error("the event stream ended before the `endpoint` event")]
    NoEndpoint,
    #[error("the event stream failed before the `endpoint` event: {0}")]
    Stream(#[source] SseError),
    #[error("the `endpoint` event does not hold a URI: {0}")]
    InvalidEndpoint(String),
    #[error(
        "the `endpoint` event names another origin ({0}); the server's credentials are only sent \
         to its own origin"
    )]
    ForeignEndpoint(String),
    #[error("the `endpoint` event names a refused URL: {0}")]
    RefusedEndpoint(String),
}

impl SseConnectError {
    /// The server answered the GET, but not as an HTTP+SSE server would (a plain 4xx, or no
    /// event stream): it speaks neither transport at this URL.
    pub(crate) fn offers_no_sse(&self) -> bool {
        match self {
            Self::Http(StreamableHttpError::UnexpectedContentType(_)) => true,
            Self::Http(failure) => crate::http::is_plain_refusal(failure),
            _ => false,
        }
    }
}

/// A session over the old transport: the open event stream and the endpoint to POST to.
pub(crate) struct LegacySseTransport {
    client: PolicedHttpClient,
    endpoint: Arc<str>,
    /// `None` once the stream ended or the transport was closed.
    events: Option<EventStream>,
}

impl LegacySseTransport {
    /// Opens the event stream at `url` (already checked against `policy`) and waits for its
    /// `endpoint` event. Not bounded in time here: the caller's startup timeout covers it
    /// (events before the endpoint are skipped).
    pub(crate) async fn connect(
        client: PolicedHttpClient,
        policy: &EgressPolicy,
        url: &Url,
    ) -> Result<Self, SseConnectError> {
        let mut events = client
            .open_legacy_stream(url.as_str(), StreamableHttpResponseLimits::default())
            .await
            .map_err(SseConnectError::Http)?;
        let announced = loop {
            match events.next().await {
                None => return Err(SseConnectError::NoEndpoint),
                Some(Err(e)) => return Err(SseConnectError::Stream(e)),
                Some(Ok(event)) if event.event.as_deref() == Some(ENDPOINT_EVENT) => {
                    break event.data.unwrap_or_default();
                }
                Some(Ok(_)) => {}
            }
        };
        let endpoint = resolve_endpoint(url, &announced, policy)?;
        Ok(Self {
            client,
            endpoint: endpoint.as_str().into(),
            events: Some(events),
        })
    }

    /// The next server message on the stream; `None` once the stream has ended.
    async fn next_message(&mut self) -> Option<ServerJsonRpcMessage> {
        let events = self.events.as_mut()?;
        let ended = loop {
            let event = match events.next().await {
                None => break None,
                Some(Err(e)) => break Some(e),
                Some(Ok(event)) => event,
            };
            let is_message = event
                .event
                .as_deref()
                .is_none_or(|name| name == MESSAGE_EVENT);
            let Some(data) = event.data.filter(|_| is_message) else {
                continue;
            };
            match serde_json::from_str::<ServerJsonRpcMessage>(&data) {
                Ok(message) => return Some(message),
                // One malformed message fails at most the request it answered (by timeout);
                // ending the session for it would fail every other one too.
                Err(e) => tracing::warn!(error = %e, "MCP server sent an invalid message"),
            }
        };
        match ended {
            Some(e) => tracing::warn!(error = %e, "MCP server's event stream failed"),
            None => tracing::info!("MCP server closed its event stream"),
        }
        self.events = None;
        None
    }
}

impl Transport<RoleClient> for LegacySseTransport {
    type Error = Failure;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
        let client = self.client.clone();
        let endpoint = Arc::clone(&self.endpoint);
        async move {
            client
                .post_legacy_message(&endpoint, &item, StreamableHttpResponseLimits::default())
                .await
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ServerJsonRpcMessage>> + Send {
        self.next_message()
    }

    /// Dropping the stream closes the GET, which ends the session on the server.
    async fn close(&mut self) -> Result<(), Failure> {
        self.events = None;
        Ok(())
    }
}

/// The announced endpoint as an absolute URL, if it stays on the server's origin and the egress
/// policy allows it.
fn resolve_endpoint(
    base: &Url,
    announced: &str,
    policy: &EgressPolicy,
) -> Result<Url, SseConnectError> {
    let endpoint = base
        .join(announced.trim())
        .map_err(|e| SseConnectError::InvalidEndpoint(e.to_string()))?;
    if endpoint.origin() != base.origin() {
        return Err(SseConnectError::ForeignEndpoint(
            endpoint.origin().ascii_serialization(),
        ));
    }
    policy
        .check_url(endpoint.as_str())
        .map_err(|e| SseConnectError::RefusedEndpoint(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn resolve(announced: &str) -> Result<String, SseConnectError> {
        let base = Url::parse("http://10.0.0.7:8080/mcp/sse?key=1").unwrap();
        let policy = EgressPolicy::parse("10.0.0.0/8").unwrap();
        resolve_endpoint(&base, announced, &policy).map(String::from)
    }

    #[test]
    fn relative_endpoints_resolve_against_the_server_url() {
        assert_eq!(
            resolve("/messages?session_id=abc").unwrap(),
            "http://10.0.0.7:8080/messages?session_id=abc"
        );
        assert_eq!(
            resolve(" messages?session_id=abc\n").unwrap(),
            "http://10.0.0.7:8080/mcp/messages?session_id=abc"
        );
        assert_eq!(
            resolve("http://10.0.0.7:8080/m").unwrap(),
            "http://10.0.0.7:8080/m"
        );
    }

    #[test]
    fn endpoints_on_another_origin_are_refused() {
        for announced in [
            "http://10.0.0.8:8080/messages",
            "http://10.0.0.7:8081/messages",
            "https://10.0.0.7:8080/messages",
            "//evil.example/messages",
            "data:text/plain,hi",
        ] {
            let error = resolve(announced).unwrap_err();
            assert!(
                matches!(error, SseConnectError::ForeignEndpoint(_)),
                "{announced}: {error:?}"
            );
        }
    }
}
