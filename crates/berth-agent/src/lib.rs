//! The turn loop: everything between "a turn started" and "the session goes idle".
//!
//! Each step rebuilds the model's context from the event log ([`context`]), streams one model
//! request ([`step`]), publishes live deltas as they arrive ([`live`]) and appends the durable
//! events the step produced. Tool calls go to a [`ToolRouter`]; calls the client must answer
//! (custom tools, confirmations) end the turn with `requires_action`. The loop keeps no state of
//! its own: a crash loses nothing the log does not already hold.
//!
//! The crate knows nothing of HTTP or SQL; its host (the server's runner) implements
//! [`TurnHost`] on top of the store and the event bus.

mod attachments;
mod compaction;
mod confirmations;
pub mod context;
pub mod fitting;
pub mod live;
mod retry;
mod step;
pub mod tools;

use std::sync::Arc;

use async_trait::async_trait;
use berth_llm::{ModelClient, ModelError};

use berth_protocol::event::{Event, EventKind, EventPrivate, ModelUsage, StopReason};
use berth_protocol::session::{SessionAgent, SessionStatus};
use tokio_util::sync::CancellationToken;

pub use compaction::{DEFAULT_COMPACTION_THRESHOLD, estimate};
pub use live::LiveDelta;
pub use retry::{RetryPolicy, exhausted_error};
pub use tools::{ToolCall, ToolOutcome, ToolRouter};

/// Most model requests one turn may make before it is stopped as a runaway loop.
pub const MAX_STEPS: usize = 100;
/// Output tokens requested per model call when the agent does not ask for thinking.
pub const DEFAULT_MAX_TOKENS: u32 = 8192;

/// An event the loop produced, with the parts of it the log keeps private.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub event: Event,
    pub private: EventPrivate,
}

impl Emitted {
    pub fn public(event: Event) -> Self {
        Self {
            event,
            private: EventPrivate::default(),
        }
    }
}

/// An event read back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub event: Event,
    pub private: EventPrivate,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Another runner owns the session now; stop without writing anything more.
    #[error("the session's lease was lost")]
    LeaseLost,
    #[error("storage failed: {0}")]
    Storage(String),
}

/// What the loop needs from whoever runs it.
#[async_trait]
pub trait TurnHost: Send + Sync {
    /// The processed events in the order the model sees them.
    async fn context(&self) -> Result<Arc<Vec<LogEvent>>, HostError>;
    /// Appends durable events (and the usage they account for) atomically.
    async fn append(
        &self,
        events: Vec<Emitted>,
        usage: Option<ModelUsage>,
    ) -> Result<(), HostError>;
    /// Appends events that move the session to `status` (retry backoff and its end).
    async fn transition(
        &self,
        events: Vec<Emitted>,
        status: SessionStatus,
    ) -> Result<(), HostError>;
    /// Sends a transient delta to live subscribers; never stored.
    fn publish(&self, delta: LiveDelta);
    /// Records the text streamed so far for an event not yet written (crash safety).
    async fn save_partial(&self, event_id: &str, kind: EventKind, text: &str);
    /// An uploaded file's bytes as a base64 source (`{type, media_type, data}`), for image and
    /// document blocks that name a file.
    async fn file_source(&self, file_id: &str) -> Result<serde_json::Value, String> {
        Err(format!("file {file_id} is not available here"))
    }
}

/// The model a step runs on, resolved afresh for every step so a rotated credential applies at
/// the next model call.
pub struct ResolvedModel {
    pub client: Arc<dyn ModelClient>,
    /// The model name the provider expects.
    pub model: String,
    /// Tokens the model's context holds.
    pub context_window: u32,
    /// Whether the provider takes Anthropic-style extended thinking.
    pub supports_thinking: bool,
}

#[async_trait]
pub trait ModelSource: Send + Sync {
    async fn resolve(&self) -> Result<ResolvedModel, ModelError>;
}

/// The fixed inputs of one turn.
pub struct TurnConfig {
    pub agent: SessionAgent,
    pub system_prompt: Option<String>,
    pub model: Arc<dyn ModelSource>,
    pub tools: Arc<dyn ToolRouter>,
    pub max_steps: usize,
    /// Compact when the context passes this fraction of the model's window.
    pub compaction_threshold: f64,
    pub retry: RetryPolicy,
}

/// How a turn ended.
#[derive(Debug)]
pub enum TurnEnd {
    /// The model finished; the session goes idle with this reason.
    Idle(StopReason),
    /// `user.interrupt` or cancel: partial output was written, the session goes idle.
    Interrupted,
    /// The model request failed in a way retrying cannot fix (bad key, bad request).
    ModelFailed(ModelError),
    /// The model request kept failing with retryable errors until the retries ran out.
    RetriesExhausted(ModelError),
    /// The step limit was reached.
    StepLimit,
    /// The model's answer was cut off at the output token limit.
    OutputLimit,
    /// The context is over the model's window and could not be compacted enough.
    CompactionLimit(String),
    /// The host could not write (lease lost, storage down).
    Host(HostError),
}

/// Runs steps until the turn ends.
pub async fn run_turn(
    host: &dyn TurnHost,
    config: &TurnConfig,
    cancel: &CancellationToken,
) -> TurnEnd {
    let mut log = match host.context().await {
        Ok(log) => log,
        Err(e) => return TurnEnd::Host(e),
    };
    match confirmations::resolve(host, config, &log, cancel).await {
        Ok(false) => {}
        Ok(true) => {
            log = match host.context().await {
                Ok(log) => log,
                Err(e) => return TurnEnd::Host(e),
            };
        }
        Err(end) => return end,
    }
    if cancel.is_cancelled() {
        return TurnEnd::Interrupted;
    }
    // Answers to only some of the pending tool calls: wait for the rest before calling the model.
    let waiting = step::unanswered_calls(&log);
    if !waiting.is_empty() {
        return TurnEnd::Idle(StopReason::RequiresAction { event_ids: waiting });
    }
    let mut retrier = retry::Retrier::new(&config.retry);
    let mut steps = 0;
    let mut fresh = true;
    while steps < config.max_steps {
        if cancel.is_cancelled() {
            return TurnEnd::Interrupted;
        }
        if !fresh {
            log = match host.context().await {
                Ok(log) => log,
                Err(e) => return TurnEnd::Host(e),
            };
        }
        fresh = false;
        let failure = match attempt_step(host, config, &log, cancel).await {
            Ok(step::StepOutcome::Continue) => {
                retrier.succeeded();
                steps += 1;
                continue;
            }
            Ok(step::StepOutcome::End(TurnEnd::ModelFailed(e))) | Err(TurnEnd::ModelFailed(e)) => e,
            Ok(step::StepOutcome::End(end)) | Err(end) => return end,
        };
        if let Err(end) = retrier.failed(host, failure, cancel).await {
            return end;
        }
    }
    TurnEnd::StepLimit
}

/// Resolves the model, compacts if needed, and runs one step.
async fn attempt_step(
    host: &dyn TurnHost,
    config: &TurnConfig,
    log: &Arc<Vec<LogEvent>>,
    cancel: &CancellationToken,
) -> Result<step::StepOutcome, TurnEnd> {
    let model = config.model.resolve().await.map_err(TurnEnd::ModelFailed)?;
    let compacted = compaction::maybe_compact(host, config, &model, log, cancel).await?;
    let log = compacted.as_ref().unwrap_or(log);
    Ok(step::run(host, config, &model, log, cancel).await)
}
