//! Model clients behind one streaming trait.
//!
//! A [`ModelClient`] turns a provider-neutral [`ModelRequest`] into a stream of [`StreamEvent`]s
//! ending in [`StreamEvent::Done`]; [`ResponseBuilder`] folds those events into the finished
//! assistant message. Wire formats live in their own modules (`anthropic` for the Messages API,
//! `openai` for Chat Completions); what they share (the policed HTTP client, SSE framing with an
//! idle timeout, error bodies, secret redaction) in `transport`; the card capability probe in
//! `probe`.

mod accumulate;
pub mod anthropic;
mod error;
pub mod openai;
pub mod probe;
mod transport;
mod types;

pub use accumulate::{OutputBlock, ResponseBuilder};
pub use error::{ModelError, ModelErrorKind};
pub use transport::{http_client, redact};
pub use types::{
    EventStream, Message, ModelRequest, Part, Role, StopReason, StreamEvent, ThinkingConfig,
    ToolSpec, Usage,
};

use async_trait::async_trait;

/// A model provider.
#[async_trait]
pub trait ModelClient: Send + Sync {
    /// Starts a streaming request. Errors before the first byte (bad status, unreachable host)
    /// are returned here; errors mid-stream arrive as `Err` items of the stream.
    async fn stream(&self, request: &ModelRequest) -> Result<EventStream, ModelError>;
}
