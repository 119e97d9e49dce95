//! The OpenAI Chat Completions wire format: `chat.completion.chunk` SSE data lines ending in
//! `[DONE]`, with tool-call arguments in fragments, reasoning as `reasoning_content` (as vLLM
//! and DeepSeek send it) and usage in a last chunk when `stream_options.include_usage` is set;
//! whole `chat.completion` objects for non-streaming calls; `{"error":{…}}` bodies.

use bytes::Bytes;
use serde_json::{Value, json};

use super::script::{Block, FakeUsage, ScriptedMessage, chunks};

const ID: &str = "chatcmpl-fake";
const CREATED: u64 = 1_764_000_000;

pub fn error_body(error_type: &str, message: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": error_type, "param": null, "code": code}})
}

fn finish_reason(stop_reason: &str) -> &str {
    match stop_reason {
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

fn usage_json(u: FakeUsage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens + u.cache_read_input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.cache_read_input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Bytes {
    let data = json!({
        "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null
    });
    Bytes::from(format!("data: {data}\n\n"))
}

fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// The first chunk, then an error chunk: a failure mid-stream.
pub fn stream_error_frames(model: &str, error_type: &str, message: &str) -> Vec<Option<Bytes>> {
    let error = error_body(error_type, message, None);
    vec![
        Some(chunk(
            model,
            json!({"role": "assistant", "content": ""}),
            None,
        )),
        Some(Bytes::from(format!("data: {error}\n\n"))),
    ]
}

/// The chunks of a scripted message; `None` marks where the stream hangs.
pub fn message_frames(model: &str, m: &ScriptedMessage, include_usage: bool) -> Vec<Option<Bytes>> {
    let mut out = vec![Some(chunk(
        model,
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    ))];
    let mut deltas = 0usize;
    let mut tool_index = 0usize;
    for block in &m.blocks {
        match block {
            Block::Thinking { text, .. } => {
                for piece in chunks(text, m.chunk_chars) {
                    out.push(Some(chunk(
                        model,
                        json!({"reasoning_content": piece}),
                        None,
                    )));
                }
            }
            Block::Text(text) => {
                for piece in chunks(text, m.chunk_chars) {
                    if m.hang_after_deltas == Some(deltas) {
                        out.push(None);
                        return out;
                    }
                    out.push(Some(chunk(model, json!({"content": piece}), None)));
                    deltas += 1;
                }
            }
            Block::ToolUse { id, name, input } => {
                out.push(Some(chunk(
                    model,
                    json!({"tool_calls": [{"index": tool_index, "id": id, "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}),
                    None,
                )));
                for piece in chunks(&input.to_string(), 7) {
                    out.push(Some(chunk(
                        model,
                        json!({"tool_calls": [{"index": tool_index, "function": {"arguments": piece}}]}),
                        None,
                    )));
                }
                tool_index += 1;
            }
        }
    }
    if m.hang_after_deltas.is_some_and(|n| n >= deltas) {
        out.push(None);
        return out;
    }
    out.push(Some(chunk(
        model,
        json!({}),
        Some(finish_reason(&m.stop_reason)),
    )));
    if include_usage {
        let data = json!({
            "id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "system_fingerprint": "fp_fake", "choices": [], "usage": usage_json(m.usage)
        });
        out.push(Some(Bytes::from(format!("data: {data}\n\n"))));
    }
    out.push(Some(done()));
    out
}

/// A non-streaming answer (what capability probes receive).
pub fn whole_completion(model: &str, m: &ScriptedMessage) -> Value {
    let text: String = m
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = m
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse { id, name, input } => Some(json!({
                "id": id, "type": "function",
                "function": {"name": name, "arguments": input.to_string()}
            })),
            _ => None,
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": ID, "object": "chat.completion", "created": CREATED, "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": null,
                     "finish_reason": finish_reason(&m.stop_reason)}],
        "usage": usage_json(m.usage)
    })
}

/// The text of the last user message (string or content parts).
pub fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// How OpenAI shows a rejected key: masked, but its head and tail are visible.
pub fn masked_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(6).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}
