//! A fake Anthropic Messages API: a real HTTP server on loopback that streams scripted replies in
//! the real wire format (`message_start` … `message_stop`, text, thinking and tool_use blocks,
//! error statuses) and records every request so tests can assert on what Berth sent.
//!
//! With nothing scripted it answers every request with `echo: <last user text>`, which is what
//! the standalone `berth-fake-llm` binary serves for benchmarks and demos.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

/// One block of a scripted assistant message.
#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// What the fake answers to one request.
#[derive(Debug, Clone)]
pub enum ModelReply {
    /// A streamed message.
    Message(ScriptedMessage),
    /// An HTTP error with the provider's JSON error body.
    Error {
        status: u16,
        error_type: String,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// An `event: error` frame after `message_start` (a failure mid-stream).
    StreamError { error_type: String, message: String },
}

#[derive(Debug, Clone)]
pub struct ScriptedMessage {
    pub blocks: Vec<Block>,
    pub stop_reason: String,
    pub usage: FakeUsage,
    /// Pause between streamed frames.
    pub frame_delay: Duration,
    /// Characters per text delta.
    pub chunk_chars: usize,
    /// Stop sending (but keep the connection open) after this many text deltas.
    pub hang_after_deltas: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
pub struct FakeUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Default for FakeUsage {
    fn default() -> Self {
        Self {
            input_tokens: 12,
            output_tokens: 7,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
        }
    }
}

impl ModelReply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::message(vec![Block::Text(text.into())], "end_turn")
    }

    pub fn message(blocks: Vec<Block>, stop_reason: &str) -> Self {
        ModelReply::Message(ScriptedMessage {
            blocks,
            stop_reason: stop_reason.to_owned(),
            usage: FakeUsage::default(),
            frame_delay: Duration::ZERO,
            chunk_chars: 8,
            hang_after_deltas: None,
        })
    }

    pub fn thinking_then_text(thinking: &str, signature: &str, text: &str) -> Self {
        Self::message(
            vec![
                Block::Thinking {
                    text: thinking.to_owned(),
                    signature: signature.to_owned(),
                },
                Block::Text(text.to_owned()),
            ],
            "end_turn",
        )
    }

    pub fn tool_use(id: &str, name: &str, input: Value) -> Self {
        Self::message(
            vec![Block::ToolUse {
                id: id.to_owned(),
                name: name.to_owned(),
                input,
            }],
            "tool_use",
        )
    }

    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        ModelReply::Error {
            status,
            error_type: error_type.to_owned(),
            message: message.to_owned(),
            retry_after_secs: None,
        }
    }

    fn scripted(&mut self) -> Option<&mut ScriptedMessage> {
        match self {
            ModelReply::Message(m) => Some(m),
            _ => None,
        }
    }

    /// Waits this long between streamed frames.
    pub fn with_frame_delay(mut self, delay: Duration) -> Self {
        if let Some(m) = self.scripted() {
            m.frame_delay = delay;
        }
        self
    }

    /// Stops streaming after `deltas` text deltas and holds the connection open.
    pub fn hanging_after(mut self, deltas: usize) -> Self {
        if let Some(m) = self.scripted() {
            m.hang_after_deltas = Some(deltas);
        }
        self
    }

    pub fn with_usage(mut self, usage: FakeUsage) -> Self {
        if let Some(m) = self.scripted() {
            m.usage = usage;
        }
        self
    }

    pub fn with_chunk_chars(mut self, chars: usize) -> Self {
        if let Some(m) = self.scripted() {
            m.chunk_chars = chars.max(1);
        }
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub headers: HeaderMap,
    pub body: Value,
}

impl RecordedRequest {
    /// The text of the last user message's text blocks.
    pub fn last_user_text(&self) -> String {
        last_user_text(&self.body)
    }
}

#[derive(Default)]
struct FakeState {
    script: Mutex<VecDeque<ModelReply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
    /// How long each streamed reply took, from request to last byte (for benchmarks that
    /// subtract model time from turn time).
    served: Mutex<Vec<Duration>>,
}

/// A running fake; dropped, it stops.
pub struct FakeAnthropic {
    pub base_url: String,
    state: Arc<FakeState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FakeAnthropic {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Self {
        let state = Arc::new(FakeState::default());
        let app = router(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind fake model");
        let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base_url,
            state,
            _shutdown: tx,
        }
    }

    /// Queues replies, answered in order; once empty the fake echoes.
    pub fn push(&self, reply: ModelReply) {
        if let Ok(mut script) = self.state.script.lock() {
            script.push_back(reply);
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Serving time of every streamed reply so far, in arrival order.
    pub fn served_durations(&self) -> Vec<Duration> {
        self.state
            .served
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Forgets recorded requests and timings (long benchmarks would otherwise grow them).
    pub fn clear_records(&self) {
        if let Ok(mut r) = self.state.requests.lock() {
            r.clear();
        }
        if let Ok(mut s) = self.state.served.lock() {
            s.clear();
        }
    }

    /// Waits until at least `n` requests have arrived (or the timeout passes).
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            let requests = self.requests();
            if requests.len() >= n || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

pub(crate) fn router_for_binary() -> Router {
    router(Arc::new(FakeState::default()))
}

fn router(state: Arc<FakeState>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/__fake/replies", post(push_replies))
        .route("/__fake/requests", axum::routing::get(list_requests))
        .with_state(state)
}

/// `POST /__fake/replies` with a JSON array of replies queues them, so tests written in other
/// languages (the SDK suites) can script the fake too. Each reply is one of
/// `{"type":"text","text"}`, `{"type":"tool_use","id","name","input"}`,
/// `{"type":"message","blocks":[…],"stop_reason","frame_delay_ms"?}` with blocks of type
/// `text`, `thinking` (`thinking`, `signature`) or `tool_use`, and
/// `{"type":"error","status","error_type","message"}`.
async fn push_replies(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "expected a JSON array of replies").into_response();
    };
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        match reply_from_json(item) {
            Some(reply) => parsed.push(reply),
            None => {
                return (StatusCode::BAD_REQUEST, format!("not a reply: {item}")).into_response();
            }
        }
    }
    if let Ok(mut script) = state.script.lock() {
        script.extend(parsed);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests(State(state): State<Arc<FakeState>>) -> Response {
    let bodies: Vec<Value> = state
        .requests
        .lock()
        .map(|r| r.iter().map(|r| r.body.clone()).collect())
        .unwrap_or_default();
    axum::Json(bodies).into_response()
}

fn block_from_json(v: &Value) -> Option<Block> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(match v.get("type")?.as_str()? {
        "text" => Block::Text(text("text")?),
        "thinking" => Block::Thinking {
            text: text("thinking")?,
            signature: text("signature").unwrap_or_else(|| "sig".to_owned()),
        },
        "tool_use" => Block::ToolUse {
            id: text("id")?,
            name: text("name")?,
            input: v.get("input").cloned().unwrap_or_else(|| json!({})),
        },
        _ => return None,
    })
}

fn reply_from_json(v: &Value) -> Option<ModelReply> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(match v.get("type")?.as_str()? {
        "text" => ModelReply::text(text("text")?),
        "tool_use" => ModelReply::tool_use(
            &text("id")?,
            &text("name")?,
            v.get("input").cloned().unwrap_or_else(|| json!({})),
        ),
        "message" => {
            let blocks = v
                .get("blocks")?
                .as_array()?
                .iter()
                .map(block_from_json)
                .collect::<Option<Vec<_>>>()?;
            let stop = text("stop_reason").unwrap_or_else(|| "end_turn".to_owned());
            let delay = v.get("frame_delay_ms").and_then(Value::as_u64).unwrap_or(0);
            ModelReply::message(blocks, &stop).with_frame_delay(Duration::from_millis(delay))
        }
        "error" => ModelReply::error(
            u16::try_from(v.get("status")?.as_u64()?).ok()?,
            &text("error_type")?,
            &text("message").unwrap_or_default(),
        ),
        _ => return None,
    })
}

async fn messages(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(RecordedRequest {
            headers: headers.clone(),
            body: body.clone(),
        });
    }
    state.arrived.notify_waiters();
    if headers.get("x-api-key").is_none() && headers.get("authorization").is_none() {
        return error_response(
            401,
            "authentication_error",
            "x-api-key header is required",
            None,
        );
    }
    let reply = state
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .unwrap_or_else(|| ModelReply::text(format!("echo: {}", last_user_text(&body))));
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake")
        .to_owned();
    match reply {
        ModelReply::Error {
            status,
            error_type,
            message,
            retry_after_secs,
        } => error_response(status, &error_type, &message, retry_after_secs),
        ModelReply::StreamError {
            error_type,
            message,
        } => {
            let frames = vec![
                frame(
                    "message_start",
                    &message_start(&model, FakeUsage::default()),
                ),
                frame(
                    "error",
                    &json!({"type": "error", "error": {"type": error_type, "message": message}}),
                ),
            ];
            sse_response(frames_stream(frames, Duration::ZERO, None, None))
        }
        ModelReply::Message(message) if streaming => {
            stream_message(&model, message, Some((Arc::clone(&state), arrived)))
        }
        ModelReply::Message(message) => {
            (StatusCode::OK, axum::Json(whole_message(&model, &message))).into_response()
        }
    }
}

fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn error_response(
    status: u16,
    error_type: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"type": "error", "error": {"type": error_type, "message": message}})),
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

fn message_start(model: &str, usage: FakeUsage) -> Value {
    json!({"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1,
                  "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                  "cache_read_input_tokens": usage.cache_read_input_tokens}}})
}

fn frame(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

/// The frames of a scripted message; `None` marks where the stream hangs.
fn message_frames(model: &str, m: &ScriptedMessage) -> Vec<Option<Bytes>> {
    let mut out = vec![Some(frame("message_start", &message_start(model, m.usage)))];
    let mut deltas = 0usize;
    for (index, block) in m.blocks.iter().enumerate() {
        match block {
            Block::Text(text) => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))));
                for piece in chunks(text, m.chunk_chars) {
                    if m.hang_after_deltas == Some(deltas) {
                        out.push(None);
                        return out;
                    }
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}))));
                    deltas += 1;
                }
            }
            Block::Thinking { text, signature } => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": ""}}))));
                for piece in chunks(text, m.chunk_chars) {
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}}))));
                }
                out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": signature}}))));
            }
            Block::ToolUse { id, name, input } => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}))));
                for piece in chunks(&input.to_string(), 10) {
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}))));
                }
            }
        }
        out.push(Some(frame(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )));
    }
    if m.hang_after_deltas.is_some_and(|n| n >= deltas) {
        out.push(None);
        return out;
    }
    out.push(Some(frame("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": m.stop_reason, "stop_sequence": null}, "usage": {"output_tokens": m.usage.output_tokens}}))));
    out.push(Some(frame(
        "message_stop",
        &json!({"type": "message_stop"}),
    )));
    out
}

type Timing = Option<(Arc<FakeState>, std::time::Instant)>;

fn stream_message(model: &str, m: ScriptedMessage, timing: Timing) -> Response {
    let frames = message_frames(model, &m);
    let hang = frames.iter().position(Option::is_none);
    let frames: Vec<Bytes> = frames.into_iter().flatten().collect();
    sse_response(frames_stream(frames, m.frame_delay, hang, timing))
}

fn frames_stream(
    frames: Vec<Bytes>,
    delay: Duration,
    hang_at: Option<usize>,
    timing: Timing,
) -> mpsc::Receiver<Result<Bytes, Infallible>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for (i, f) in frames.into_iter().enumerate() {
            if hang_at == Some(i) {
                break;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(f)).await.is_err() {
                return;
            }
        }
        if hang_at.is_some() {
            // Hold the stream open until the client goes away.
            tx.closed().await;
        } else if let Some((state, arrived)) = timing
            && let Ok(mut served) = state.served.lock()
        {
            served.push(arrived.elapsed());
        }
    });
    rx
}

fn sse_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn whole_message(model: &str, m: &ScriptedMessage) -> Value {
    let content: Vec<Value> = m
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) => json!({"type": "text", "text": t}),
            Block::Thinking { text, signature } => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect();
    json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": m.stop_reason, "stop_sequence": null,
           "usage": {"input_tokens": m.usage.input_tokens, "output_tokens": m.usage.output_tokens,
                     "cache_creation_input_tokens": m.usage.cache_creation_input_tokens,
                     "cache_read_input_tokens": m.usage.cache_read_input_tokens}})
}
