//! One step of a turn: a model request, streamed, then the durable events it produced and the
//! results of the tools it called.

mod streamed;

use berth_llm::{
    ModelError, ModelRequest, OutputBlock, StopReason as ModelStop, StreamEvent, ThinkingConfig,
    Usage,
};
use berth_protocol::agent::EffortLevel;
use berth_protocol::agent_tools::PermissionPolicy;
use berth_protocol::content::ContentBlock;
use berth_protocol::event::{Event, EventBody, EventPrivate, ModelUsage, StopReason};
use berth_protocol::ids::{new_id, prefix};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::live::StreamStatus;
use crate::tools::{ToolCall, ToolKind, ToolOutcome};
use crate::{DEFAULT_MAX_TOKENS, Emitted, LogEvent, ResolvedModel, TurnConfig, TurnEnd, TurnHost};
use streamed::Streamed;

pub(crate) enum StepOutcome {
    Continue,
    End(TurnEnd),
}

fn event(body: EventBody) -> Event {
    Event {
        id: new_id(prefix::EVENT),
        body,
    }
}

fn model_usage(u: Usage) -> ModelUsage {
    ModelUsage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens,
    }
}

fn span_end(start_id: &str, usage: Usage, is_error: bool) -> Emitted {
    Emitted::public(event(EventBody::SpanModelRequestEnd {
        model_request_start_id: start_id.to_owned(),
        model_usage: model_usage(usage),
        is_error: is_error.then_some(true),
    }))
}

/// Thinking budget per effort level; the output limit is raised to leave room for the answer.
fn thinking_for(effort: Option<EffortLevel>) -> (Option<ThinkingConfig>, u32) {
    let budget = match effort {
        None => return (None, DEFAULT_MAX_TOKENS),
        Some(EffortLevel::Low) => 2_048,
        Some(EffortLevel::Medium) => 8_192,
        Some(EffortLevel::High) => 16_384,
        Some(EffortLevel::Xhigh) => 32_768,
        Some(EffortLevel::Max) => 63_999,
    };
    (
        Some(ThinkingConfig {
            budget_tokens: budget,
        }),
        budget + DEFAULT_MAX_TOKENS,
    )
}

pub(crate) async fn run(
    host: &dyn TurnHost,
    config: &TurnConfig,
    model: &ResolvedModel,
    log: &[LogEvent],
    cancel: &CancellationToken,
) -> StepOutcome {
    let effort = config
        .agent
        .model
        .effort
        .map(|e| e.kind)
        .filter(|_| model.supports_thinking);
    let (thinking, max_tokens) = thinking_for(effort);
    let mut messages = crate::fitting::project_fitted(log, model.context_window as usize);
    crate::attachments::resolve(host, &mut messages).await;
    let request = ModelRequest {
        model: model.model.clone(),
        system: config.system_prompt.clone(),
        messages,
        tools: config.tools.specs(),
        max_tokens,
        thinking,
    };
    let start = event(EventBody::SpanModelRequestStart {});
    let start_id = start.id.clone();
    if let Err(e) = host.append(vec![Emitted::public(start)], None).await {
        return StepOutcome::End(TurnEnd::Host(e));
    }
    let opened = tokio::select! {
        () = cancel.cancelled() => None,
        result = model.client.stream(&request) => Some(result),
    };
    let mut stream = match opened {
        None => return finish_interrupted(host, &start_id, Streamed::new(host)).await,
        Some(Err(e)) => return fail(host, &start_id, Usage::default(), e).await,
        Some(Ok(stream)) => stream,
    };
    let mut streamed = Streamed::new(host);
    loop {
        let item = tokio::select! {
            () = cancel.cancelled() => return finish_interrupted(host, &start_id, streamed).await,
            item = stream.next() => item,
        };
        match item {
            Some(Ok(ev)) => {
                let done = matches!(ev, StreamEvent::Done { .. });
                streamed.observe(&ev).await;
                if done {
                    break;
                }
            }
            Some(Err(e)) => {
                streamed.close_all(StreamStatus::Aborted);
                return fail(host, &start_id, streamed.builder.usage(), e).await;
            }
            None => {
                streamed.close_all(StreamStatus::Aborted);
                let e = ModelError::new(
                    berth_llm::ModelErrorKind::Connection,
                    "the model stream ended without finishing",
                );
                return fail(host, &start_id, streamed.builder.usage(), e).await;
            }
        }
    }
    complete(host, config, &start_id, streamed, cancel).await
}

/// A failed request: the span closes as an error and nothing partial enters the context, so a
/// retry starts clean.
async fn fail(host: &dyn TurnHost, start_id: &str, usage: Usage, error: ModelError) -> StepOutcome {
    let usage_total = model_usage(usage);
    match host
        .append(vec![span_end(start_id, usage, true)], Some(usage_total))
        .await
    {
        Ok(()) => StepOutcome::End(TurnEnd::ModelFailed(error)),
        Err(e) => StepOutcome::End(TurnEnd::Host(e)),
    }
}

/// An interrupted request: what the client already saw is kept as the message.
async fn finish_interrupted(
    host: &dyn TurnHost,
    start_id: &str,
    mut streamed: Streamed<'_>,
) -> StepOutcome {
    streamed.close_all(StreamStatus::Interrupted);
    let usage = streamed.builder.usage();
    let text = streamed.builder.partial_text();
    let mut events = Vec::new();
    if !text.is_empty() {
        events.push(Emitted::public(Event {
            id: streamed.message_id.clone(),
            body: EventBody::AgentMessage {
                content: vec![ContentBlock::text(text)],
            },
        }));
    }
    events.push(span_end(start_id, usage, false));
    match host.append(events, Some(model_usage(usage))).await {
        Ok(()) => StepOutcome::End(TurnEnd::Interrupted),
        Err(e) => StepOutcome::End(TurnEnd::Host(e)),
    }
}

async fn complete(
    host: &dyn TurnHost,
    config: &TurnConfig,
    start_id: &str,
    streamed: Streamed<'_>,
    cancel: &CancellationToken,
) -> StepOutcome {
    let message_id = streamed.message_id.clone();
    let thinking_ids = streamed.thinking_ids.clone();
    let tool_ids = streamed.tool_ids.clone();
    let (blocks, stop, usage) = streamed.builder.finish();
    let mut thinking = Vec::new();
    let mut text = Vec::new();
    let mut calls = Vec::new();
    for (position, block) in blocks.into_iter().enumerate() {
        match block {
            OutputBlock::Thinking { text: t, signature } => thinking.push(Emitted {
                event: Event {
                    id: thinking_ids
                        .get(&position)
                        .cloned()
                        .unwrap_or_else(|| new_id(prefix::EVENT)),
                    body: EventBody::AgentThinking {},
                },
                private: EventPrivate {
                    thinking: Some(t),
                    signature: Some(signature),
                    ..Default::default()
                },
            }),
            OutputBlock::RedactedThinking(data) => thinking.push(Emitted {
                event: event(EventBody::AgentThinking {}),
                private: EventPrivate {
                    redacted_thinking: Some(data),
                    ..Default::default()
                },
            }),
            OutputBlock::Text(t) => {
                if !t.is_empty() {
                    text.push(ContentBlock::text(t));
                }
            }
            OutputBlock::ToolUse { id, name, input } => {
                let event_id = tool_ids
                    .values()
                    .find(|(provider_id, _)| *provider_id == id)
                    .map(|(_, event_id)| event_id.clone())
                    .unwrap_or_else(|| new_id(prefix::EVENT));
                calls.push(ToolCall {
                    event_id,
                    name,
                    input,
                });
            }
        }
    }
    let mut events = thinking;
    if !text.is_empty() {
        events.push(Emitted::public(Event {
            id: message_id,
            body: EventBody::AgentMessage { content: text },
        }));
    }
    let mut results = Vec::new();
    for call in &calls {
        let kind = config.tools.kind(&call.name);
        let body = match &kind {
            ToolKind::Custom => EventBody::AgentCustomToolUse {
                name: call.name.clone(),
                input: call.input.clone(),
            },
            ToolKind::Server => {
                let (evaluated, evaluation) = evaluate(config.tools.permission(&call.name));
                EventBody::AgentToolUse {
                    name: call.name.clone(),
                    input: call.input.clone(),
                    evaluated_permission: Some(evaluated.to_owned()),
                    evaluation: Some(evaluation),
                }
            }
            ToolKind::Mcp { server, tool } => {
                let (evaluated, evaluation) = evaluate(config.tools.permission(&call.name));
                EventBody::AgentMcpToolUse {
                    mcp_server_name: server.clone(),
                    name: tool.clone(),
                    input: call.input.clone(),
                    evaluated_permission: Some(evaluated.to_owned()),
                    evaluation: Some(evaluation),
                }
            }
            // Refused before any policy applied: `deny`, and no evaluation.
            ToolKind::Unknown => EventBody::AgentToolUse {
                name: call.name.clone(),
                input: call.input.clone(),
                evaluated_permission: Some("deny".to_owned()),
                evaluation: None,
            },
        };
        events.push(Emitted::public(Event {
            id: call.event_id.clone(),
            body,
        }));
        if kind == ToolKind::Unknown {
            results.push(tool_result(
                &call.event_id,
                vec![ContentBlock::text(format!(
                    "Error: there is no tool named \"{}\" available to this agent.",
                    call.name
                ))],
                true,
            ));
        }
    }
    events.push(span_end(start_id, usage, false));
    if let Err(e) = host.append(events, Some(model_usage(usage))).await {
        return StepOutcome::End(TurnEnd::Host(e));
    }
    let stop = stop.unwrap_or(ModelStop::EndTurn);
    if stop == ModelStop::MaxTokens {
        // A cut-off answer may hold a half-written tool call; nothing of it is run.
        return StepOutcome::End(TurnEnd::OutputLimit);
    }
    if calls.is_empty() {
        return StepOutcome::End(TurnEnd::Idle(match stop {
            ModelStop::Refusal => StopReason::Refusal,
            _ => StopReason::EndTurn,
        }));
    }
    let mut pending = Vec::new();
    for call in &calls {
        let kind = config.tools.kind(&call.name);
        let is_mcp = matches!(kind, ToolKind::Mcp { .. });
        match kind {
            ToolKind::Unknown => {}
            ToolKind::Custom => pending.push(call.event_id.clone()),
            ToolKind::Server | ToolKind::Mcp { .. }
                if config.tools.permission(&call.name) == PermissionPolicy::AlwaysAsk =>
            {
                pending.push(call.event_id.clone());
            }
            ToolKind::Server | ToolKind::Mcp { .. } if cancel.is_cancelled() => {
                results.push(result_event(
                    is_mcp,
                    &call.event_id,
                    vec![ContentBlock::text(
                        "Error: the turn was interrupted before this tool ran.",
                    )],
                    true,
                ))
            }
            ToolKind::Server | ToolKind::Mcp { .. } => {
                match config.tools.execute(call, cancel).await {
                    ToolOutcome::Pending => pending.push(call.event_id.clone()),
                    ToolOutcome::Done { content, is_error } => {
                        results.push(result_event(is_mcp, &call.event_id, content, is_error));
                    }
                }
            }
        }
    }
    if !results.is_empty()
        && let Err(e) = host.append(results, None).await
    {
        return StepOutcome::End(TurnEnd::Host(e));
    }
    if cancel.is_cancelled() {
        return StepOutcome::End(TurnEnd::Interrupted);
    }
    if pending.is_empty() {
        StepOutcome::Continue
    } else {
        StepOutcome::End(TurnEnd::Idle(StopReason::RequiresAction {
            event_ids: pending,
        }))
    }
}

/// The `evaluated_permission` and `evaluation` a policy gives a call. Berth has no per-call
/// judge yet, so `auto` allows every call (and says so).
fn evaluate(policy: PermissionPolicy) -> (&'static str, serde_json::Value) {
    match policy {
        PermissionPolicy::AlwaysAllow => ("allow", serde_json::json!({"type": "always_allow"})),
        PermissionPolicy::AlwaysAsk => ("ask", serde_json::json!({"type": "always_ask"})),
        PermissionPolicy::Auto => (
            "allow",
            serde_json::json!({"type": "auto", "evaluated_permission": {"type": "allow"}}),
        ),
    }
}

pub(crate) fn tool_result(
    tool_use_id: &str,
    content: Vec<ContentBlock>,
    is_error: bool,
) -> Emitted {
    Emitted::public(event(EventBody::AgentToolResult {
        tool_use_id: tool_use_id.to_owned(),
        content: Some(content),
        is_error: is_error.then_some(true),
    }))
}

/// The result event of a call: `agent.mcp_tool_result` for MCP tools, else `agent.tool_result`.
pub(crate) fn result_event(
    is_mcp: bool,
    tool_use_id: &str,
    content: Vec<ContentBlock>,
    is_error: bool,
) -> Emitted {
    if !is_mcp {
        return tool_result(tool_use_id, content, is_error);
    }
    Emitted::public(event(EventBody::AgentMcpToolResult {
        mcp_tool_use_id: tool_use_id.to_owned(),
        content: Some(content),
        is_error: is_error.then_some(true),
    }))
}

/// Tool-use events after the latest user message that still lack a result.
pub fn unanswered_calls(log: &[LogEvent]) -> Vec<String> {
    let mut open: Vec<String> = Vec::new();
    for entry in log {
        match &entry.event.body {
            EventBody::UserMessage { .. } => open.clear(),
            EventBody::AgentToolUse { .. }
            | EventBody::AgentCustomToolUse { .. }
            | EventBody::AgentMcpToolUse { .. } => {
                open.push(entry.event.id.clone());
            }
            EventBody::AgentToolResult { tool_use_id, .. }
            | EventBody::UserToolResult { tool_use_id, .. }
            | EventBody::AgentMcpToolResult {
                mcp_tool_use_id: tool_use_id,
                ..
            } => open.retain(|id| id != tool_use_id),
            EventBody::UserCustomToolResult {
                custom_tool_use_id, ..
            } => open.retain(|id| id != custom_tool_use_id),
            _ => {}
        }
    }
    open
}
