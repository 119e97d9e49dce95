//! A fake model provider: a real HTTP server on loopback speaking both the Anthropic Messages
//! API (`POST /v1/messages`) and OpenAI Chat Completions (`POST /v1/chat/completions`) in their
//! real streaming formats. Tests script its replies (text, thinking, tool calls, errors, stalls),
//! restrict the keys and models it accepts, and read back every request it received.
//!
//! Streaming requests take the next scripted reply; with nothing scripted they are answered with
//! `echo: <last user text>`, which is what the standalone `berth-fake-llm` binary serves.
//! Non-streaming requests (capability probes) never consume the script: they get a short answer,
//! or the next reply queued with [`FakeModel::push_probe`].

mod anthropic;
mod openai;
mod script;

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
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

pub use openai::masked_key;
pub use script::{Block, FakeUsage, ModelReply, ScriptedMessage};

/// Called with every streamed frame just before it is sent (benchmarks timestamp tokens here).
pub type FrameObserver = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Answers streaming requests when nothing is scripted (instead of the echo), from the request.
pub type ReplyRule = Arc<dyn Fn(&RecordedRequest) -> ModelReply + Send + Sync>;

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Anthropic,
    OpenAi,
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub wire: Wire,
    pub headers: HeaderMap,
    pub body: Value,
}

impl RecordedRequest {
    /// The text of the last user message's text parts.
    pub fn last_user_text(&self) -> String {
        match self.wire {
            Wire::Anthropic => anthropic::last_user_text(&self.body),
            Wire::OpenAi => openai::last_user_text(&self.body),
        }
    }

    pub fn is_streaming(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// The key the client sent, from `x-api-key` or `Authorization: Bearer`.
    pub fn api_key(&self) -> Option<String> {
        presented_key(&self.headers)
    }
}

#[derive(Default)]
struct FakeState {
    script: Mutex<VecDeque<ModelReply>>,
    probe_script: Mutex<VecDeque<ModelReply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    arrived: Notify,
    /// How long each streamed reply took, from request to last byte (for benchmarks that
    /// subtract model time from turn time).
    served: Mutex<Vec<Duration>>,
    /// When set, only these keys are accepted.
    keys: Mutex<Option<Vec<String>>>,
    /// When set, only these models exist.
    models: Mutex<Option<Vec<String>>>,
    observer: Mutex<Option<FrameObserver>>,
    rule: Mutex<Option<ReplyRule>>,
}

/// A running fake; dropped, it stops.
pub struct FakeModel {
    pub base_url: String,
    state: Arc<FakeState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FakeModel {
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

    /// Queues replies to streaming requests, answered in order; once empty the fake echoes.
    pub fn push(&self, reply: ModelReply) {
        if let Ok(mut script) = self.state.script.lock() {
            script.push_back(reply);
        }
    }

    /// Queues a reply to the next non-streaming request (a capability probe).
    pub fn push_probe(&self, reply: ModelReply) {
        if let Ok(mut script) = self.state.probe_script.lock() {
            script.push_back(reply);
        }
    }

    /// Accepts only these keys from now on; others get the provider's 401.
    pub fn accept_keys(&self, keys: &[&str]) {
        if let Ok(mut k) = self.state.keys.lock() {
            *k = Some(keys.iter().map(|k| (*k).to_owned()).collect());
        }
    }

    /// Knows only these models from now on; others get the provider's 404.
    pub fn know_models(&self, models: &[&str]) {
        if let Ok(mut m) = self.state.models.lock() {
            *m = Some(models.iter().map(|m| (*m).to_owned()).collect());
        }
    }

    /// Calls `observer` with every streamed frame as it is sent.
    pub fn observe_frames(&self, observer: FrameObserver) {
        if let Ok(mut o) = self.state.observer.lock() {
            *o = Some(observer);
        }
    }

    /// Answers unscripted streaming requests with `rule` instead of the echo.
    pub fn reply_with(&self, rule: ReplyRule) {
        if let Ok(mut r) = self.state.rule.lock() {
            *r = Some(rule);
        }
    }

    /// Knows every model again.
    pub fn know_any_model(&self) {
        if let Ok(mut m) = self.state.models.lock() {
            *m = None;
        }
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The streaming requests only (what turns sent, without probes).
    pub fn turn_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_streaming)
            .collect()
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
    let anthropic = post(|s, h, b| complete(Wire::Anthropic, s, h, b));
    let openai = post(|s, h, b| complete(Wire::OpenAi, s, h, b));
    Router::new()
        .route("/v1/messages", anthropic)
        .route("/v1/chat/completions", openai)
        .route("/__fake/replies", post(push_replies))
        .route("/__fake/requests", axum::routing::get(list_requests))
        .with_state(state)
}

/// `POST /__fake/replies` with a JSON array of replies queues them, so tests written in other
/// languages (the SDK suites) can script the fake too; see `script::reply_from_json` for the
/// shapes.
async fn push_replies(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "expected a JSON array of replies").into_response();
    };
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        match script::reply_from_json(item) {
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

fn presented_key(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-api-key").map(str::to_owned).or_else(|| {
        header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
    })
}

fn error_response(
    wire: Wire,
    status: u16,
    error_type: &str,
    message: &str,
    code: Option<&str>,
    retry_after: Option<u64>,
) -> Response {
    let body = match wire {
        Wire::Anthropic => anthropic::error_body(error_type, message),
        Wire::OpenAi => openai::error_body(error_type, message, code),
    };
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// The provider's answer to a key it does not accept, or `None` if the key is fine.
fn check_key(state: &FakeState, wire: Wire, headers: &HeaderMap) -> Option<Response> {
    let key = presented_key(headers);
    let allowed = state.keys.lock().ok().and_then(|k| k.clone());
    let accepted = match (&key, &allowed) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(key), Some(allowed)) => allowed.contains(key),
    };
    if accepted {
        return None;
    }
    Some(match wire {
        Wire::Anthropic => error_response(
            wire,
            401,
            "authentication_error",
            "invalid x-api-key",
            None,
            None,
        ),
        Wire::OpenAi => {
            let message = match &key {
                Some(key) => format!(
                    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    masked_key(key)
                ),
                None => "You didn't provide an API key.".to_owned(),
            };
            error_response(
                wire,
                401,
                "invalid_request_error",
                &message,
                Some("invalid_api_key"),
                None,
            )
        }
    })
}

fn check_model(state: &FakeState, wire: Wire, model: &str) -> Option<Response> {
    let known = state.models.lock().ok().and_then(|m| m.clone())?;
    if known.iter().any(|m| m == model) {
        return None;
    }
    Some(match wire {
        Wire::Anthropic => error_response(
            wire,
            404,
            "not_found_error",
            &format!("model: {model}"),
            None,
            None,
        ),
        Wire::OpenAi => error_response(
            wire,
            404,
            "invalid_request_error",
            &format!("The model `{model}` does not exist or you do not have access to it."),
            Some("model_not_found"),
            None,
        ),
    })
}

async fn complete(
    wire: Wire,
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake")
        .to_owned();
    let recorded = RecordedRequest {
        wire,
        headers: headers.clone(),
        body,
    };
    let echo = format!("echo: {}", recorded.last_user_text());
    let ruled = state
        .rule
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .map(|rule| rule(&recorded));
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(recorded);
    }
    state.arrived.notify_waiters();
    if let Some(refusal) =
        check_key(&state, wire, &headers).or_else(|| check_model(&state, wire, &model))
    {
        return refusal;
    }
    let queue = if streaming {
        &state.script
    } else {
        &state.probe_script
    };
    let reply = queue
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .or(if streaming { ruled } else { None })
        .unwrap_or_else(|| ModelReply::text(if streaming { echo } else { "pong".to_owned() }));
    match reply {
        ModelReply::Error {
            status,
            error_type,
            message,
            retry_after_secs,
        } => error_response(wire, status, &error_type, &message, None, retry_after_secs),
        ModelReply::StreamError {
            error_type,
            message,
        } => {
            let frames = match wire {
                Wire::Anthropic => anthropic::stream_error_frames(&model, &error_type, &message),
                Wire::OpenAi => openai::stream_error_frames(&model, &error_type, &message),
            };
            sse_response(frames_stream(frames, Duration::ZERO, None, None))
        }
        ModelReply::Message(message) if streaming => {
            let frames = match wire {
                Wire::Anthropic => anthropic::message_frames(&model, &message),
                Wire::OpenAi => openai::message_frames(&model, &message, include_usage),
            };
            let observer = state.observer.lock().ok().and_then(|o| o.clone());
            sse_response(frames_stream(
                frames,
                message.frame_delay,
                Some((Arc::clone(&state), arrived)),
                observer,
            ))
        }
        ModelReply::Message(message) => {
            let whole = match wire {
                Wire::Anthropic => anthropic::whole_message(&model, &message),
                Wire::OpenAi => openai::whole_completion(&model, &message),
            };
            (StatusCode::OK, axum::Json(whole)).into_response()
        }
    }
}

type Timing = Option<(Arc<FakeState>, std::time::Instant)>;

/// Sends frames with `delay` between them; a `None` frame holds the stream open until the
/// client goes away.
fn frames_stream(
    frames: Vec<Option<Bytes>>,
    delay: Duration,
    timing: Timing,
    observer: Option<FrameObserver>,
) -> mpsc::Receiver<Result<Bytes, Infallible>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for f in frames {
            let Some(f) = f else {
                tx.closed().await;
                return;
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(observe) = &observer {
                observe(&f);
            }
            if tx.send(Ok(f)).await.is_err() {
                return;
            }
        }
        if let Some((state, arrived)) = timing
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
