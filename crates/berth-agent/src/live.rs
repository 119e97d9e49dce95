//! Live deltas: transient events for clients watching a turn as it streams. None is stored.
//!
//! Two audiences, two shapes. *Previews* are the contract's opt-in (`event_deltas[]`):
//! `event_start` then `event_delta`s, closed by the final durable event with the same id.
//! *Chunks* are the seed's opt-in (`include=chunks`), with OMA's names:
//! `agent.message_stream_start` / `agent.message_chunk` / `agent.message_stream_end` and their
//! thinking and tool-input counterparts.

use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `event_deltas[]=agent.message` subscribers.
    MessagePreview,
    /// `event_deltas[]=agent.thinking` subscribers.
    ThinkingPreview,
    /// `include=chunks` subscribers.
    Chunks,
}

/// One transient frame: its SSE event name and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDelta {
    pub audience: Audience,
    pub event_type: &'static str,
    pub json: String,
}

impl LiveDelta {
    fn new(audience: Audience, event_type: &'static str, value: serde_json::Value) -> Self {
        Self {
            audience,
            event_type,
            json: value.to_string(),
        }
    }

    pub fn preview_start(kind: &str, id: &str) -> Self {
        let audience = if kind == "agent.thinking" {
            Audience::ThinkingPreview
        } else {
            Audience::MessagePreview
        };
        Self::new(
            audience,
            "event_start",
            json!({"type": "event_start", "event": {"type": kind, "id": id}}),
        )
    }

    pub fn preview_delta(id: &str, index: usize, text: &str) -> Self {
        Self::new(
            Audience::MessagePreview,
            "event_delta",
            json!({"type": "event_delta", "event_id": id,
                   "delta": {"type": "content_delta", "index": index, "content": {"type": "text", "text": text}}}),
        )
    }

    pub fn message_stream_start(message_id: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.message_stream_start",
            json!({"type": "agent.message_stream_start", "message_id": message_id}),
        )
    }

    pub fn message_chunk(message_id: &str, delta: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.message_chunk",
            json!({"type": "agent.message_chunk", "message_id": message_id, "delta": delta}),
        )
    }

    pub fn message_stream_end(message_id: &str, status: StreamStatus) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.message_stream_end",
            json!({"type": "agent.message_stream_end", "message_id": message_id, "status": status.as_str()}),
        )
    }

    pub fn thinking_stream_start(thinking_id: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.thinking_stream_start",
            json!({"type": "agent.thinking_stream_start", "thinking_id": thinking_id}),
        )
    }

    pub fn thinking_chunk(thinking_id: &str, delta: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.thinking_chunk",
            json!({"type": "agent.thinking_chunk", "thinking_id": thinking_id, "delta": delta}),
        )
    }

    pub fn thinking_stream_end(thinking_id: &str, status: StreamStatus) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.thinking_stream_end",
            json!({"type": "agent.thinking_stream_end", "thinking_id": thinking_id, "status": status.as_str()}),
        )
    }

    pub fn tool_input_start(tool_use_id: &str, tool_name: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.tool_use_input_stream_start",
            json!({"type": "agent.tool_use_input_stream_start", "tool_use_id": tool_use_id, "tool_name": tool_name}),
        )
    }

    pub fn tool_input_chunk(tool_use_id: &str, delta: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.tool_use_input_chunk",
            json!({"type": "agent.tool_use_input_chunk", "tool_use_id": tool_use_id, "delta": delta}),
        )
    }

    pub fn tool_input_end(tool_use_id: &str, status: StreamStatus) -> Self {
        Self::new(
            Audience::Chunks,
            "agent.tool_use_input_stream_end",
            json!({"type": "agent.tool_use_input_stream_end", "tool_use_id": tool_use_id, "status": status.as_str()}),
        )
    }
}

/// How a streamed block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Completed,
    Aborted,
    Interrupted,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Completed => "completed",
            StreamStatus::Aborted => "aborted",
            StreamStatus::Interrupted => "interrupted",
        }
    }
}
