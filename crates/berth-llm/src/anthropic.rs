//! The Anthropic Messages API (`POST /v1/messages` with `stream: true`), for Anthropic itself and
//! compatible gateways.

pub(crate) mod wire;

use std::time::Duration;

use async_trait::async_trait;
use berth_net::PolicedClient;

use crate::transport::{FrameParser, open_stream};
use crate::types::{EventStream, ModelRequest, StreamEvent};
use crate::{ModelClient, ModelError, ModelErrorKind};

/// The API version this client speaks.
pub const API_VERSION: &str = "2023-06-01";

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

/// `{base}/v1/messages`, accepting a base that already ends in `/v1`.
pub fn messages_endpoint(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

pub struct AnthropicClient {
    http: PolicedClient,
    config: AnthropicConfig,
    endpoint: String,
}

impl AnthropicClient {
    pub fn new(config: AnthropicConfig, http: PolicedClient) -> Self {
        let endpoint = messages_endpoint(&config.base_url);
        Self {
            http,
            config,
            endpoint,
        }
    }
}

impl FrameParser for wire::StreamParser {
    fn frame(&mut self, frame: &berth_sse::Frame) -> Vec<Result<StreamEvent, ModelError>> {
        wire::StreamParser::frame(self, frame)
    }

    fn done(&self) -> bool {
        wire::StreamParser::done(self)
    }
}

#[async_trait]
impl ModelClient for AnthropicClient {
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError> {
        let body = wire::request_body(request, self.config.prompt_caching);
        let mut builder = self
            .http
            .request(reqwest::Method::POST, &self.endpoint)
            .map_err(|e| ModelError::new(ModelErrorKind::Connection, e.to_string()))?
            .header("x-api-key", &self.config.api_key)
            .header("anthropic-version", API_VERSION)
            .header("accept", "text/event-stream")
            .json(&body);
        for (name, value) in &self.config.custom_headers {
            builder = builder.header(name, value);
        }
        let mut secrets = vec![self.config.api_key.clone()];
        secrets.extend(self.config.custom_headers.iter().map(|(_, v)| v.clone()));
        open_stream(
            builder,
            self.config.idle_timeout,
            secrets,
            wire::StreamParser::default(),
        )
        .await
    }
}
