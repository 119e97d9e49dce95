//! The two requests of the older HTTP+SSE transport (MCP 2024-11-05), on the same policed client
//! and with the same per-request credentials as Streamable HTTP: the GET that opens the server's
//! event stream, and the POST of one message to the endpoint that stream announced.
//!
//! The transport itself (waiting for the endpoint, reading messages) is `crate::legacy_sse`.

use bytes::Bytes;
use futures::stream::BoxStream;
use http::header::{ACCEPT, CONTENT_TYPE};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_client::{SseError, StreamableHttpResponseLimits};
use sse_stream::Sse;

use super::body::{content_type, media_type_is, sse_events};
use super::refusal::{check_forbidden, refused, status_error};
use super::{EVENT_STREAM_TYPE, Failure, HttpError, JSON_TYPE, PolicedHttpClient};

impl PolicedHttpClient {
    /// Opens the server's event stream. Its events are cut off once one passes
    /// `limits.max_sse_event_size` bytes.
    pub(crate) async fn open_legacy_stream(
        &self,
        url: &str,
        limits: StreamableHttpResponseLimits,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, Failure> {
        let response = self
            .send(|| self.client.get(url).header(ACCEPT, EVENT_STREAM_TYPE))
            .await?;
        check_forbidden(&response)?;
        if let Some(failure) = status_error(&response) {
            return Err(failure);
        }
        if !response.status().is_success() {
            return Err(refused(response, limits).await);
        }
        match content_type(&response) {
            Some(ct) if media_type_is(&ct, EVENT_STREAM_TYPE) => {
                Ok(sse_events(response, limits.max_sse_event_size))
            }
            other => Err(Failure::UnexpectedContentType(other)),
        }
    }

    /// POSTs one message to the endpoint. Any 2xx means accepted (the spec asks for 202): the
    /// answer, if any, comes on the event stream, so the body is not read.
    pub(crate) async fn post_legacy_message(
        &self,
        endpoint: &str,
        message: &ClientJsonRpcMessage,
        limits: StreamableHttpResponseLimits,
    ) -> Result<(), Failure> {
        let body = Bytes::from(
            serde_json::to_vec(message).map_err(|e| Failure::Client(HttpError::Encode(e)))?,
        );
        let response = self
            .send(|| {
                self.client
                    .post(endpoint)
                    .header(CONTENT_TYPE, JSON_TYPE)
                    .body(body.clone())
            })
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        check_forbidden(&response)?;
        if let Some(failure) = status_error(&response) {
            return Err(failure);
        }
        Err(refused(response, limits).await)
    }
}
