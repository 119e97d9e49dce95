//! Fixture MCP servers: real Streamable HTTP servers on loopback built with rmcp's server side.
//!
//! [`McpFixture`] serves a few tools (`echo`, `add`, `fail`, `sleep`) at `/mcp`. An axum
//! middleware in front of the rmcp service can require a bearer token (answering 401 with
//! `WWW-Authenticate: Bearer` otherwise), swap the accepted token at runtime (to test rotation
//! and refresh), fail every request with 500, and records every HTTP request it sees with its
//! `Authorization` header and JSON-RPC method. Tool calls are recorded too.
//!
//! [`HangingServer`] accepts TCP connections and never answers, for timeout tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Largest request body the recording middleware buffers.
const MAX_RECORDED_BODY: usize = 1024 * 1024;

/// How a fixture starts.
#[derive(Debug, Clone, Default)]
pub struct McpFixtureOptions {
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Serve `tools/list` in pages of this many tools (all at once when `None`).
    pub page_size: Option<usize>,
    /// Answer every request with 500.
    pub failing: bool,
}

/// An HTTP request the fixture received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `POST`, `GET` or `DELETE`.
    pub method: String,
    pub authorization: Option<String>,
    /// The JSON-RPC `method` of a POSTed request or notification.
    pub rpc_method: Option<String>,
}

/// A `tools/call` the fixture served.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenCall {
    pub tool: String,
    pub arguments: Value,
}

#[derive(Default)]
struct FixtureState {
    token: Mutex<Option<String>>,
    failing: AtomicBool,
    page_size: Option<usize>,
    requests: Mutex<Vec<SeenRequest>>,
    calls: Mutex<Vec<SeenCall>>,
}

/// A running fixture MCP server; dropped, it stops.
pub struct McpFixture {
    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    state: Arc<FixtureState>,
    shutdown: CancellationToken,
}

impl McpFixture {
    /// A server with no authentication.
    pub async fn start() -> Self {
        Self::start_with(McpFixtureOptions::default()).await
    }

    pub async fn start_with(options: McpFixtureOptions) -> Self {
        let state = Arc::new(FixtureState {
            token: Mutex::new(options.token),
            failing: AtomicBool::new(options.failing),
            page_size: options.page_size,
            ..FixtureState::default()
        });
        let shutdown = CancellationToken::new();
        let tools = FixtureTools {
            state: Arc::clone(&state),
        };
        let config = StreamableHttpServerConfig::default()
            .with_sse_keep_alive(None)
            .with_cancellation_token(shutdown.child_token());
        let service: StreamableHttpService<FixtureTools, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(tools.clone()), Default::default(), config);
        let app = Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(Arc::clone(&state), gate),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind MCP fixture");
        let url = format!("http://{}/mcp", listener.local_addr().expect("local addr"));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            // Small SSE frames must not wait for delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Self {
            url,
            state,
            shutdown,
        }
    }

    /// Accepts only `token` from now on (`None`: no authentication).
    pub fn set_token(&self, token: Option<&str>) {
        *self.state.token.lock().expect("token lock") = token.map(str::to_owned);
    }

    /// Answers every request with 500 (or serves again).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Every HTTP request received so far, refused ones included.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().expect("requests lock").len()
    }

    /// The `Authorization` header of every request so far (`None` where there was none).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .map(|r| r.authorization)
            .collect()
    }

    /// Every tool call served so far.
    pub fn calls(&self) -> Vec<SeenCall> {
        self.state.calls.lock().expect("calls lock").clone()
    }
}

impl Drop for McpFixture {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Records the request, then refuses it (failing mode, wrong token) or passes it to rmcp.
async fn gate(State(state): State<Arc<FixtureState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RECORDED_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let rpc_method = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("method").and_then(Value::as_str).map(str::to_owned));
    state
        .requests
        .lock()
        .expect("requests lock")
        .push(SeenRequest {
            method: parts.method.to_string(),
            authorization: authorization.clone(),
            rpc_method,
        });

    if state.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "failing as asked").into_response();
    }
    let expected = state.token.lock().expect("token lock").clone();
    if let Some(token) = expected
        && authorization.as_deref() != Some(format!("Bearer {token}").as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[derive(Clone)]
struct FixtureTools {
    state: Arc<FixtureState>,
}

fn schema(value: Value) -> JsonObject {
    value.as_object().cloned().expect("schema is an object")
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "echo",
            "Returns its text.",
            schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            })),
        ),
        Tool::new(
            "add",
            "Adds two integers.",
            schema(json!({
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            })),
        ),
        Tool::new(
            "fail",
            "Reports a tool error with the given message.",
            schema(json!({
                "type": "object",
                "properties": {"message": {"type": "string"}},
            })),
        ),
        Tool::new(
            "sleep",
            "Waits `ms` milliseconds, then answers.",
            schema(json!({
                "type": "object",
                "properties": {"ms": {"type": "integer"}},
                "required": ["ms"],
            })),
        ),
    ]
}

impl ServerHandler for FixtureTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let all = tools();
        let Some(page_size) = self.state.page_size else {
            return Ok(ListToolsResult::with_all_items(all));
        };
        let start: usize = request
            .and_then(|r| r.cursor)
            .map(|c| c.parse())
            .transpose()
            .map_err(|_| ErrorData::invalid_params("bad cursor", None))?
            .unwrap_or(0);
        let end = (start + page_size).min(all.len());
        let mut page =
            ListToolsResult::with_all_items(all.get(start..end).unwrap_or_default().to_vec());
        if end < all.len() {
            page.next_cursor = Some(end.to_string());
        }
        Ok(page)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        self.state.calls.lock().expect("calls lock").push(SeenCall {
            tool: request.name.to_string(),
            arguments: Value::Object(arguments.clone()),
        });
        let text = |key: &str| {
            arguments
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let int = |key: &str| arguments.get(key).and_then(Value::as_i64);
        let result = match request.name.as_ref() {
            "echo" => CallToolResult::success(vec![ContentBlock::text(text("text"))]),
            "add" => match (int("a"), int("b")) {
                (Some(a), Some(b)) => {
                    CallToolResult::success(vec![ContentBlock::text((a + b).to_string())])
                }
                _ => return Err(ErrorData::invalid_params("a and b must be integers", None)),
            },
            "fail" => CallToolResult::error(vec![ContentBlock::text(text("message"))]),
            "sleep" => {
                let ms = int("ms").unwrap_or(0).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallToolResult::success(vec![ContentBlock::text("slept")])
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named {other}"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

/// Accepts TCP connections and never answers, holding them open until dropped.
pub struct HangingServer {
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl HangingServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind hanging server");
        let url = format!("http://{}/mcp", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Self { url, task }
    }
}

impl Drop for HangingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
