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
mod server;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use serde_json::Value;
use tokio::sync::Notify;

pub use openai::masked_key;
pub use script::{Block, FakeUsage, ModelReply, ScriptedMessage};
use server::{presented_key, router};

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
