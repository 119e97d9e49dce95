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

    /// `include=chunks`: a client input was stored and waits in the session's queue.
    pub fn input_pending(
        event_id: &str,
        seq: i64,
        enqueued_at_ms: i64,
        event: serde_json::Value,
    ) -> Self {
        Self::new(
            Audience::Chunks,
            "system.user_message_pending",
            json!({"type": "system.user_message_pending", "event_id": event_id, "pending_seq": seq,
                   "enqueued_at": enqueued_at_ms, "session_thread_id": null, "event": event}),
        )
    }

    /// `include=chunks`: a turn took a queued input.
    pub fn input_promoted(event_id: &str, seq: i64, processed_at: &str) -> Self {
        Self::new(
            Audience::Chunks,
            "system.user_message_promoted",
            json!({"type": "system.user_message_promoted", "event_id": event_id, "pending_seq": seq,
                   "seq": seq, "processed_at": processed_at, "session_thread_id": null}),
        )
    }

    /// `include=chunks`: an interrupt cancelled a queued input.
    pub fn input_cancelled(event_id: &str, seq: i64, cancelled_at_ms: i64) -> Self {
        Self::new(
            Audience::Chunks,
            "system.user_message_cancelled",
            json!({"type": "system.user_message_cancelled", "event_id": event_id, "pending_seq": seq,
                   "cancelled_at": cancelled_at_ms, "session_thread_id": null}),
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
