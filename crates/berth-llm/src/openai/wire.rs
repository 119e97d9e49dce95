//! The Chat Completions wire format: request bodies out, stream chunks in.
//!
//! Streamed chunks carry text in `delta.content`, reasoning in `delta.reasoning_content` (vLLM,
//! DeepSeek) or `delta.reasoning` (OpenRouter), and tool calls as fragments keyed by
//! `delta.tool_calls[].index` whose `arguments` arrive in pieces. Usage comes in a last chunk
//! (requested with `stream_options.include_usage`), and `[DONE]` ends the stream. Block indexes
//! are assigned here in order of first appearance so they are contiguous like Anthropic's.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Dialect;
use crate::types::{Message, ModelRequest, Part, Role, StopReason, StreamEvent, Usage};
use crate::{ModelError, ModelErrorKind};
use berth_sse::Frame;

pub fn request_body(request: &ModelRequest, dialect: Dialect) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    let limit_key = match dialect {
        Dialect::OpenAi => "max_completion_tokens",
        Dialect::Compatible => "max_tokens",
    };
    body.insert(limit_key.into(), json!(request.max_tokens));
    if let Some(thinking) = &request.thinking {
        body.insert(
            "reasoning_effort".into(),
            json!(reasoning_effort(thinking.budget_tokens)),
        );
    }
    let mut messages = Vec::new();
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        push_message(&mut messages, m);
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    Value::Object(body)
}

/// The Chat Completions reasoning level closest to a thinking budget.
fn reasoning_effort(budget_tokens: u32) -> &'static str {
    match budget_tokens {
        0..=2_048 => "low",
        2_049..=8_192 => "medium",
        _ => "high",
    }
}

fn text_of(parts: &[Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn push_message(out: &mut Vec<Value>, m: &Message) {
    match m.role {
        Role::Assistant => {
            let text = text_of(&m.content);
            let calls: Vec<Value> = m
                .content
                .iter()
                .filter_map(|p| match p {
                    Part::ToolUse { id, name, input } => Some(json!({
                        "id": id, "type": "function",
                        "function": {"name": name, "arguments": input.to_string()}
                    })),
                    _ => None,
                })
                .collect();
            let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
            if !calls.is_empty() {
                message["tool_calls"] = Value::Array(calls);
            }
            out.push(message);
        }
        Role::User => {
            // Tool results become `tool` messages, which must directly follow the call.
            for p in &m.content {
                if let Part::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } = p
                {
                    let mut text = text_of(content);
                    if *is_error && !text.starts_with("Error") {
                        text = format!("Error: {text}");
                    }
                    out.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": text}));
                }
            }
            let parts: Vec<Value> = m.content.iter().filter_map(user_part).collect();
            if !parts.is_empty() {
                out.push(json!({"role": "user", "content": parts}));
            }
        }
    }
}

fn user_part(p: &Part) -> Option<Value> {
    match p {
        Part::Text(t) => Some(json!({"type": "text", "text": t})),
        Part::Image(source) => {
            let url = match source.get("type").and_then(Value::as_str) {
                Some("base64") => format!(
                    "data:{};base64,{}",
                    source
                        .get("media_type")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png"),
                    source.get("data").and_then(Value::as_str).unwrap_or("")
                ),
                _ => source
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            };
            Some(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        Part::Document(document) => {
            let title = document
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("document");
            let text = match document.pointer("/source/type").and_then(Value::as_str) {
                Some("text") => document
                    .pointer("/source/data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                _ => "(this model cannot read attached documents)".to_owned(),
            };
            Some(json!({"type": "text", "text": format!("[{title}]\n{text}")}))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reasoning,
    Text,
    Tool(u64),
}

/// Parses chunks, allocating contiguous block indexes as blocks first appear.
#[derive(Debug, Default)]
pub struct StreamParser {
    blocks: Vec<Kind>,
    open: BTreeMap<usize, ()>,
    usage: Usage,
    stop_reason: Option<StopReason>,
    done: bool,
}

impl StreamParser {
    pub fn done(&self) -> bool {
        self.done
    }

    fn index_of(&mut self, kind: Kind) -> (usize, bool) {
        if let Some(i) = self.blocks.iter().position(|k| *k == kind) {
            return (i, false);
        }
        self.blocks.push(kind);
        let i = self.blocks.len() - 1;
        self.open.insert(i, ());
        (i, true)
    }

    pub fn frame(&mut self, frame: &Frame) -> Vec<Result<StreamEvent, ModelError>> {
        let data = frame.data_str().trim();
        if data.is_empty() {
            return Vec::new();
        }
        if data == "[DONE]" {
            return self.finish();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return vec![Err(ModelError::new(
                ModelErrorKind::Protocol,
                "the model stream sent a chunk that is not JSON",
            ))];
        };
        if let Some(error) = chunk.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the model stream reported an error");
            return vec![Err(ModelError::new(
                ModelErrorKind::Server,
                message.to_owned(),
            ))];
        }
        let mut out = Vec::new();
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let get = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            let cached = usage
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            self.usage = Usage {
                input_tokens: get("prompt_tokens").saturating_sub(cached),
                output_tokens: get("completion_tokens"),
                cache_read_input_tokens: cached,
                cache_creation_input_tokens: 0,
            };
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return out;
        };
        let delta = choice.get("delta").cloned().unwrap_or(Value::Null);
        for key in ["reasoning_content", "reasoning"] {
            if let Some(text) = delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                let (index, new) = self.index_of(Kind::Reasoning);
                if new {
                    out.push(Ok(StreamEvent::ThinkingStart { index }));
                }
                out.push(Ok(StreamEvent::ThinkingDelta {
                    index,
                    text: text.to_owned(),
                }));
            }
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let (index, new) = self.index_of(Kind::Text);
            if new {
                out.push(Ok(StreamEvent::TextStart { index }));
            }
            out.push(Ok(StreamEvent::TextDelta {
                index,
                text: text.to_owned(),
            }));
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                let n = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let (index, new) = self.index_of(Kind::Tool(n));
                if new {
                    out.push(Ok(StreamEvent::ToolUseStart {
                        index,
                        id: call
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        name: call
                            .pointer("/function/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    }));
                }
                if let Some(args) = call
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .filter(|a| !a.is_empty())
                {
                    out.push(Ok(StreamEvent::ToolInputDelta {
                        index,
                        partial_json: args.to_owned(),
                    }));
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(match reason {
                "stop" => StopReason::EndTurn,
                "tool_calls" | "function_call" => StopReason::ToolUse,
                "length" => StopReason::MaxTokens,
                "content_filter" => StopReason::Refusal,
                other => StopReason::Other(other.to_owned()),
            });
        }
        out
    }

    fn finish(&mut self) -> Vec<Result<StreamEvent, ModelError>> {
        self.done = true;
        let mut out: Vec<Result<StreamEvent, ModelError>> = self
            .open
            .keys()
            .map(|&index| Ok(StreamEvent::BlockStop { index }))
            .collect();
        self.open.clear();
        out.push(Ok(StreamEvent::Done {
            stop_reason: self.stop_reason.clone().unwrap_or(StopReason::EndTurn),
            usage: self.usage,
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(parser: &mut StreamParser, data: &str) -> Vec<StreamEvent> {
        parser
            .frame(&Frame {
                data: Some(data.to_owned()),
                ..Frame::default()
            })
            .into_iter()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn fragments_assemble_into_blocks_with_usage() {
        let mut p = StreamParser::default();
        let mut all = Vec::new();
        for chunk in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":3}}}"#,
            "[DONE]",
        ] {
            all.extend(feed(&mut p, chunk));
        }
        let mut builder = crate::ResponseBuilder::new();
        for e in &all {
            builder.apply(e);
        }
        let (blocks, stop, usage) = builder.finish();
        assert_eq!(stop, Some(StopReason::ToolUse));
        assert_eq!(usage.input_tokens, 7);
        assert_eq!(usage.cache_read_input_tokens, 3);
        assert_eq!(usage.output_tokens, 4);
        assert_eq!(
            blocks,
            vec![
                crate::OutputBlock::Thinking {
                    text: "hm".into(),
                    signature: String::new()
                },
                crate::OutputBlock::Text("Hi".into()),
                crate::OutputBlock::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                    input: json!({"a": 1})
                },
            ]
        );
    }

    #[test]
    fn requests_carry_tools_results_and_the_right_limit() {
        let request = ModelRequest {
            model: "gpt-test".into(),
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Part::Text("go".into())],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![Part::ToolUse {
                        id: "c1".into(),
                        name: "f".into(),
                        input: json!({"a": 1}),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![Part::ToolResult {
                        tool_use_id: "c1".into(),
                        content: vec![Part::Text("ok".into())],
                        is_error: false,
                    }],
                },
            ],
            tools: vec![crate::ToolSpec {
                name: "f".into(),
                description: "d".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: 100,
            thinking: None,
        };
        let body = request_body(&request, Dialect::OpenAi);
        assert_eq!(body["max_completion_tokens"], 100);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "sys"})
        );
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "ok"})
        );
        assert_eq!(body["tools"][0]["function"]["name"], "f");
        assert_eq!(
            request_body(&request, Dialect::Compatible)["max_tokens"],
            100
        );
    }
}
