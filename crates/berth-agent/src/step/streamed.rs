//! The live-stream tracker for one step: ids handed to live subscribers and the partial text
//! checkpointed for crash recovery.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use berth_llm::{ResponseBuilder, StreamEvent};
use berth_protocol::event::EventKind;
use berth_protocol::ids::{new_id, prefix};

use crate::TurnHost;
use crate::live::{LiveDelta, StreamStatus};

/// How often streamed text is checkpointed for crash recovery.
const PARTIAL_SAVE_INTERVAL: Duration = Duration::from_millis(250);

/// Tracks what has streamed so far: ids handed out to live subscribers, and the text to
/// checkpoint.
pub(super) struct Streamed<'a> {
    host: &'a dyn TurnHost,
    pub(super) builder: ResponseBuilder,
    /// The id the step's `agent.message` will have (previews announce it early).
    pub(super) message_id: String,
    message_started: bool,
    /// Provider block index → ordinal among text blocks (the preview's `index`).
    text_ordinals: HashMap<usize, usize>,
    /// Provider block index → the `agent.thinking` event id.
    pub(super) thinking_ids: HashMap<usize, String>,
    /// Provider block index → (provider tool id, event id).
    pub(super) tool_ids: HashMap<usize, (String, String)>,
    last_saved: Instant,
    saved_len: usize,
}

impl<'a> Streamed<'a> {
    pub(super) fn new(host: &'a dyn TurnHost) -> Self {
        Self {
            host,
            builder: ResponseBuilder::new(),
            message_id: new_id(prefix::EVENT),
            message_started: false,
            text_ordinals: HashMap::new(),
            thinking_ids: HashMap::new(),
            tool_ids: HashMap::new(),
            last_saved: Instant::now(),
            saved_len: 0,
        }
    }

    pub(super) async fn observe(&mut self, ev: &StreamEvent) {
        self.builder.apply(ev);
        match ev {
            StreamEvent::TextStart { index } => {
                let ordinal = self.text_ordinals.len();
                self.text_ordinals.insert(*index, ordinal);
                if !self.message_started {
                    self.message_started = true;
                    self.host
                        .publish(LiveDelta::preview_start("agent.message", &self.message_id));
                    self.host
                        .publish(LiveDelta::message_stream_start(&self.message_id));
                }
            }
            StreamEvent::TextDelta { index, text } => {
                if !self.message_started {
                    self.message_started = true;
                    self.host
                        .publish(LiveDelta::preview_start("agent.message", &self.message_id));
                    self.host
                        .publish(LiveDelta::message_stream_start(&self.message_id));
                }
                let next = self.text_ordinals.len();
                let ordinal = *self.text_ordinals.entry(*index).or_insert(next);
                self.host
                    .publish(LiveDelta::preview_delta(&self.message_id, ordinal, text));
                self.host
                    .publish(LiveDelta::message_chunk(&self.message_id, text));
                self.checkpoint().await;
            }
            StreamEvent::ThinkingStart { index } => {
                let id = new_id(prefix::EVENT);
                self.host
                    .publish(LiveDelta::preview_start("agent.thinking", &id));
                self.host.publish(LiveDelta::thinking_stream_start(&id));
                self.thinking_ids.insert(*index, id);
            }
            StreamEvent::ThinkingDelta { index, text } => {
                if let Some(id) = self.thinking_ids.get(index) {
                    self.host.publish(LiveDelta::thinking_chunk(id, text));
                }
            }
            StreamEvent::ToolUseStart { index, id, name } => {
                let event_id = new_id(prefix::EVENT);
                self.host
                    .publish(LiveDelta::tool_input_start(&event_id, name));
                self.tool_ids.insert(*index, (id.clone(), event_id));
            }
            StreamEvent::ToolInputDelta {
                index,
                partial_json,
            } => {
                if let Some((_, event_id)) = self.tool_ids.get(index) {
                    self.host
                        .publish(LiveDelta::tool_input_chunk(event_id, partial_json));
                }
            }
            StreamEvent::BlockStop { index } => {
                if let Some(id) = self.thinking_ids.get(index) {
                    self.host
                        .publish(LiveDelta::thinking_stream_end(id, StreamStatus::Completed));
                }
                if let Some((_, event_id)) = self.tool_ids.get(index) {
                    self.host
                        .publish(LiveDelta::tool_input_end(event_id, StreamStatus::Completed));
                }
            }
            StreamEvent::Done { .. } => {
                if self.message_started {
                    self.host.publish(LiveDelta::message_stream_end(
                        &self.message_id,
                        StreamStatus::Completed,
                    ));
                }
            }
            StreamEvent::SignatureDelta { .. } | StreamEvent::RedactedThinking { .. } => {}
        }
    }

    /// Closes every open stream for chunk subscribers (the step ended early).
    pub(super) fn close_all(&mut self, status: StreamStatus) {
        if self.message_started {
            self.host
                .publish(LiveDelta::message_stream_end(&self.message_id, status));
            self.message_started = false;
        }
        for id in self.thinking_ids.values() {
            self.host
                .publish(LiveDelta::thinking_stream_end(id, status));
        }
        for (_, event_id) in self.tool_ids.values() {
            self.host
                .publish(LiveDelta::tool_input_end(event_id, status));
        }
    }

    async fn checkpoint(&mut self) {
        if self.last_saved.elapsed() < PARTIAL_SAVE_INTERVAL {
            return;
        }
        let text = self.builder.partial_text();
        if text.len() == self.saved_len {
            return;
        }
        self.saved_len = text.len();
        self.last_saved = Instant::now();
        self.host
            .save_partial(&self.message_id, EventKind::AgentMessage, &text)
            .await;
    }
}
