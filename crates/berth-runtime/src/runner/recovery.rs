//! Closing a turn whose runner stopped mid-way (a crash, `kill -9`, a lost replica).
//!
//! Nothing is re-run: text that had streamed is kept as the message, an open model request is
//! closed as failed, a server tool call without a result gets an error result (it may or may not
//! have run), and the session says what happened and goes idle. Queued messages then run as
//! usual.

use std::collections::HashSet;

use berth_agent::LogEvent;
use berth_protocol::content::ContentBlock;
use berth_protocol::event::{Event, EventBody, EventKind, ModelUsage, StopReason};
use berth_store::{ContextScope, Lease};
use serde_json::json;

use super::Runner;
use super::turn::{finish, idle, session_error};
use crate::log::{parse, server_side};

const INTERRUPTED_TOOL: &str = "The server stopped while this tool call was running; it may or may not have completed. \
     Check its effects before retrying.";
const INTERRUPTED_TURN: &str = "The server stopped while this turn was running, so the turn was interrupted. Send another \
     message to continue.";

pub(super) async fn recover(runner: &Runner, lease: &Lease) {
    let session_id = &lease.session_id;
    // What the interrupted turn wrote to its outputs folder is kept as files.
    runner
        .tools
        .sync_outputs(
            std::sync::Arc::clone(&runner.store),
            &lease.tenant_id,
            session_id,
        )
        .await;
    let log: Vec<LogEvent> = match runner
        .store
        .context_events(session_id, 0, ContextScope::All)
        .await
    {
        Ok(rows) => rows.iter().filter_map(parse).collect(),
        Err(e) => {
            tracing::warn!(session_id, error = %e, "cannot read the log to recover");
            return;
        }
    };
    let start = log
        .iter()
        .rposition(|e| matches!(e.event.body, EventBody::SessionStatusRunning {}))
        .unwrap_or(0);
    let tail = log.get(start..).unwrap_or(&[]);
    let known: HashSet<&str> = tail.iter().map(|e| e.event.id.as_str()).collect();
    let mut events = Vec::new();

    let buffers = runner
        .store
        .stream_buffers(session_id)
        .await
        .unwrap_or_default();
    let mut kept = Vec::new();
    for buffer in buffers {
        if buffer.kind == EventKind::AgentMessage
            && !buffer.text.is_empty()
            && !known.contains(buffer.event_id.as_str())
        {
            kept.push(buffer.event_id.clone());
            let event = Event {
                id: buffer.event_id,
                body: EventBody::AgentMessage {
                    content: vec![ContentBlock::text(buffer.text)],
                },
            };
            events.push(event);
        }
    }

    let ended: HashSet<&str> = tail
        .iter()
        .filter_map(|e| match &e.event.body {
            EventBody::SpanModelRequestEnd {
                model_request_start_id,
                ..
            } => Some(model_request_start_id.as_str()),
            _ => None,
        })
        .collect();
    for e in tail {
        if matches!(e.event.body, EventBody::SpanModelRequestStart {})
            && !ended.contains(e.event.id.as_str())
        {
            events.push(server_side(EventBody::SpanModelRequestEnd {
                model_request_start_id: e.event.id.clone(),
                model_usage: ModelUsage::default(),
                is_error: Some(true),
            }));
        }
    }

    let mut answered: HashSet<&str> = HashSet::new();
    for e in tail {
        match &e.event.body {
            EventBody::AgentToolResult { tool_use_id, .. }
            | EventBody::UserToolResult { tool_use_id, .. }
            | EventBody::AgentMcpToolResult {
                mcp_tool_use_id: tool_use_id,
                ..
            } => {
                answered.insert(tool_use_id);
            }
            EventBody::UserCustomToolResult {
                custom_tool_use_id, ..
            } => {
                answered.insert(custom_tool_use_id);
            }
            _ => {}
        }
    }
    let mut waiting_on_client = Vec::new();
    for e in tail {
        if answered.contains(e.event.id.as_str()) {
            continue;
        }
        match &e.event.body {
            EventBody::AgentToolUse { .. } => {
                events.push(server_side(EventBody::AgentToolResult {
                    tool_use_id: e.event.id.clone(),
                    content: Some(vec![ContentBlock::text(INTERRUPTED_TOOL)]),
                    is_error: Some(true),
                }))
            }
            EventBody::AgentMcpToolUse { .. } => {
                events.push(server_side(EventBody::AgentMcpToolResult {
                    mcp_tool_use_id: e.event.id.clone(),
                    content: Some(vec![ContentBlock::text(INTERRUPTED_TOOL)]),
                    is_error: Some(true),
                }))
            }
            EventBody::AgentCustomToolUse { .. } => waiting_on_client.push(e.event.id.clone()),
            _ => {}
        }
    }

    events.push(session_error("unknown_error", INTERRUPTED_TURN));
    events.push(server_side(EventBody::SessionWarning {
        source: "turn_interrupted".to_owned(),
        message: INTERRUPTED_TURN.to_owned(),
        details: Some(json!({"partial_message_ids": kept})),
    }));
    events.push(idle(if waiting_on_client.is_empty() {
        StopReason::EndTurn
    } else {
        StopReason::RequiresAction {
            event_ids: waiting_on_client,
        }
    }));
    tracing::info!(session_id, "recovered an interrupted turn");
    finish(runner, lease, events).await;
}
