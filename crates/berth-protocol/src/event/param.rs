//! What clients send: `POST /v1/sessions/{id}/events` and the events it may carry, with their
//! checks and their stored form.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Confirmation, EventBody, SessionEvent};
use crate::content::{Allowed, ContentBlock, TextOnly, validate_blocks};
use crate::validation::{Validated, ValidationError, check_len};

/// `POST /v1/sessions/{id}/events`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SendEventsRequest {
    pub events: Vec<EventParam>,
}

/// One event a client may send.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum EventParam {
    #[serde(rename = "user.message")]
    UserMessage { content: Vec<ContentBlock> },
    #[serde(rename = "user.interrupt")]
    UserInterrupt {
        #[serde(default)]
        session_thread_id: Option<String>,
    },
    #[serde(rename = "user.tool_confirmation")]
    UserToolConfirmation {
        tool_use_id: String,
        result: Confirmation,
        #[serde(default)]
        deny_message: Option<String>,
    },
    #[serde(rename = "user.custom_tool_result")]
    UserCustomToolResult {
        custom_tool_use_id: String,
        #[serde(default)]
        content: Option<Vec<ContentBlock>>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    #[serde(rename = "user.tool_result")]
    UserToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Vec<ContentBlock>>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    #[serde(rename = "user.define_outcome")]
    UserDefineOutcome {
        description: String,
        #[schema(value_type = Object)]
        rubric: Value,
        #[serde(default)]
        max_iterations: Option<u32>,
    },
    #[serde(rename = "system.message")]
    SystemMessage { content: Vec<TextOnly> },
}

/// The reply to `POST /v1/sessions/{id}/events`: the events as stored, in order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SendEventsResponse {
    pub data: Vec<SessionEvent>,
}

/// Longest `deny_message`.
pub const MAX_DENY_MESSAGE_CHARS: usize = 10_000;

impl EventParam {
    /// Checks the event on its own; whether it fits the session's state is the server's call.
    pub fn validate(&self) -> Validated {
        match self {
            EventParam::UserMessage { content } => validate_blocks(content, Allowed::Message, true),
            EventParam::UserInterrupt { .. } => Ok(()),
            EventParam::UserToolConfirmation {
                tool_use_id,
                result,
                deny_message,
            } => {
                check_len("tool_use_id", tool_use_id, 1, 256)?;
                if let Some(message) = deny_message {
                    if *result == Confirmation::Allow {
                        return Err(ValidationError::new(
                            "deny_message",
                            "is only allowed when result is \"deny\"",
                        ));
                    }
                    check_len("deny_message", message, 0, MAX_DENY_MESSAGE_CHARS)?;
                }
                Ok(())
            }
            EventParam::UserCustomToolResult {
                custom_tool_use_id: id,
                content,
                ..
            }
            | EventParam::UserToolResult {
                tool_use_id: id,
                content,
                ..
            } => {
                check_len("tool_use_id", id, 1, 256)?;
                validate_blocks(
                    content.as_deref().unwrap_or(&[]),
                    Allowed::ToolResult,
                    false,
                )
            }
            EventParam::UserDefineOutcome { .. } => Err(ValidationError::new(
                "type",
                "user.define_outcome is not supported by this server yet",
            )),
            EventParam::SystemMessage { content } => {
                if content.is_empty() {
                    return Err(ValidationError::new(
                        "content",
                        "must hold at least one block",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The stored form of this event.
    pub fn into_body(self) -> EventBody {
        match self {
            EventParam::UserMessage { content } => EventBody::UserMessage { content },
            EventParam::UserInterrupt { session_thread_id } => {
                EventBody::UserInterrupt { session_thread_id }
            }
            EventParam::UserToolConfirmation {
                tool_use_id,
                result,
                deny_message,
            } => EventBody::UserToolConfirmation {
                tool_use_id,
                result,
                deny_message,
            },
            EventParam::UserCustomToolResult {
                custom_tool_use_id,
                content,
                is_error,
            } => EventBody::UserCustomToolResult {
                custom_tool_use_id,
                content,
                is_error,
            },
            EventParam::UserToolResult {
                tool_use_id,
                content,
                is_error,
            } => EventBody::UserToolResult {
                tool_use_id,
                content,
                is_error,
            },
            EventParam::UserDefineOutcome {
                description,
                rubric,
                max_iterations,
            } => EventBody::Other(serde_json::json!({
                "type": "user.define_outcome",
                "description": description,
                "rubric": rubric,
                "max_iterations": max_iterations,
            })),
            EventParam::SystemMessage { content } => EventBody::SystemMessage { content },
        }
    }
}
