//! The Messages API wire format: request bodies out, stream frames in.

use serde_json::{Map, Value, json};

use crate::types::{Message, ModelRequest, Part, Role, StopReason, StreamEvent, Usage};
use crate::{ModelError, ModelErrorKind};
use berth_sse::Frame;

/// The request body for `POST /v1/messages`.
pub fn request_body(request: &ModelRequest, caching: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        let mut block = json!({"type": "text", "text": system});
        if caching {
            block["cache_control"] = json!({"type": "ephemeral"});
        }
        body.insert("system".into(), json!([block]));
    }
    let mut messages: Vec<Value> = request.messages.iter().map(message).collect();
    if caching {
        mark_last_block(&mut messages);
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let mut tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        if caching && let Some(last) = tools.last_mut() {
            last["cache_control"] = json!({"type": "ephemeral"});
        }
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(thinking) = request.thinking {
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": thinking.budget_tokens}),
        );
    }
    Value::Object(body)
}

/// Puts a cache breakpoint on the last cacheable block of the last message (thinking blocks
/// cannot carry one).
fn mark_last_block(messages: &mut [Value]) {
    let Some(content) = messages
        .last_mut()
        .and_then(|m| m.get_mut("content"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    if let Some(block) = content.iter_mut().rev().find(|b| {
        !matches!(
            b.get("type").and_then(Value::as_str),
            Some("thinking" | "redacted_thinking")
        )
    }) {
        block["cache_control"] = json!({"type": "ephemeral"});
    }
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    // Thinking without a signature (from another provider) cannot be sent back to Anthropic.
    let content: Vec<Value> = m
        .content
        .iter()
        .filter(|p| !matches!(p, Part::Thinking { signature, .. } if signature.is_empty()))
        .map(part)
        .collect();
    json!({"role": role, "content": content})
}

fn part(p: &Part) -> Value {
    match p {
        Part::Text(text) => json!({"type": "text", "text": text}),
        Part::Thinking { text, signature } => {
            json!({"type": "thinking", "thinking": text, "signature": signature})
        }
        Part::RedactedThinking(data) => json!({"type": "redacted_thinking", "data": data}),
        Part::ToolUse { id, name, input } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": input})
        }
        Part::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut v = json!({
                "type": "tool_result",
                "tool_use_id": tool_use_id,
                "content": content.iter().map(part).collect::<Vec<_>>(),
            });
            if *is_error {
                v["is_error"] = json!(true);
            }
            v
        }
        Part::Image(source) => json!({"type": "image", "source": source}),
        Part::Document(document) => {
            let mut v = document.clone();
            v["type"] = json!("document");
            v
        }
    }
}

/// Turns stream frames into [`StreamEvent`]s, tracking usage across `message_start` and
/// `message_delta`.
#[derive(Debug, Default)]
pub struct StreamParser {
    usage: Usage,
    stop_reason: Option<StopReason>,
    done: bool,
}

impl StreamParser {
    pub fn done(&self) -> bool {
        self.done
    }

    pub fn frame(&mut self, frame: &Frame) -> Vec<Result<StreamEvent, ModelError>> {
        if frame.data_str().is_empty() {
            return Vec::new();
        }
        let Ok(data) = serde_json::from_str::<Value>(frame.data_str()) else {
            return vec![Err(ModelError::new(
                ModelErrorKind::Protocol,
                "the model stream sent a frame that is not JSON",
            ))];
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(frame.event.as_deref())
            .unwrap_or("");
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        let text =
            |key: &str, v: &Value| v.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        match kind {
            "message_start" => {
                if let Some(usage) = data.pointer("/message/usage") {
                    self.merge_usage(usage);
                }
                Vec::new()
            }
            "content_block_start" => {
                let block = data.get("content_block").cloned().unwrap_or(Value::Null);
                let event = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let initial = text("text", &block);
                        let mut out = vec![Ok(StreamEvent::TextStart { index })];
                        if !initial.is_empty() {
                            out.push(Ok(StreamEvent::TextDelta {
                                index,
                                text: initial,
                            }));
                        }
                        return out;
                    }
                    Some("thinking") => StreamEvent::ThinkingStart { index },
                    Some("redacted_thinking") => StreamEvent::RedactedThinking {
                        index,
                        data: text("data", &block),
                    },
                    Some("tool_use") => StreamEvent::ToolUseStart {
                        index,
                        id: text("id", &block),
                        name: text("name", &block),
                    },
                    _ => return Vec::new(),
                };
                vec![Ok(event)]
            }
            "content_block_delta" => {
                let delta = data.get("delta").cloned().unwrap_or(Value::Null);
                let event = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => StreamEvent::TextDelta {
                        index,
                        text: text("text", &delta),
                    },
                    Some("thinking_delta") => StreamEvent::ThinkingDelta {
                        index,
                        text: text("thinking", &delta),
                    },
                    Some("signature_delta") => StreamEvent::SignatureDelta {
                        index,
                        signature: text("signature", &delta),
                    },
                    Some("input_json_delta") => StreamEvent::ToolInputDelta {
                        index,
                        partial_json: text("partial_json", &delta),
                    },
                    _ => return Vec::new(),
                };
                vec![Ok(event)]
            }
            "content_block_stop" => vec![Ok(StreamEvent::BlockStop { index })],
            "message_delta" => {
                if let Some(usage) = data.get("usage") {
                    self.merge_usage(usage);
                }
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(stop_reason(reason));
                }
                Vec::new()
            }
            "message_stop" => {
                self.done = true;
                vec![Ok(StreamEvent::Done {
                    stop_reason: self.stop_reason.clone().unwrap_or(StopReason::EndTurn),
                    usage: self.usage,
                })]
            }
            "error" => {
                let error_type = data
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let message = data
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the model stream reported an error");
                let kind = match error_type {
                    "overloaded_error" => ModelErrorKind::Overloaded,
                    "rate_limit_error" => ModelErrorKind::RateLimited,
                    "api_error" | "timeout_error" => ModelErrorKind::Server,
                    "authentication_error" | "permission_error" => ModelErrorKind::Authentication,
                    "billing_error" => ModelErrorKind::Billing,
                    _ => ModelErrorKind::InvalidRequest,
                };
                vec![Err(ModelError::new(
                    kind,
                    format!("{error_type}: {message}"),
                ))]
            }
            _ => Vec::new(),
        }
    }

    /// Providers report some counts at the start and the rest (or updates) at the end.
    fn merge_usage(&mut self, usage: &Value) {
        let get = |key: &str| usage.get(key).and_then(Value::as_u64);
        if let Some(v) = get("input_tokens") {
            self.usage.input_tokens = v;
        }
        if let Some(v) = get("output_tokens") {
            self.usage.output_tokens = v;
        }
        if let Some(v) = get("cache_read_input_tokens") {
            self.usage.cache_read_input_tokens = v;
        }
        if let Some(v) = get("cache_creation_input_tokens") {
            self.usage.cache_creation_input_tokens = v;
        }
    }
}

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "tool_use" => StopReason::ToolUse,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "refusal" => StopReason::Refusal,
        "pause_turn" => StopReason::PauseTurn,
        other => StopReason::Other(other.to_owned()),
    }
}
