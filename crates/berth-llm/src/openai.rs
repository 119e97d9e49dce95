//! OpenAI Chat Completions (`POST …/chat/completions` with `stream: true`), for OpenAI and the
//! many servers that speak it (vLLM, Ollama, LiteLLM, OpenRouter).

pub(crate) mod wire;

use std::time::Duration;

use async_trait::async_trait;
use berth_net::PolicedClient;

use crate::transport::{FrameParser, open_stream};
use crate::types::{EventStream, ModelRequest, StreamEvent};
use crate::{ModelClient, ModelError, ModelErrorKind};

/// Which dialect of the API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI itself: `max_completion_tokens`.
    OpenAi,
    /// Compatible servers, which widely accept only `max_tokens`.
    Compatible,
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: String,
    /// e.g. `https://api.openai.com/v1`; `/v1` is added when missing.
    pub base_url: String,
    pub custom_headers: Vec<(String, String)>,
    pub idle_timeout: Duration,
    pub dialect: Dialect,
}

impl OpenAiConfig {
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>, dialect: Dialect) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: base_url.into(),
            custom_headers: Vec::new(),
            idle_timeout: Duration::from_secs(300),
            dialect,
        }
    }
}

/// `{base}/chat/completions`, adding `/v1` to a bare host.
pub fn completions_endpoint(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let has_version = base
        .rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix('v'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if has_version {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

pub struct OpenAiClient {
    http: PolicedClient,
    config: OpenAiConfig,
    endpoint: String,
}

impl OpenAiClient {
    pub fn new(config: OpenAiConfig, http: PolicedClient) -> Self {
        let endpoint = completions_endpoint(&config.base_url);
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
impl ModelClient for OpenAiClient {
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError> {
        let body = wire::request_body(request, self.config.dialect);
        let mut builder = self
            .http
            .request(reqwest::Method::POST, &self.endpoint)
            .map_err(|e| ModelError::new(ModelErrorKind::Connection, e.to_string()))?
            .bearer_auth(&self.config.api_key)
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
