//! A fixture MCP server that speaks only the older HTTP+SSE transport (MCP 2024-11-05), written
//! by hand so it behaves like the servers that predate Streamable HTTP.
//!
//! `GET /sse` opens a session's event stream, whose first event is `endpoint` with data
//! `/messages?session_id=<id>`; `POST /messages?session_id=<id>` takes one JSON-RPC message,
//! answers 202 and pushes the response as a `message` event onto that session's stream. A POST
//! to `/sse` gets 405, which is what makes a client fall back from Streamable HTTP. It serves
//! `initialize`, `ping`, `tools/list` and `tools/call` of one tool, `echo`.
//!
//! Like [`crate::mcp_fixture`], it can require a bearer token (401 otherwise, changeable at
//! runtime) and records every request with its `Authorization` header. Options make it announce
//! an endpoint of its choosing (another origin) or never announce one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// Largest request body the fixture reads.
const MAX_BODY: usize = 1024 * 1024;
/// Server messages a session's stream holds before a POST waits for the client to read.
const STREAM_BUFFER: usize = 64;
/// What the fixture answers `initialize` with: the last revision before Streamable HTTP.
pub const PROTOCOL_VERSION: &str = "2024-11-05";

/// How the fixture starts.
#[derive(Debug, Clone, Default)]
pub struct LegacySseFixtureOptions {
    /// Require `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Announce this as the endpoint instead of `/messages?session_id=<id>`.
    pub endpoint: Option<String>,
    /// Never send the `endpoint` event (the stream stays open and silent).
    pub silent: bool,
}

/// An HTTP request the fixture received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub authorization: Option<String>,
    /// The JSON-RPC `method` of a POSTed request or notification.
    pub rpc_method: Option<String>,
}

struct FixtureState {
    options: LegacySseFixtureOptions,
    token: Mutex<Option<String>>,
    next_session: AtomicU64,
    /// Each session's way onto its event stream.
    sessions: Mutex<HashMap<String, mpsc::Sender<Event>>>,
    requests: Mutex<Vec<SeenRequest>>,
    shutdown: CancellationToken,
}

/// A running HTTP+SSE fixture; dropped, it stops (and ends its event streams).
pub struct LegacySseFixture {
    /// Where the event stream opens, `http://127.0.0.1:<port>/sse`.
    pub url: String,
    state: Arc<FixtureState>,
}

impl LegacySseFixture {
    /// A server with no authentication.
    pub async fn start() -> Self {
        Self::start_with(LegacySseFixtureOptions::default()).await
    }

    pub async fn start_with(options: LegacySseFixtureOptions) -> Self {
        let shutdown = CancellationToken::new();
        let state = Arc::new(FixtureState {
            token: Mutex::new(options.token.clone()),
            options,
            next_session: AtomicU64::new(1),
            sessions: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            shutdown: shutdown.clone(),
        });
        // Only GET is routed at /sse, so axum answers a POST there with 405.
        let app = Router::new()
            .route("/sse", get(open_stream))
            .route("/messages", post(take_message))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                gate,
            ))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind legacy SSE fixture");
        let url = format!("http://{}/sse", listener.local_addr().expect("local addr"));
        tokio::spawn(async move {
            // Small SSE frames must not wait for delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
        });
        Self { url, state }
    }

    /// Accepts only `token` from now on (`None`: no authentication).
    pub fn set_token(&self, token: Option<&str>) {
        *self.state.token.lock().expect("token lock") = token.map(str::to_owned);
    }

    /// Every HTTP request received so far, refused ones included.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.requests.lock().expect("requests lock").clone()
    }

    /// How many sessions' event streams a client still holds open.
    pub fn open_streams(&self) -> usize {
        let sessions = self.state.sessions.lock().expect("sessions lock");
        sessions.values().filter(|s| !s.is_closed()).count()
    }

    /// The `Authorization` header of every request so far (`None` where there was none).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.requests()
            .into_iter()
            .map(|r| r.authorization)
            .collect()
    }
}

impl Drop for LegacySseFixture {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// Records the request, then refuses it if the token is wrong.
async fn gate(State(state): State<Arc<FixtureState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
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
            path: parts.uri.path().to_owned(),
            authorization: authorization.clone(),
            rpc_method,
        });

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

/// `GET /sse`: a new session; its stream announces the endpoint, then carries the answers.
async fn open_stream(
    State(state): State<Arc<FixtureState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let id = state
        .next_session
        .fetch_add(1, Ordering::SeqCst)
        .to_string();
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    let announced = match (&state.options.endpoint, state.options.silent) {
        (_, true) => None,
        (Some(endpoint), false) => Some(endpoint.clone()),
        (None, false) => Some(format!("/messages?session_id={id}")),
    };
    if let Some(endpoint) = announced {
        let event = Event::default().event("endpoint").data(endpoint);
        sender.try_send(event).expect("room for the endpoint event");
    }
    state
        .sessions
        .lock()
        .expect("sessions lock")
        .insert(id, sender);
    let events = ReceiverStream::new(receiver)
        .map(Ok)
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(events)
}

/// `POST /messages?session_id=<id>`: 202, with the answer (if any) sent on the session's stream.
async fn take_message(
    State(state): State<Arc<FixtureState>>,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let sender = query.get("session_id").and_then(|id| {
        state
            .sessions
            .lock()
            .expect("sessions lock")
            .get(id)
            .cloned()
    });
    let Some(sender) = sender else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    if let Some(answer) = answer(&message) {
        let event = Event::default().event("message").data(answer.to_string());
        if sender.send(event).await.is_err() {
            return (StatusCode::GONE, "the session's stream is closed").into_response();
        }
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

/// The JSON-RPC answer to a client message; notifications and responses get none.
fn answer(message: &Value) -> Option<Value> {
    let id = message.get("id")?.clone();
    let method = message.get("method")?.as_str()?;
    let params = message.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "initialize" => json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "berth-legacy-sse-fixture", "version": "0.1.0"},
        }),
        "ping" => json!({}),
        "tools/list" => json!({
            "tools": [{
                "name": "echo",
                "description": "Returns its text.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            }],
        }),
        "tools/call" if params["name"] == "echo" => json!({
            "content": [{"type": "text", "text": params["arguments"]["text"].as_str().unwrap_or_default()}],
        }),
        "tools/call" => {
            return Some(error(
                id,
                -32602,
                &format!("no tool named {}", params["name"]),
            ));
        }
        other => return Some(error(id, -32601, &format!("no method {other}"))),
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
