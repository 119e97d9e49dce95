//! Session events (contract §7): what clients send, and every event Berth stores and streams.
//!
//! A stored event is `{"id", "type", …fields}`; the server adds `processed_at` and `seq` when it
//! renders one, because those change (a queued input is processed later) or are assigned by the
//! log. Extension events that are not part of the contract's union (`session.warning`) are only
//! shown to clients that opt in.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::content::{ContentBlock, TextOnly};

mod kind;
mod param;
pub use kind::EventKind;
pub use param::{EventParam, MAX_DENY_MESSAGE_CHARS, SendEventsRequest, SendEventsResponse};

/// Most events one `POST …/events` may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 50;

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    Allow,
    Deny,
}

// --------------------------------------------------------------- the log

/// A stored event: its id and its typed body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// An event as the API shows it in lists, streams and the reply to a send: the stored event
/// plus `processed_at` (null while a queued input waits for its turn) and `seq`, its place in
/// the session's log. The server appends those two fields to the stored JSON as it renders, so
/// this type describes the shape for the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionEvent {
    pub id: String,
    #[serde(flatten)]
    pub body: EventBody,
    #[schema(required = true)]
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub seq: u64,
}

/// Every event Berth writes to a session's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum EventBody {
    #[serde(rename = "user.message")]
    UserMessage { content: Vec<ContentBlock> },
    #[serde(rename = "user.interrupt")]
    UserInterrupt {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "user.tool_confirmation")]
    UserToolConfirmation {
        tool_use_id: String,
        result: Confirmation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deny_message: Option<String>,
    },
    #[serde(rename = "user.custom_tool_result")]
    UserCustomToolResult {
        custom_tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentBlock>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    #[serde(rename = "user.tool_result")]
    UserToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentBlock>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    #[serde(rename = "system.message")]
    SystemMessage { content: Vec<TextOnly> },
    #[serde(rename = "agent.message")]
    AgentMessage { content: Vec<ContentBlock> },
    /// The thinking text itself is private to the log (see `EventPrivate`), never shown.
    #[serde(rename = "agent.thinking")]
    AgentThinking {},
    #[serde(rename = "agent.tool_use")]
    AgentToolUse {
        name: String,
        #[schema(value_type = Object)]
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evaluated_permission: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        evaluation: Option<Value>,
    },
    #[serde(rename = "agent.tool_result")]
    AgentToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentBlock>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    #[serde(rename = "agent.custom_tool_use")]
    AgentCustomToolUse { name: String, input: Value },
    /// A call of a tool of one of the agent's MCP servers; `name` is the server's own name for
    /// the tool.
    #[serde(rename = "agent.mcp_tool_use")]
    AgentMcpToolUse {
        mcp_server_name: String,
        name: String,
        #[schema(value_type = Object)]
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evaluated_permission: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        evaluation: Option<Value>,
    },
    #[serde(rename = "agent.mcp_tool_result")]
    AgentMcpToolResult {
        mcp_tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Vec<ContentBlock>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    #[serde(rename = "agent.thread_context_compacted")]
    AgentThreadContextCompacted {},
    #[serde(rename = "session.status_running")]
    SessionStatusRunning {},
    #[serde(rename = "session.status_idle")]
    SessionStatusIdle {
        stop_reason: StopReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        stop_details: Option<Value>,
    },
    #[serde(rename = "session.status_rescheduled")]
    SessionStatusRescheduled {},
    #[serde(rename = "session.status_terminated")]
    SessionStatusTerminated {},
    #[serde(rename = "session.error")]
    SessionError { error: SessionErrorObject },
    /// Only what changed: `agent` as the full resolved snapshot, `budget` (`null` when it was
    /// removed), `metadata` when set to a non-empty value, `title`.
    #[serde(rename = "session.updated")]
    SessionUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        agent: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        budget: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        metadata: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        title: Option<Value>,
    },
    #[serde(rename = "session.deleted")]
    SessionDeleted {},
    /// Extension: something a watcher should know that is not an error of the turn.
    #[serde(rename = "session.warning")]
    SessionWarning {
        source: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        details: Option<Value>,
    },
    #[serde(rename = "span.model_request_start")]
    SpanModelRequestStart {},
    #[serde(rename = "span.model_request_end")]
    SpanModelRequestEnd {
        model_request_start_id: String,
        model_usage: ModelUsage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// Any other type, kept verbatim (future or foreign events).
    #[serde(untagged)]
    #[schema(value_type = Object)]
    Other(Value),
}

impl EventBody {
    /// The `type` string.
    pub fn type_name(&self) -> &str {
        match self {
            EventBody::UserMessage { .. } => "user.message",
            EventBody::UserInterrupt { .. } => "user.interrupt",
            EventBody::UserToolConfirmation { .. } => "user.tool_confirmation",
            EventBody::UserCustomToolResult { .. } => "user.custom_tool_result",
            EventBody::UserToolResult { .. } => "user.tool_result",
            EventBody::SystemMessage { .. } => "system.message",
            EventBody::AgentMessage { .. } => "agent.message",
            EventBody::AgentThinking {} => "agent.thinking",
            EventBody::AgentToolUse { .. } => "agent.tool_use",
            EventBody::AgentToolResult { .. } => "agent.tool_result",
            EventBody::AgentCustomToolUse { .. } => "agent.custom_tool_use",
            EventBody::AgentMcpToolUse { .. } => "agent.mcp_tool_use",
            EventBody::AgentMcpToolResult { .. } => "agent.mcp_tool_result",
            EventBody::AgentThreadContextCompacted {} => "agent.thread_context_compacted",
            EventBody::SessionStatusRunning {} => "session.status_running",
            EventBody::SessionStatusIdle { .. } => "session.status_idle",
            EventBody::SessionStatusRescheduled {} => "session.status_rescheduled",
            EventBody::SessionStatusTerminated {} => "session.status_terminated",
            EventBody::SessionError { .. } => "session.error",
            EventBody::SessionUpdated { .. } => "session.updated",
            EventBody::SessionDeleted {} => "session.deleted",
            EventBody::SessionWarning { .. } => "session.warning",
            EventBody::SpanModelRequestStart {} => "span.model_request_start",
            EventBody::SpanModelRequestEnd { .. } => "span.model_request_end",
            EventBody::Other(fields) => fields.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The `type` as a value.
    pub fn kind(&self) -> EventKind {
        EventKind::parse(self.type_name())
    }

    /// Inputs wait in the queue until a turn picks them up; everything else is processed at once.
    pub fn is_queued_input(&self) -> bool {
        self.kind().is_queued_input()
    }
}

/// Why a session went idle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    RequiresAction { event_ids: Vec<String> },
    RetriesExhausted,
    BudgetReached,
    Refusal,
}

/// Token counts of one model request (`span.model_request_end.model_usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

/// `session.error.error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionErrorObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub retry_status: RetryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RetryStatus {
    Retrying,
    Exhausted,
    Terminal,
}

/// Parts of an event that the log keeps for rebuilding model context but never shows: thinking
/// text and its signature must go back to the provider verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPrivate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_thinking: Option<String>,
    /// `agent.thread_context_compacted`: the summary that replaces the older context…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// …which covers everything up to and including this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_through: Option<String>,
}

impl EventPrivate {
    pub fn is_empty(&self) -> bool {
        *self == EventPrivate::default()
    }
}

/// Every event type of the contract's union (what the default stream and list carry).
pub const CONTRACT_EVENT_TYPES: &[&str] = &[
    "user.message",
    "user.interrupt",
    "user.tool_confirmation",
    "user.custom_tool_result",
    "user.tool_result",
    "user.define_outcome",
    "system.message",
    "agent.message",
    "agent.thinking",
    "agent.tool_use",
    "agent.tool_result",
    "agent.mcp_tool_use",
    "agent.mcp_tool_result",
    "agent.custom_tool_use",
    "agent.thread_message_sent",
    "agent.thread_message_received",
    "agent.thread_context_compacted",
    "session.status_running",
    "session.status_rescheduled",
    "session.status_terminated",
    "session.status_idle",
    "session.error",
    "session.updated",
    "session.usage",
    "session.deleted",
    "session.thread_created",
    "session.thread_status_running",
    "session.thread_status_rescheduled",
    "session.thread_status_terminated",
    "session.thread_status_idle",
    "span.model_request_start",
    "span.model_request_end",
    "span.outcome_evaluation_start",
    "span.outcome_evaluation_ongoing",
    "span.outcome_evaluation_end",
    "workflow_run.created",
    "workflow_run.status_running",
    "workflow_run.status_idle",
    "workflow_run.phase_started",
    "workflow_run.phase_ended",
    "workflow_run.status_ended",
    "workflow_run.error",
];

pub fn is_contract_type(kind: &str) -> bool {
    CONTRACT_EVENT_TYPES.contains(&kind)
}

#[cfg(test)]
mod tests;
