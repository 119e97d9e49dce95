//! The Anthropic Messages API (`POST /v1/messages` with `stream: true`), for Anthropic itself and
//! compatible gateways.

mod wire;

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use crate::sse::Decoder;
use crate::types::{EventStream, ModelRequest, StreamEvent};
use crate::{ModelClient, ModelError, ModelErrorKind};

/// The API version this client speaks.
const API_VERSION: &str = "2023-06-01";
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error body kept for the message (providers sometimes return HTML pages).
const MAX_ERROR_BODY: usize = 4096;

#[derive(Debug, Clone)]
pub struct AnthropicConfig {
    pub api_key: String,
    /// e.g. `https://api.anthropic.com`; a trailing `/v1` is accepted.
    pub base_url: String,
    pub custom_headers: Vec<(String, String)>,
    /// A stream that sends nothing for this long is abandoned.
    pub idle_timeout: Duration,
    /// Mark the system prompt, last tool and last message for prompt caching.
    pub prompt_caching: bool,
}

impl AnthropicConfig {
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: base_url.into(),
            custom_headers: Vec::new(),
            idle_timeout: Duration::from_secs(300),
            prompt_caching: true,
        }
    }
}

pub struct AnthropicClient {
    http: reqwest::Client,
    config: AnthropicConfig,
    endpoint: String,
}

impl AnthropicClient {
    pub fn new(config: AnthropicConfig) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ModelError::new(ModelErrorKind::Connection, e.to_string()))?;
        let base = config.base_url.trim_end_matches('/');
        let endpoint = if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        };
        Ok(Self {
            http,
            config,
            endpoint,
        })
    }
}

#[async_trait]
impl ModelClient for AnthropicClient {
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError> {
        let body = wire::request_body(request, self.config.prompt_caching);
        let mut builder = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", &self.config.api_key)
            .header("anthropic-version", API_VERSION)
            .header("accept", "text/event-stream")
            .json(&body);
        for (name, value) in &self.config.custom_headers {
            builder = builder.header(name, value);
        }
        let response = tokio::time::timeout(self.config.idle_timeout, builder.send())
            .await
            .map_err(|_| {
                ModelError::new(ModelErrorKind::Timeout, "the model did not answer in time")
            })?
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(error_from_response(response).await);
        }
        let idle = self.config.idle_timeout;
        let bytes = response.bytes_stream();
        let state = StreamState {
            bytes: Box::pin(bytes),
            decoder: Decoder::new(),
            pending: VecDeque::new(),
            parser: wire::StreamParser::default(),
            finished: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            move |mut s| async move {
                loop {
                    if let Some(item) = s.pending.pop_front() {
                        if item.is_err() {
                            s.finished = true;
                        }
                        return Some((item, s));
                    }
                    if s.finished {
                        return None;
                    }
                    match tokio::time::timeout(idle, s.bytes.next()).await {
                        Err(_) => {
                            s.finished = true;
                            let e = ModelError::new(
                                ModelErrorKind::Timeout,
                                format!("the model stream sent nothing for {} s", idle.as_secs()),
                            );
                            return Some((Err(e), s));
                        }
                        Ok(None) => {
                            s.finished = true;
                            if !s.parser.done() {
                                let e = ModelError::new(
                                    ModelErrorKind::Connection,
                                    "the model stream ended before message_stop",
                                );
                                return Some((Err(e), s));
                            }
                            return None;
                        }
                        Ok(Some(Err(e))) => {
                            s.finished = true;
                            return Some((Err(transport_error(e)), s));
                        }
                        Ok(Some(Ok(chunk))) => match s.decoder.feed(&chunk) {
                            Err(e) => {
                                s.finished = true;
                                return Some((
                                    Err(ModelError::new(ModelErrorKind::Protocol, e)),
                                    s,
                                ));
                            }
                            Ok(frames) => {
                                for frame in frames {
                                    for item in s.parser.frame(&frame) {
                                        s.pending.push_back(item);
                                    }
                                }
                            }
                        },
                    }
                }
            },
        )))
    }
}

struct StreamState {
    bytes:
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>>,
    decoder: Decoder,
    pending: VecDeque<Result<StreamEvent, ModelError>>,
    parser: wire::StreamParser,
    finished: bool,
}

fn transport_error(e: reqwest::Error) -> ModelError {
    let kind = if e.is_timeout() {
        ModelErrorKind::Timeout
    } else {
        ModelErrorKind::Connection
    };
    // reqwest's message includes the URL, never headers, so no key can leak through it.
    ModelError::new(kind, format!("model request failed: {e}"))
}

/// Builds the error for a non-2xx answer from the provider's JSON error body.
pub(crate) async fn error_from_response(response: reqwest::Response) -> ModelError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(MAX_ERROR_BODY).collect());
    let mut error =
        ModelError::from_status(status, format!("HTTP {status}: {message}"), retry_after);
    if body.contains("overloaded_error") {
        error.kind = ModelErrorKind::Overloaded;
    }
    error
}

/// `retry-after-ms` or `retry-after` (seconds), as providers send them.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
}
