//! Folds a model stream into the finished assistant message.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::types::{StopReason, StreamEvent, Usage};

/// One block of the finished message, in the provider's order.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputBlock {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    RedactedThinking(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

#[derive(Debug)]
enum Building {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    Redacted(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
}

#[derive(Debug, Default)]
pub struct ResponseBuilder {
    blocks: BTreeMap<usize, Building>,
    stop_reason: Option<StopReason>,
    usage: Usage,
}

impl ResponseBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextStart { index } => {
                self.blocks.insert(*index, Building::Text(String::new()));
            }
            StreamEvent::TextDelta { index, text } => {
                if let Building::Text(t) = self
                    .blocks
                    .entry(*index)
                    .or_insert_with(|| Building::Text(String::new()))
                {
                    t.push_str(text);
                }
            }
            StreamEvent::ThinkingStart { index } => {
                self.blocks.insert(
                    *index,
                    Building::Thinking {
                        text: String::new(),
                        signature: String::new(),
                    },
                );
            }
            StreamEvent::ThinkingDelta { index, text } => {
                if let Some(Building::Thinking { text: t, .. }) = self.blocks.get_mut(index) {
                    t.push_str(text);
                }
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if let Some(Building::Thinking { signature: s, .. }) = self.blocks.get_mut(index) {
                    s.push_str(signature);
                }
            }
            StreamEvent::RedactedThinking { index, data } => {
                self.blocks.insert(*index, Building::Redacted(data.clone()));
            }
            StreamEvent::ToolUseStart { index, id, name } => {
                self.blocks.insert(
                    *index,
                    Building::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        json: String::new(),
                    },
                );
            }
            StreamEvent::ToolInputDelta {
                index,
                partial_json,
            } => {
                if let Some(Building::ToolUse { json, .. }) = self.blocks.get_mut(index) {
                    json.push_str(partial_json);
                }
            }
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Done { stop_reason, usage } => {
                self.stop_reason = Some(stop_reason.clone());
                self.usage = *usage;
            }
        }
    }

    /// All text streamed so far, joined (what a crash or interrupt would leave visible).
    pub fn partial_text(&self) -> String {
        self.blocks
            .values()
            .filter_map(|b| match b {
                Building::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("")
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// The blocks in order, the stop reason (`None` if the stream ended early) and usage.
    pub fn finish(self) -> (Vec<OutputBlock>, Option<StopReason>, Usage) {
        let blocks = self
            .blocks
            .into_values()
            .map(|b| match b {
                Building::Text(t) => OutputBlock::Text(t),
                Building::Thinking { text, signature } => OutputBlock::Thinking { text, signature },
                Building::Redacted(data) => OutputBlock::RedactedThinking(data),
                Building::ToolUse { id, name, json } => {
                    let input = if json.trim().is_empty() {
                        Value::Object(Default::default())
                    } else {
                        serde_json::from_str(&json)
                            .unwrap_or_else(|_| serde_json::json!({ "_unparsed_input": json }))
                    };
                    OutputBlock::ToolUse { id, name, input }
                }
            })
            .collect();
        (blocks, self.stop_reason, self.usage)
    }
}
