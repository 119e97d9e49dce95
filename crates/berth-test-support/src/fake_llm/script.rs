//! What the fake answers: scripted replies, in code or as JSON from other languages' tests.

use std::time::Duration;

use serde_json::{Value, json};

/// One block of a scripted assistant message.
#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    /// Anthropic `thinking` with its signature; on Chat Completions, `reasoning_content`.
    Thinking {
        text: String,
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// What the fake answers to one request.
#[derive(Debug, Clone)]
pub enum ModelReply {
    /// A streamed message.
    Message(ScriptedMessage),
    /// An HTTP error with the provider's JSON error body.
    Error {
        status: u16,
        error_type: String,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// A failure after the stream started (`event: error` on Anthropic, an `error` chunk on
    /// Chat Completions).
    StreamError { error_type: String, message: String },
}

#[derive(Debug, Clone)]
pub struct ScriptedMessage {
    pub blocks: Vec<Block>,
    /// Anthropic's `stop_reason` (`end_turn`, `tool_use`, `max_tokens`, `refusal`); mapped to a
    /// `finish_reason` on Chat Completions.
    pub stop_reason: String,
    pub usage: FakeUsage,
    /// Pause between streamed frames.
    pub frame_delay: Duration,
    /// Characters per text delta.
    pub chunk_chars: usize,
    /// Stop sending (but keep the connection open) after this many text deltas.
    pub hang_after_deltas: Option<usize>,
}

/// Token counts in Anthropic's terms: `input_tokens` excludes cached tokens. On Chat
/// Completions `prompt_tokens` is their sum and `cached_tokens` the cache reads.
#[derive(Debug, Clone, Copy)]
pub struct FakeUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Default for FakeUsage {
    fn default() -> Self {
        Self {
            input_tokens: 12,
            output_tokens: 7,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
        }
    }
}

impl ModelReply {
    pub fn text(text: impl Into<String>) -> Self {
        Self::message(vec![Block::Text(text.into())], "end_turn")
    }

    pub fn message(blocks: Vec<Block>, stop_reason: &str) -> Self {
        ModelReply::Message(ScriptedMessage {
            blocks,
            stop_reason: stop_reason.to_owned(),
            usage: FakeUsage::default(),
            frame_delay: Duration::ZERO,
            chunk_chars: 8,
            hang_after_deltas: None,
        })
    }

    pub fn thinking_then_text(thinking: &str, signature: &str, text: &str) -> Self {
        Self::message(
            vec![
                Block::Thinking {
                    text: thinking.to_owned(),
                    signature: signature.to_owned(),
                },
                Block::Text(text.to_owned()),
            ],
            "end_turn",
        )
    }

    pub fn tool_use(id: &str, name: &str, input: Value) -> Self {
        Self::message(
            vec![Block::ToolUse {
                id: id.to_owned(),
                name: name.to_owned(),
                input,
            }],
            "tool_use",
        )
    }

    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        ModelReply::Error {
            status,
            error_type: error_type.to_owned(),
            message: message.to_owned(),
            retry_after_secs: None,
        }
    }

    /// A 429 that asks the client to wait `secs` seconds.
    pub fn rate_limited(secs: u64) -> Self {
        ModelReply::Error {
            status: 429,
            error_type: "rate_limit_error".to_owned(),
            message: "Number of request tokens has exceeded your per-minute rate limit".to_owned(),
            retry_after_secs: Some(secs),
        }
    }

    /// Anthropic's 529 `overloaded_error`.
    pub fn overloaded() -> Self {
        Self::error(529, "overloaded_error", "Overloaded")
    }

    pub fn stream_error(error_type: &str, message: &str) -> Self {
        ModelReply::StreamError {
            error_type: error_type.to_owned(),
            message: message.to_owned(),
        }
    }

    fn scripted(&mut self) -> Option<&mut ScriptedMessage> {
        match self {
            ModelReply::Message(m) => Some(m),
            _ => None,
        }
    }

    /// Waits this long between streamed frames.
    pub fn with_frame_delay(mut self, delay: Duration) -> Self {
        if let Some(m) = self.scripted() {
            m.frame_delay = delay;
        }
        self
    }

    /// Stops streaming after `deltas` text deltas and holds the connection open.
    pub fn hanging_after(mut self, deltas: usize) -> Self {
        if let Some(m) = self.scripted() {
            m.hang_after_deltas = Some(deltas);
        }
        self
    }

    pub fn with_usage(mut self, usage: FakeUsage) -> Self {
        if let Some(m) = self.scripted() {
            m.usage = usage;
        }
        self
    }

    pub fn with_chunk_chars(mut self, chars: usize) -> Self {
        if let Some(m) = self.scripted() {
            m.chunk_chars = chars.max(1);
        }
        self
    }
}

pub(crate) fn chunks(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

fn block_from_json(v: &Value) -> Option<Block> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(match v.get("type")?.as_str()? {
        "text" => Block::Text(text("text")?),
        "thinking" => Block::Thinking {
            text: text("thinking")?,
            signature: text("signature").unwrap_or_else(|| "sig".to_owned()),
        },
        "tool_use" => Block::ToolUse {
            id: text("id")?,
            name: text("name")?,
            input: v.get("input").cloned().unwrap_or_else(|| json!({})),
        },
        _ => return None,
    })
}

/// One reply from JSON: `{"type":"text","text"}`, `{"type":"tool_use","id","name","input"}`,
/// `{"type":"message","blocks":[…],"stop_reason","frame_delay_ms"?}` with blocks of type
/// `text`, `thinking` (`thinking`, `signature`) or `tool_use`, and
/// `{"type":"error","status","error_type","message","retry_after"?}`.
pub(crate) fn reply_from_json(v: &Value) -> Option<ModelReply> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(match v.get("type")?.as_str()? {
        "text" => ModelReply::text(text("text")?),
        "tool_use" => ModelReply::tool_use(
            &text("id")?,
            &text("name")?,
            v.get("input").cloned().unwrap_or_else(|| json!({})),
        ),
        "message" => {
            let blocks = v
                .get("blocks")?
                .as_array()?
                .iter()
                .map(block_from_json)
                .collect::<Option<Vec<_>>>()?;
            let stop = text("stop_reason").unwrap_or_else(|| "end_turn".to_owned());
            let delay = v.get("frame_delay_ms").and_then(Value::as_u64).unwrap_or(0);
            ModelReply::message(blocks, &stop).with_frame_delay(Duration::from_millis(delay))
        }
        "error" => ModelReply::Error {
            status: u16::try_from(v.get("status")?.as_u64()?).ok()?,
            error_type: text("error_type")?,
            message: text("message").unwrap_or_default(),
            retry_after_secs: v.get("retry_after").and_then(Value::as_u64),
        },
        _ => return None,
    })
}
