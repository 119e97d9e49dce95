//! The Anthropic Messages wire format: `message_start` … `message_stop` SSE frames, whole
//! messages for non-streaming calls, and `{"type":"error","error":{…}}` bodies.

use bytes::Bytes;
use serde_json::{Value, json};

use super::script::{Block, FakeUsage, ScriptedMessage, chunks};

pub fn error_body(error_type: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

fn message_start(model: &str, usage: FakeUsage) -> Value {
    json!({"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "content": [], "model": model,
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1,
                  "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                  "cache_read_input_tokens": usage.cache_read_input_tokens}}})
}

fn frame(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// `message_start` then an `event: error` frame: a failure mid-stream.
pub fn stream_error_frames(model: &str, error_type: &str, message: &str) -> Vec<Option<Bytes>> {
    vec![
        Some(frame(
            "message_start",
            &message_start(model, FakeUsage::default()),
        )),
        Some(frame("error", &error_body(error_type, message))),
    ]
}

/// The frames of a scripted message; `None` marks where the stream hangs.
pub fn message_frames(model: &str, m: &ScriptedMessage) -> Vec<Option<Bytes>> {
    let mut out = vec![Some(frame("message_start", &message_start(model, m.usage)))];
    let mut deltas = 0usize;
    for (index, block) in m.blocks.iter().enumerate() {
        match block {
            Block::Text(text) => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))));
                for piece in chunks(text, m.chunk_chars) {
                    if m.hang_after_deltas == Some(deltas) {
                        out.push(None);
                        return out;
                    }
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}))));
                    deltas += 1;
                }
            }
            Block::Thinking { text, signature } => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))));
                for piece in chunks(text, m.chunk_chars) {
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}}))));
                }
                out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": signature}}))));
            }
            Block::ToolUse { id, name, input } => {
                out.push(Some(frame("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}))));
                for piece in chunks(&input.to_string(), 10) {
                    out.push(Some(frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}))));
                }
            }
        }
        out.push(Some(frame(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )));
    }
    if m.hang_after_deltas.is_some_and(|n| n >= deltas) {
        out.push(None);
        return out;
    }
    out.push(Some(frame("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": m.stop_reason, "stop_sequence": null}, "usage": {"output_tokens": m.usage.output_tokens}}))));
    out.push(Some(frame(
        "message_stop",
        &json!({"type": "message_stop"}),
    )));
    out
}

/// A non-streaming answer (what capability probes receive).
pub fn whole_message(model: &str, m: &ScriptedMessage) -> Value {
    let content: Vec<Value> = m
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) => json!({"type": "text", "text": t}),
            Block::Thinking { text, signature } => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect();
    json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": m.stop_reason, "stop_sequence": null,
           "usage": {"input_tokens": m.usage.input_tokens, "output_tokens": m.usage.output_tokens,
                     "cache_creation_input_tokens": m.usage.cache_creation_input_tokens,
                     "cache_read_input_tokens": m.usage.cache_read_input_tokens}})
}

/// The text of the last user message's text blocks.
pub fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return String::new();
    };
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}
