//! Answers to `always_ask` tool calls. A call that needs confirmation ends its turn with
//! `requires_action`; the client's `user.tool_confirmation` starts the next one, which first
//! runs every allowed call (or records the denial as an error result) before the model is
//! asked to continue.

use std::collections::HashMap;

use berth_protocol::agent_tools::mcp_tool_name;
use berth_protocol::content::ContentBlock;
use berth_protocol::event::{Confirmation, EventBody};
use tokio_util::sync::CancellationToken;

use crate::step::result_event;
use crate::tools::{ToolCall, ToolOutcome};
use crate::{LogEvent, TurnConfig, TurnEnd, TurnHost};

/// A call waiting for confirmation, and whether it is an MCP call.
type Waiting = (ToolCall, bool);

/// Calls waiting for confirmation that now have an answer, in the order they were made.
fn answered(log: &[LogEvent]) -> Vec<(Waiting, Confirmation, Option<String>)> {
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut answers: HashMap<&str, (Confirmation, Option<String>)> = HashMap::new();
    for entry in log {
        match &entry.event.body {
            EventBody::AgentToolUse {
                name,
                input,
                evaluated_permission,
                ..
            } if evaluated_permission.as_deref() == Some("ask") => waiting.push((
                ToolCall {
                    event_id: entry.event.id.clone(),
                    name: name.clone(),
                    input: input.clone(),
                },
                false,
            )),
            EventBody::AgentMcpToolUse {
                mcp_server_name,
                name,
                input,
                evaluated_permission,
                ..
            } if evaluated_permission.as_deref() == Some("ask") => waiting.push((
                ToolCall {
                    event_id: entry.event.id.clone(),
                    name: mcp_tool_name(mcp_server_name, name),
                    input: input.clone(),
                },
                true,
            )),
            EventBody::AgentToolResult { tool_use_id, .. }
            | EventBody::UserToolResult { tool_use_id, .. }
            | EventBody::AgentMcpToolResult {
                mcp_tool_use_id: tool_use_id,
                ..
            } => {
                waiting.retain(|(c, _)| c.event_id != *tool_use_id);
            }
            EventBody::UserToolConfirmation {
                tool_use_id,
                result,
                deny_message,
            } => {
                answers.insert(tool_use_id, (*result, deny_message.clone()));
            }
            _ => {}
        }
    }
    waiting
        .into_iter()
        .filter_map(|call| {
            let (result, message) = answers.get(call.0.event_id.as_str())?.clone();
            Some((call, result, message))
        })
        .collect()
}

/// Runs or refuses every confirmed call. Returns whether anything was written.
pub(crate) async fn resolve(
    host: &dyn TurnHost,
    config: &TurnConfig,
    log: &[LogEvent],
    cancel: &CancellationToken,
) -> Result<bool, TurnEnd> {
    let calls = answered(log);
    for ((call, is_mcp), result, deny_message) in &calls {
        let event = match result {
            Confirmation::Deny => {
                let reason = deny_message
                    .as_deref()
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or("The user denied this tool call.");
                result_event(
                    *is_mcp,
                    &call.event_id,
                    vec![ContentBlock::text(format!("Denied: {reason}"))],
                    true,
                )
            }
            Confirmation::Allow if cancel.is_cancelled() => result_event(
                *is_mcp,
                &call.event_id,
                vec![ContentBlock::text(
                    "Error: the turn was interrupted before this tool ran.",
                )],
                true,
            ),
            Confirmation::Allow => match config.tools.execute(call, cancel).await {
                ToolOutcome::Done { content, is_error } => {
                    result_event(*is_mcp, &call.event_id, content, is_error)
                }
                ToolOutcome::Pending => continue,
            },
        };
        host.append(vec![event], None)
            .await
            .map_err(TurnEnd::Host)?;
    }
    Ok(!calls.is_empty())
}
