//! The MCP client Berth uses to call the tools of agents' MCP servers.
//!
//! Built on the official `rmcp` SDK over the Streamable HTTP transport, falling back to the
//! older HTTP+SSE transport (module `legacy_sse`) for servers that refuse the Streamable HTTP
//! `initialize` with a 4xx, as the spec's backwards-compatibility section says clients should.
//! The HTTP side is our own (module `http`): connections go through the operator's egress policy,
//! and the bearer token is asked of an [`Authorizer`] on every request, so credentials can rotate
//! and OAuth tokens refresh mid-session. [`McpClient::connect`] does the `initialize` handshake
//! and lists the tools; [`McpClient::call_tool`] calls one and returns its result as Anthropic
//! content blocks (module `content`). The model-facing names of tools are
//! `berth_protocol::agent_tools::mcp_tool_name`.

mod content;
mod error;
mod http;
mod legacy_sse;

use std::sync::Arc;
use std::time::Duration;

use berth_net::EgressPolicy;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, Tool};
use rmcp::service::{RoleClient, RunningService, ServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::common::client_side_sse::ExponentialBackoff;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

pub use error::{AuthError, McpError};

/// [`McpClient::transport`] of a session over Streamable HTTP (MCP 2025-03-26 and later).
pub const STREAMABLE_HTTP: &str = "streamable_http";
/// [`McpClient::transport`] of a session over the older HTTP+SSE transport (MCP 2024-11-05).
pub const SSE: &str = "sse";

/// How often the server's event stream (the GET that carries server-initiated messages) is
/// reopened after it drops, before the session goes on without it. Tool calls do not need it;
/// it only carries notifications.
const EVENT_STREAM_RECONNECTS: usize = 5;
/// Longest wait between two reopenings of the event stream.
const EVENT_STREAM_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Supplies the bearer token for one MCP server and renews it when the server refuses it.
#[async_trait::async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// The token to send now, if any.
    async fn token(&self) -> Result<Option<String>, AuthError>;
    /// The server answered 401 to `refused`: return a fresh token to retry once with, or None.
    async fn refresh(&self, refused: &str) -> Result<Option<String>, AuthError>;
}

/// An [`Authorizer`] with a fixed token (or none), which it cannot renew.
#[derive(Debug, Clone, Default)]
pub struct StaticToken(pub Option<String>);

#[async_trait::async_trait]
impl Authorizer for StaticToken {
    async fn token(&self) -> Result<Option<String>, AuthError> {
        Ok(self.0.clone())
    }

    async fn refresh(&self, _refused: &str) -> Result<Option<String>, AuthError> {
        Ok(None)
    }
}

/// An MCP server an agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    /// The agent's name for the server (the `<server>` in `mcp__<server>__<tool>`).
    pub name: String,
    /// Its MCP endpoint: the Streamable HTTP one, or for a server that speaks only the older
    /// HTTP+SSE transport, the one its event stream is opened at.
    pub url: String,
}

/// A tool an MCP server offers.
#[derive(Debug, Clone, PartialEq)]
pub struct McpTool {
    /// The tool's MCP name (what [`McpClient::call_tool`] takes).
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments (a JSON object).
    pub input_schema: serde_json::Value,
}

/// A tool's result as Anthropic content blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCallResult {
    pub content: Vec<serde_json::Value>,
    /// The tool reported failure (the model should see the content as an error).
    pub is_error: bool,
}

/// A live session with one MCP server.
pub struct McpClient {
    service: RunningService<RoleClient, ClientConfig>,
    transport: &'static str,
    tools: Vec<McpTool>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("transport", &self.transport)
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

impl McpClient {
    /// Connects (initialize handshake, over Streamable HTTP or else HTTP+SSE) and lists every
    /// tool (following `tools/list` pagination), all within `startup_timeout`.
    pub async fn connect(
        policy: &EgressPolicy,
        server: &McpServer,
        auth: Arc<dyn Authorizer>,
        startup_timeout: Duration,
    ) -> Result<Self, McpError> {
        let url = policy
            .check_url(&server.url)
            .map_err(|e| McpError::Connection(e.to_string()))?;
        let client = http::PolicedHttpClient::new(policy, auth)
            .map_err(|e| McpError::Connection(format!("cannot build the HTTP client: {e}")))?;

        let startup = async {
            let (service, transport) = initialize(policy, &url, client).await?;
            tracing::debug!(server = %server.name, transport, "MCP session initialized");
            let tools = service
                .peer()
                .list_all_tools()
                .await
                .map_err(error::from_service)?;
            Ok::<_, McpError>((service, transport, tools))
        };
        let (service, transport, tools) = tokio::time::timeout(startup_timeout, startup)
            .await
            .map_err(|_| McpError::Timeout("startup"))??;
        Ok(Self {
            service,
            transport,
            tools: tools.into_iter().map(mcp_tool).collect(),
        })
    }

    /// The transport the session runs over: [`STREAMABLE_HTTP`] or [`SSE`].
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    pub fn tools(&self) -> &[McpTool] {
        &self.tools
    }

    /// Calls a tool by its MCP name, bounded by `timeout`. A tool that runs but fails is an
    /// `Ok` result with `is_error` set; `Err` means the call itself failed.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<McpCallResult, McpError> {
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
        // Dropping the call on timeout sends `notifications/cancelled` to the server.
        let result = tokio::time::timeout(timeout, self.service.peer().call_tool(params))
            .await
            .map_err(|_| McpError::Timeout("tool call"))?
            .map_err(error::from_service)?;
        Ok(McpCallResult {
            is_error: result.is_error.unwrap_or(false),
            content: content::result_blocks(result),
        })
    }

    /// Ends the session (over Streamable HTTP the server is sent a DELETE for it; over HTTP+SSE
    /// the event stream is closed).
    pub async fn close(self) {
        if let Err(e) = self.service.cancel().await {
            tracing::debug!(error = %e, "MCP client task failed while closing");
        }
    }
}

/// The `initialize` handshake over Streamable HTTP, or, if the server refuses that POST with a
/// plain 4xx, over HTTP+SSE. A server that answers the GET as no HTTP+SSE server would is
/// reported as speaking neither, with both answers.
async fn initialize(
    policy: &EgressPolicy,
    url: &reqwest::Url,
    client: http::PolicedHttpClient,
) -> Result<(RunningService<RoleClient, ClientConfig>, &'static str), McpError> {
    let mut backoff = ExponentialBackoff::default();
    backoff.max_times = Some(EVENT_STREAM_RECONNECTS);
    backoff.max_delay = Some(EVENT_STREAM_MAX_BACKOFF);
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
    config.retry_config = Arc::new(backoff);
    let transport = StreamableHttpClientTransport::with_client(client.clone(), config);
    let refusal = match client_config().serve(transport).await {
        Ok(service) => return Ok((service, STREAMABLE_HTTP)),
        Err(e) => match error::streamable_http_refusal(&e) {
            Some(refusal) => refusal,
            None => return Err(error::from_initialize(e)),
        },
    };

    tracing::debug!(%refusal, "MCP server refused Streamable HTTP; trying HTTP+SSE");
    let transport = match legacy_sse::LegacySseTransport::connect(client, policy, url).await {
        Ok(transport) => transport,
        Err(e) if e.offers_no_sse() => return Err(error::neither_transport(&refusal, &e)),
        Err(e) => return Err(error::from_sse_connect(e)),
    };
    let service = client_config()
        .serve(transport)
        .await
        .map_err(error::from_initialize)?;
    Ok((service, SSE))
}

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("berth", env!("CARGO_PKG_VERSION")),
    )
}

fn mcp_tool(tool: Tool) -> McpTool {
    McpTool {
        name: tool.name.into_owned(),
        description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
        input_schema: serde_json::Value::Object(Arc::unwrap_or_clone(tool.input_schema)),
    }
}
